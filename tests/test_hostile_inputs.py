"""A corpus of hostile inputs: devices, FIFOs, huge, nested, malformed, non-UTF-8.

Each must end in one sentence and a documented exit code within seconds — never exit 3
(the "this is a bug" path), never a traceback, never a hang on a FIFO or a read of
/dev/zero without end. Each case runs the real CLI with a timeout shorter than a hang.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.helpers import NOBODY, Result, as_nobody, fingerprint, litefix

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
    # backslashreplace: a name that is not UTF-8 in a failure message would crash the xdist worker
    said = (result.out[-800:] + result.err[-800:]).encode("utf-8", "backslashreplace").decode()
    assert result.code in allowed, f"exit {result.code}: {said}"
    assert "Traceback" not in result.err and "crashed" not in result.err, said
    assert "internal error" not in result.out, said


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


# --- a database whose name is not UTF-8 --------------------------------------------------------
#
# SQLite takes only UTF-8 names; Linux allows any bytes. apsw could not open `caf\xe9.db`, and the
# integrity inspector reported that as corruption: `integrity-failed`, "restore from the replica".

ODD = os.fsdecode(b"caf\xe9")  # Latin-1 "café": one byte that is not UTF-8
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _odd_db(tmp_path: Path, where: str, fixture: str) -> Path:
    db = tmp_path / ODD / "app.db" if where == "directory" else tmp_path / f"{ODD}.db"
    db.parent.mkdir(exist_ok=True)
    for source in (FIXTURES / fixture).iterdir():  # the database, and its -wal when the fixture has one
        shutil.copyfile(source, str(db) + source.name.removeprefix("app.db"))
    return db


@pytest.mark.parametrize("mode", ["quick", "full"])
@pytest.mark.parametrize("where", ["directory", "file"])
def test_a_healthy_database_whose_name_is_not_utf8_passes_its_integrity_check(
    where: str, mode: str, tmp_path: Path
) -> None:
    """With committed frames in its -wal: SQLite reads them through litefix's VFS, and nothing changes."""
    db = _odd_db(tmp_path, where, "healthy-uncheckpointed")
    before = fingerprint(db.parent)
    result = litefix("diagnose", db, "--integrity", mode, "--json", timeout=QUICK)
    assert_sentence(result, (0,))
    integrity = next(i for i in result.json()["inspectors"] if i["name"] == "integrity")
    assert integrity["status"] == "ok" and integrity["facts"]["result"] == "ok", integrity
    assert not [f for f in result.json()["findings"] if f["severity"] == "error"], result.out
    assert fingerprint(db.parent) == before


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_a_corrupt_database_whose_name_is_not_utf8_is_integrity_failed_for_what_sqlite_found(
    mode: str, tmp_path: Path
) -> None:
    db = _odd_db(tmp_path, "file", "integrity-failed")
    result = litefix("diagnose", db, "--integrity", mode, "--json", timeout=QUICK)
    assert_sentence(result, (1,))
    [failed] = [f for f in result.json()["findings"] if f["code"] == "integrity-failed"]
    check = "quick_check" if mode == "quick" else "integrity_check"
    assert f"fails {check}: Tree " in failed["message"], failed  # SQLite's own words about a page
    assert "UTF-8" not in failed["message"]


def test_quarantine_and_putting_back_a_database_whose_name_is_not_utf8(tmp_path: Path) -> None:
    db = _odd_db(tmp_path, "file", "healthy-uncheckpointed")
    before = fingerprint(tmp_path)
    moved = litefix("repair", db, "--strategy", "quarantine", "--yes", timeout=QUICK)
    assert_sentence(moved, (0,))
    assert not db.exists()
    [qdir] = (tmp_path / ".litefix" / "quarantine").iterdir()
    back = litefix("quarantine", "restore", qdir.name, "--db", db, timeout=QUICK)
    assert_sentence(back, (0,))
    after = fingerprint(tmp_path)
    assert {k: v for k, v in after.items() if k in before} == before


