"""A corpus of hostile inputs: devices, FIFOs, huge, nested, malformed, non-UTF-8.

Each must end in one sentence and a documented exit code within seconds — never exit 3
(the "this is a bug" path), never a traceback, never a hang on a FIFO or a read of
/dev/zero without end. Each case runs the real CLI with a timeout shorter than a hang.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Result, litefix

pytestmark = pytest.mark.litestream  # diagnose and repair run the real binary (version, risks)

QUICK = 30  # seconds: far more than any case needs, far less than a hang


def wal_db(path: Path, rows: int = 3) -> Path:
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE t (x)")
    con.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(rows)])
    con.commit()
    con.close()
    return path


def assert_sentence(result: Result, allowed: tuple[int, ...] = (1, 2, 4, 5)) -> None:
    assert result.code in allowed, f"exit {result.code}: {result.out[-800:]}{result.err[-800:]}"
    assert "Traceback" not in result.err and "crashed" not in result.err, result.err
    assert "internal error" not in result.out, result.out


# --- configs ----------------------------------------------------------------------------------


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


CONFIGS: dict[str, Callable[[Path], Path | str]] = {
    "dev-zero": lambda _d: "/dev/zero",
    "dev-urandom": lambda _d: "/dev/urandom",
    "fifo": lambda d: _fifo(d / "litestream.yml"),
    "directory": lambda d: d,
    "huge": lambda d: _sparse(d / "huge.yml", 64 << 20),
    "nested-lists": lambda d: _write(d / "deep.yml", "[" * 200_000),
    "nested-maps": lambda d: _write(d / "deep.yml", "a: {" * 50_000),
    "nul-byte": lambda d: _write(d / "nul.yml", "dbs:\n  - path: /a\0b\n"),
    "not-utf8": lambda d: _write_bytes(d / "latin1.yml", b"dbs:\n  - path: /caf\xe9.db\n"),
    "alias-bomb": lambda d: _write(d / "bomb.yml", _billion_laughs()),
}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _sparse(path: Path, size: int) -> Path:
    with open(path, "wb") as fh:
        fh.truncate(size)
    return path


def _billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev = chr(ord("a") + i - 1)
        cur = chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    return "\n".join(lines) + "\ndbs: *i\n"


@pytest.mark.parametrize("case", sorted(CONFIGS))
def test_a_hostile_config_is_one_sentence_in_bounded_time(case: str, tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    where = tmp_path / "cfg"
    where.mkdir()
    config = CONFIGS[case](where)
    for command in (["diagnose", db], ["repair", db, "--strategy", "quarantine", "--dry-run"]):
        result = litefix(*command, "--config", config, timeout=QUICK)
        assert_sentence(result)
    assert db.exists()


# --- files beside the database ----------------------------------------------------------------


def test_a_fifo_wal_does_not_hang_an_integrity_check(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    Path(f"{db}-wal").unlink(missing_ok=True)
    _fifo(Path(f"{db}-wal"))
    result = litefix("diagnose", db, "--integrity", "quick", timeout=QUICK)
    assert_sentence(result)


@pytest.mark.parametrize("which", ["", "-wal", "-shm"])
def test_a_fifo_database_or_sidecar_is_refused_by_quarantine_not_hashed_forever(which: str, tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    target = Path(f"{db}{which}")
    target.unlink(missing_ok=True)
    _fifo(target)
    result = litefix("repair", db, "--strategy", "quarantine", "--yes", timeout=QUICK)
    assert_sentence(result)
    assert "FIFO" in result.out + result.err
    assert target.exists()


def test_a_device_as_the_database_is_a_sentence(tmp_path: Path) -> None:
    for args in (["diagnose", "/dev/zero"], ["diagnose", "/dev/null", "--integrity", "quick"]):
        assert_sentence(litefix(*args, timeout=QUICK))


@pytest.mark.parametrize("where", ["directory", "file"])
def test_a_database_path_that_is_not_utf8_survives_an_integrity_check(where: str, tmp_path: Path) -> None:
    odd = os.fsdecode(b"caf\xe9")
    db = tmp_path / odd / "app.db" if where == "directory" else tmp_path / f"{odd}.db"
    db.parent.mkdir(exist_ok=True)
    wal_db(db)
    result = litefix("diagnose", db, "--integrity", "quick", "--json", timeout=QUICK)
    assert_sentence(result, (0, 1))
    if where == "directory":  # SQLite opens it through /proc/self/fd; the check really ran
        integrity = next(i for i in result.json()["inspectors"] if i["name"] == "integrity")
        assert integrity["facts"]["result"] == "ok"


# --- quarantines and journals -------------------------------------------------------------------


def _quarantined(tmp_path: Path) -> tuple[Path, Path]:
    db = wal_db(tmp_path / "app.db")
    assert litefix("repair", db, "--strategy", "quarantine", "--yes").code == 0
    [qdir] = (tmp_path / ".litefix" / "quarantine").iterdir()
    return db, qdir


MANIFESTS: dict[str, Callable[[dict], object]] = {
    "missing-id": lambda m: {k: v for k, v in m.items() if k != "id"},
    "a-list": lambda m: [m],
    "a-string": lambda _m: "manifest",
    "entries-not-a-list": lambda m: {**m, "entries": 5},
    "entry-not-an-object": lambda m: {**m, "entries": ["app.db"]},
    "size-a-string": lambda m: {**m, "entries": [{**m["entries"][0], "size": "big"}]},
    "nul-in-name": lambda m: {**m, "entries": [{**m["entries"][0], "name": "app\0.db"}]},
    "unknown-kind": lambda m: {**m, "entries": [{**m["entries"][0], "kind": "device"}]},
    "dir-item-escapes": lambda m: {**m, "entries": [{**m["entries"][0], "kind": "dir", "files": [{"path": "../x"}]}]},
    "true-as-size": lambda m: {**m, "entries": [{**m["entries"][0], "size": True}]},
}


@pytest.mark.parametrize("case", [*sorted(MANIFESTS), "deeply-nested", "not-json", "fifo", "huge"])
def test_a_damaged_manifest_is_listed_as_damaged_and_refused_by_restore(case: str, tmp_path: Path) -> None:
    db, qdir = _quarantined(tmp_path)
    manifest = qdir / "manifest.json"
    original = json.loads(manifest.read_text())
    manifest.unlink()
    if case in MANIFESTS:
        manifest.write_text(json.dumps(MANIFESTS[case](original)))
    elif case == "deeply-nested":
        manifest.write_text("[" * 100_000 + "]" * 100_000)
    elif case == "not-json":
        manifest.write_bytes(b"\xff\xfe{")
    elif case == "fifo":
        _fifo(manifest)
    else:
        _sparse(manifest, 64 << 20)
    listed = litefix("quarantine", "list", db, "--json", timeout=QUICK)
    assert listed.code == 0, listed.err
    [item] = listed.json()
    assert item["id"] == qdir.name and item["damaged"], item
    back = litefix("quarantine", "restore", qdir.name, "--db", db, timeout=QUICK)
    assert_sentence(back, (2, 4, 5))
    assert not db.exists()  # nothing was put back from a manifest that cannot be trusted


def test_one_damaged_quarantine_does_not_hide_the_others(tmp_path: Path) -> None:
    db, first = _quarantined(tmp_path)
    (first / "manifest.json").write_text("{")
    wal_db(db)
    assert litefix("repair", db, "--strategy", "quarantine", "--yes").code == 0
    listed = litefix("quarantine", "list", db, "--json").json()
    assert [bool(q.get("damaged")) for q in listed] == [True, False]
    table = litefix("quarantine", "list", db)
    assert "DAMAGED" in table.out and table.code == 0


@pytest.mark.parametrize("qid", ["a" * 5000, "x\x01y", "..", "a/b", "-" * 300])
def test_an_absurd_quarantine_id_is_a_usage_error(qid: str, tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    result = litefix("quarantine", "restore", qid, "--db", db, timeout=QUICK)
    assert_sentence(result, (2, 5))
    assert len(result.err) < 1000


def test_a_files_directory_replaced_by_a_symlink_out_of_the_quarantine_is_refused(tmp_path: Path) -> None:
    db, qdir = _quarantined(tmp_path)
    outside = tmp_path / "outside"
    (qdir / "files").rename(outside)
    (qdir / "files").symlink_to(outside)
    result = litefix("quarantine", "restore", qdir.name, "--db", db)
    assert_sentence(result, (5,))
    assert "symlink" in result.err
    assert not db.exists() and (outside / "app.db").exists()


@pytest.mark.parametrize(
    "journal",
    [b"[1, 2]\n", b'{"event": "begin", "id": 5, "plan": [], "quarantine": 3}\n', b"\xff" * 100, b"[" * 100_000],
)
def test_a_damaged_journal_is_reported_and_refused_not_a_crash(journal: bytes, tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    repairs = tmp_path / ".litefix" / "repairs"
    repairs.mkdir(parents=True)
    (repairs / "app.db.journal").write_bytes(journal)
    assert_sentence(litefix("diagnose", db, timeout=QUICK), (0, 1))
    for how in ("--resume", "--rollback"):
        assert_sentence(litefix("repair", db, how, timeout=QUICK), (4, 5))


def test_a_fifo_journal_does_not_hang(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    repairs = tmp_path / ".litefix" / "repairs"
    repairs.mkdir(parents=True)
    _fifo(repairs / "app.db.journal")
    assert_sentence(litefix("repair", db, "--rollback", timeout=QUICK), (4, 5))
    assert_sentence(litefix("diagnose", db, timeout=QUICK), (1, 2, 5))