@pytest.mark.parametrize("version", ["0.3.13", "0.5.17"])
def test_restore_of_a_database_whose_name_is_not_utf8_from_its_replica(version: str, tmp_path: Path) -> None:
    """`litestream restore` is given litefix's own config, which is YAML: it names the database by a
    stand-in, and the restored file is moved onto the real name."""
    from tests.test_repair import replicated_site

    (tmp_path / "site").mkdir()
    site = replicated_site(tmp_path / "site", version, rows=20)
    db = tmp_path / f"{ODD}.db"
    env = site.env()
    result = litefix("repair", db, "--replica", f"file://{site.replica}", "--strategy", "restore", "--yes", env=env)
    assert_sentence(result, (0,))
    want = sqlite3.connect(site.db).execute("SELECT count(*) FROM solid_cable_messages").fetchone()
    got = sqlite3.connect(f"file:{quote(os.fsencode(db))}?mode=ro", uri=True)
    try:
        assert got.execute("SELECT count(*) FROM solid_cable_messages").fetchone() == want
    finally:
        got.close()
    init = litefix("repair", db, "--replica", f"file://{site.replica}", "--strategy", "init", "--yes", env=env)
    assert_sentence(init, (4,))
    assert "its config is YAML, which is UTF-8, and this file's name is not" in init.out + init.err


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


# --- files litefix may not read or write: one sentence, whatever the file ---------------------------
#
# Every OSError reads `cannot DOING PATH: CAUSE`. Root ignores file modes, so as root these run
# litefix as `nobody` (setpriv), in a directory nobody can reach, with the file's mode taken away.


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory `nobody` owns and can reach (pytest's tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="litefix-oserr-"))
    path.chmod(0o755)
    if os.geteuid() == 0:
        os.chown(path, NOBODY, NOBODY)
    yield path
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755, follow_symlinks=False)
    shutil.rmtree(path)


def _user() -> int | None:
    """`nobody` when we are root, else ourselves: either way file modes apply."""
    if os.geteuid() != 0:
        return None
    as_nobody()  # skips (or fails in CI) when privileges cannot be dropped
    return NOBODY


def _owned_db(where: Path) -> Path:
    db = wal_db(where / "app.db")
    if os.geteuid() == 0:
        for path in where.iterdir():
            os.chown(path, NOBODY, NOBODY)
    return db


def _file_replica_config(where: Path, db: Path, replica: Path) -> Path:
    config = where / "litestream.yml"
    config.write_text(f"dbs:\n  - path: {db}\n    replica:\n      type: file\n      path: {replica}\n")
    return config


def test_an_unreadable_config_is_exit_2_naming_the_file_and_the_cause(shared_dir: Path) -> None:
    db = _owned_db(shared_dir)
    config = _file_replica_config(shared_dir, db, shared_dir / "replica")
    config.chmod(0o000)
    result = litefix("diagnose", db, "--config", config, user=_user(), timeout=QUICK)
    assert_sentence(result, (2,))
    assert f"Error: cannot read the config {config}: permission denied" in result.err
    assert "run litefix as the user Litestream runs as" in result.err


def test_an_unreadable_replica_directory_is_unreachable_never_a_first_deploy(shared_dir: Path) -> None:
    """os.walk skipped a directory it could not list: the replica looked empty, "a first deploy?",
    and boot would have started the app on a database the replica never had."""
    db = _owned_db(shared_dir)
    replica = shared_dir / "replica"
    (replica / "ltx" / "0").mkdir(parents=True)
    config = _file_replica_config(shared_dir, db, replica)
    (replica / "ltx").chmod(0o000)
    result = litefix("diagnose", db, "--config", config, "--json", user=_user(), timeout=QUICK)
    assert_sentence(result, (1,))
    findings = {f["code"]: f for f in result.json()["findings"]}
    assert "replica-missing" not in findings and "replica-empty" not in findings, findings
    unreachable = findings["replica-unreachable"]
    assert f"cannot read {replica / 'ltx'}: permission denied" in unreachable["message"], unreachable
    assert unreachable["evidence"]["reason"] == "access-denied"
    assert "may not read" in unreachable["hint"] and "credentials" not in unreachable["hint"], unreachable
    # and a restore from it is refused before anything moves (it would fail the same way afterwards)
    before = sorted(p.name for p in shared_dir.iterdir())
    restore = litefix("repair", db, "--strategy", "restore", "--yes", "--config", config, user=_user(), timeout=QUICK)
    assert_sentence(restore, (4,))
    assert "fix that first" in restore.out + restore.err, restore.out + restore.err
    assert sorted(p.name for p in shared_dir.iterdir()) == before


def test_an_unreadable_quarantine_manifest_is_listed_damaged_and_never_restored(shared_dir: Path) -> None:
    user = _user()
    db = _owned_db(shared_dir)
    assert litefix("repair", db, "--strategy", "quarantine", "--yes", user=user, timeout=QUICK).code == 0
    [qdir] = (shared_dir / ".litefix" / "quarantine").iterdir()
    manifest = qdir / "manifest.json"
    manifest.chmod(0o000)
    listed = litefix("quarantine", "list", db, "--json", user=user, timeout=QUICK)
    assert listed.code == 0, listed.err
    [item] = listed.json()
    assert item["damaged"] == "cannot read manifest.json: permission denied", item  # the row names the quarantine
    back = litefix("quarantine", "restore", qdir.name, "--db", db, user=user, timeout=QUICK)
    assert_sentence(back, (5,))
    assert f"cannot read {manifest}: permission denied" in back.err
    assert not db.exists()


def test_an_unreadable_log_for_explain_is_exit_3_naming_the_file(shared_dir: Path) -> None:
    log = shared_dir / "litestream.log"
    log.write_text('level=ERROR msg="sync error"\n')
    log.chmod(0o000)
    result = litefix("explain", log, user=_user(), timeout=QUICK)
    assert result.code == 3 and "Traceback" not in result.err, result.err
    assert result.err.startswith(f"Error: cannot read {log}: permission denied\n"), result.err


def test_boot_in_a_directory_it_cannot_write_refuses_naming_the_lock(shared_dir: Path) -> None:
    db = _owned_db(shared_dir)
    config = _file_replica_config(shared_dir, db, shared_dir / "replica")
    shared_dir.chmod(0o555)  # the lock lives in .litefix/ beside the databases
    result = litefix("boot", "--config", config, "--", "true", user=_user(), timeout=QUICK)
    assert_sentence(result, (4,))
    assert f"cannot take the boot lock {shared_dir / '.litefix' / 'boot.lock'}: permission denied" in result.err


def test_an_unreadable_upgrade_entrypoint_is_a_usage_error(shared_dir: Path) -> None:
    db = _owned_db(shared_dir)
    config = _file_replica_config(shared_dir, db, shared_dir / "replica")
    entrypoint = shared_dir / "docker-entrypoint"
    entrypoint.write_text('#!/bin/sh\nexec litestream replicate -exec "$@"\n')
    entrypoint.chmod(0o000)
    args = ["upgrade-check", "--to", "0.5.17", "--config", config, "--entrypoint", entrypoint]
    result = litefix(*args, user=_user(), timeout=QUICK)
    assert_sentence(result, (2,))
    assert f"cannot read --entrypoint {entrypoint}: permission denied" in result.err


def test_a_metrics_port_already_taken_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    config = _file_replica_config(tmp_path, db, tmp_path / "replica")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        result = litefix("metrics", "--config", config, "--listen", listen, timeout=QUICK)
    assert_sentence(result, (2,))
    assert f"Error: cannot listen on {listen}: address already in use" in result.err


def test_an_app_that_does_not_exist_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    db = wal_db(tmp_path / "app.db")
    config = _file_replica_config(tmp_path, db, tmp_path / "replica")
    missing = tmp_path / "bin" / "rails"
    result = litefix("boot", "--config", config, "--", missing, "server", timeout=QUICK)
    assert_sentence(result, (2,))
    assert f"Error: cannot run the app {missing}: no such file or directory" in result.err


def test_a_local_ltx_file_litefix_may_not_read_is_unreadable_not_damaged(shared_dir: Path) -> None:
    """Litestream (root) keeps its meta dir; litefix run as another user may not read a file in it.
    That says nothing about the file's bytes: no "damaged", no init hint, the sentence in the facts."""
    from tests.test_repair import replicated_site

    site = replicated_site(shared_dir, "0.5.17", rows=20)
    l0 = sorted((shared_dir / f".{site.db.name}-litestream" / "ltx" / "0").glob("*.ltx"))
    assert l0, "Litestream wrote no L0 file"
    l0[-1].chmod(0o000)
    result = litefix("diagnose", site.db, "--config", site.config, "--json", user=_user(), env=site.env())
    assert_sentence(result, (0, 1))
    assert not [f for f in result.json()["findings"] if "damaged" in f["message"]], result.out
    meta = next(i for i in result.json()["inspectors"] if i["name"] == "meta-dir")
    assert f"cannot read {l0[-1]}: permission denied" in meta["facts"]["l0_unreadable"], meta
