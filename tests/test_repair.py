"""Repairs on real states, with the real Litestream: they fix, they refuse, they survive a kill -9.

After every repair a fresh Litestream must replicate without an error for several
sync intervals, and a `litestream restore` of the replica must equal the live
database page for page.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from litefix.repair.quarantine import sha256_file
from litefix.replicas.pages import LocalPages, compare
from tests.helpers import Result, fingerprint, litefix, stderr_on_a_terminal
from tests.litestream_harness import (
    VERSIONS,
    Deployment,
    Replicator,
    binary,
    count_rows,
    has_litestream_tables,
    migrate,
    write_rows,
)

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)

DB = "production_cable.sqlite3"


@dataclass
class Site:
    """One app directory: a database replicated with Litestream, its config and its replica."""

    root: Path
    version: str

    @property
    def db(self) -> Path:
        return self.root / DB

    @property
    def config(self) -> Path:
        return self.root / "litestream.yml"

    @property
    def replica(self) -> Path:
        return self.root / "replica" / DB

    def env(self) -> dict[str, str]:
        return {**os.environ, "LITEFIX_LITESTREAM": str(binary(self.version))}

    def litefix(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        return litefix(*args, "--config", self.config, env=env or self.env(), timeout=300)

    def replicate(self, log: str = "after.log") -> Replicator:
        return Replicator(self.version, self.config, self.root / log).start()

    def restored_copy(self) -> Path:
        out = self.root / "check-restore.db"
        for p in (out, Path(f"{out}-wal"), Path(f"{out}-shm")):
            p.unlink(missing_ok=True)
        proc = subprocess.run(
            [str(binary(self.version)), "restore", "-config", str(self.config), "-o", str(out), str(self.db)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        return out


def replicated_site(root: Path, version: str, rows: int = 40) -> Site:
    """A healthy deployment: migrated, replicated, Litestream stopped cleanly."""
    dep = Deployment(root, version, (DB,))
    dep.write_config()
    migrate(dep.db(), rows)
    rep = dep.replicate(log_name="before.log")
    try:
        rep.wait_for_log(r"snapshot (written|complete)|write snapshot|ltx file uploaded", 30)
        write_rows(dep.db(), 10)
        time.sleep(0.6)
    finally:
        rep.stop()
    return Site(root, version)


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One replicated site per version, copied for each test (building one takes seconds)."""
    out = {}
    for version in VERSIONS:
        root = tmp_path_factory.mktemp(f"template-{version}")
        replicated_site(root, version)
        out[version] = root
    return out


def copy_site(template: Path, root: Path, version: str) -> Site:
    shutil.copytree(template, root, symlinks=True)
    config = root / "litestream.yml"
    config.write_text(config.read_text().replace(str(template), str(root)))
    return Site(root, version)


@pytest.fixture
def site(request: pytest.FixtureRequest, templates: dict[str, Path], tmp_path: Path) -> Site:
    version = request.param
    return copy_site(templates[version], tmp_path / "app", version)


def assert_replicates_cleanly(site: Site) -> None:
    """A fresh Litestream on the repaired database: no error for several sync intervals, restore == live."""
    rep = site.replicate()
    try:
        rep.wait_for_log(r"initialized db", 20)
        write_rows(site.db, 5)
        time.sleep(1.2)  # a dozen 100 ms sync intervals and a 1 s checkpoint interval
    finally:
        rep.stop()
    errors = [line for line in rep.log().splitlines() if "level=ERROR" in line]
    assert not errors, errors
    restored = site.restored_copy()
    result = compare(LocalPages.open(str(site.db), _wal(site.db)), LocalPages.open(str(restored)))
    assert result.equal, result.to_json()


def _wal(db: Path) -> object:
    from litefix.formats.wal import scan_wal

    wal = Path(f"{db}-wal")
    return scan_wal(str(wal), collect_pages=True) if wal.exists() else None


def quarantined_bytes(root: Path) -> dict[str, str]:
    """sha256 of every file any manifest in the quarantine root vouches for."""
    out: dict[str, str] = {}
    qroot = root / ".litefix" / "quarantine"
    for manifest in qroot.glob("*/manifest.json"):
        data = json.loads(manifest.read_text())
        for entry in data["entries"]:
            # the name under files/ is the truth: a kill between rename and manifest update leaves "recorded"
            there = (manifest.parent / "files" / entry["name"]).exists()
            if entry["kind"] in ("file", "copy") and there:
                out[entry["original"]] = entry["sha256"]
            elif entry["kind"] == "dir" and there:
                for item in entry["files"]:
                    out[os.path.join(entry["original"], item["path"])] = item["sha256"]
    return out


def every_byte_accounted_for(before: dict[str, str], root: Path) -> None:
    """Each original file is either at its path with the same bytes, or vouched for by a quarantine manifest."""
    vouched = quarantined_bytes(root)
    for path, digest in before.items():
        here = Path(path)
        if here.is_file() and sha256_file(here)[1] == digest:
            continue
        assert vouched.get(path) == digest, f"{path} is neither in place nor in a quarantine"
        # and the quarantined copy really holds those bytes
        matches = [
            m
            for m in (root / ".litefix" / "quarantine").glob("*/files/**/*")
            if m.is_file() and sha256_file(m)[1] == digest
        ]
        assert matches, f"no quarantined file holds the bytes of {path}"


def digests(root: Path, names: list[str]) -> dict[str, str]:
    out = {}
    for name in names:
        path = root / name
        if path.is_file():
            out[str(path)] = sha256_file(path)[1]
        elif path.is_dir():
            for sub in path.rglob("*"):
                if sub.is_file():
                    out[str(sub)] = sha256_file(sub)[1]
    return out


# --- restore --------------------------------------------------------------------------------------


@pytest.mark.parametrize("site", VERSIONS, indirect=True)
def test_deleted_database_with_stale_wal_left_behind_is_restored_without_merging_it(site: Site) -> None:
    """Both versions restore next to a leftover -wal with exit 0 and SQLite merges it; litefix moves it first."""
    rows = count_rows(site.db)
    stale = site.root / "stale"
    stale.mkdir()
    migrate(stale / "other.db", 3, table="diverged")  # a -wal from another database
    con_wal = Path(f"{stale / 'other.db'}-wal")
    write_rows(stale / "other.db", 1, table="diverged")
    site.db.unlink()
    if con_wal.exists():
        shutil.copy(con_wal, f"{site.db}-wal")
    result = site.litefix("repair", site.db, "--yes")
    assert result.code == 0, result.out + result.err
    assert "restore" in result.out
    assert count_rows(site.db) == rows
    assert has_litestream_tables(site.db)
    assert_replicates_cleanly(site)


@pytest.mark.parametrize("site", VERSIONS, indirect=True)
def test_a_restore_run_at_a_terminal_shows_its_progress_and_its_steps(site: Site) -> None:
    """A restore of a large database takes minutes: at a shell, the bytes Litestream has written so far
    are drawn on stderr beside the steps (a pipe or --json gets none: `progress_on_terminal`)."""
    rows = count_rows(site.db)
    site.db.unlink()
    args = ("repair", site.db, "--strategy", "restore", "--yes", "--config", site.config)
    on_terminal = stderr_on_a_terminal(*args, env=site.env())
    assert "litestream restore" in on_terminal, on_terminal[-2000:]
    assert "[1/6] restore-to-temp" in on_terminal, on_terminal[-2000:]
    assert count_rows(site.db) == rows


@pytest.mark.parametrize("site", VERSIONS, indirect=True)
def test_restore_refuses_without_a_replica(site: Site) -> None:
    shutil.rmtree(site.replica)
    result = site.litefix("repair", site.db, "--strategy", "restore", "--yes")
    assert result.code == 4, result.out + result.err
    assert "empty" in result.out or "no replica" in result.out


# --- init -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("site", VERSIONS, indirect=True)
def test_database_recreated_by_a_migration_while_litestream_was_down_is_initialised(site: Site) -> None:
    """The incident's first hypothesis, done right: the new file gets Litestream's tables and a fresh snapshot."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{site.db}{suffix}").unlink(missing_ok=True)
    migrate(site.db, 7)
    diagnosis = site.litefix("diagnose", site.db, "--json").json()
    assert "litestream-tables-missing" in {f["code"] for f in diagnosis["findings"]}
    result = site.litefix("repair", site.db, "--yes")
    assert result.code == 0, result.out + result.err
    assert "Plan: init" in result.out
    assert has_litestream_tables(site.db)
    assert count_rows(site.db) == 7
    assert_replicates_cleanly(site)


# --- quarantine and undo ------------------------------------------------------------------------------


@pytest.mark.parametrize("site", VERSIONS[:1], indirect=True)
def test_quarantine_and_put_back_is_byte_identical(site: Site) -> None:
    write_rows(site.db, 3)
    before = fingerprint(site.root)
    result = site.litefix("repair", site.db, "--strategy", "quarantine", "--yes")
    assert result.code == 0, result.out + result.err
    assert not site.db.exists()
    [qid] = [p.name for p in (site.root / ".litefix" / "quarantine").iterdir()]
    listing = litefix("quarantine", "list", site.db, "--json").json()
    assert [q["id"] for q in listing] == [qid]
    back = litefix("quarantine", "restore", qid, "--db", site.db)
    assert back.code == 0, back.err
    after = fingerprint(site.root)
    for path, info in before.items():
        assert after[path][:2] == info[:2] and after[path][-1] == info[-1], path
    again = litefix("quarantine", "restore", qid, "--db", site.db)
    assert again.code == 4 and "nothing to put back" in again.err


def test_quarantine_manifest_with_dotdot_paths_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    migrate(db, 2)
    assert litefix("repair", db, "--strategy", "quarantine", "--yes").code == 0
    [qdir] = (tmp_path / ".litefix" / "quarantine").iterdir()
    manifest = json.loads((qdir / "manifest.json").read_text())
    manifest["entries"][0]["original"] = str(tmp_path / ".." / "escaped.db")
    (qdir / "manifest.json").write_text(json.dumps(manifest))
    result = litefix("quarantine", "restore", qdir.name, "--db", tmp_path)
    assert result.code != 0 and "Traceback" not in result.err
    assert "not a clean absolute path" in result.err
    assert not (tmp_path.parent / "escaped.db").exists()
    manifest["entries"][0]["original"] = "/etc/escaped.db"
    manifest["entries"][0]["name"] = "../../escaped.db"
    (qdir / "manifest.json").write_text(json.dumps(manifest))
    result = litefix("quarantine", "restore", qdir.name, "--db", tmp_path)
    assert result.code != 0 and "not a plain file name" in result.err


# --- refusals ---------------------------------------------------------------------------------------

HOLDER = (
    "import sqlite3, sys, time\n"
    "con = sqlite3.connect(sys.argv[1])\n"
    "con.execute('SELECT count(*) FROM sqlite_schema').fetchone()\n"
    "print('open', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.parametrize("site", VERSIONS[1:], indirect=True)
def test_database_held_open_by_the_app_is_refused_unless_forced(site: Site) -> None:
    app = subprocess.Popen([sys.executable, "-c", HOLDER, str(site.db)], stdout=subprocess.PIPE, text=True)
    try:
        assert app.stdout is not None and app.stdout.readline().strip() == "open"
        before = fingerprint(site.root)
        result = site.litefix("repair", site.db, "--strategy", "quarantine", "--yes")
        assert result.code == 4, result.out + result.err
        assert f"pid {app.pid}" in result.out and "--force" in result.out
        assert fingerprint(site.root) == before
    finally:
        app.kill()
        app.wait()


@pytest.mark.parametrize("site", VERSIONS[1:], indirect=True)
def test_a_second_repair_of_the_same_database_is_refused_while_the_first_runs(site: Site) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{site.db}{suffix}").unlink(missing_ok=True)
    migrate(site.db, 4)
    first = subprocess.Popen(
        [sys.executable, "-m", "litefix", "repair", str(site.db), "--config", str(site.config), "--yes"],
        env=site.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lock = site.root / ".litefix" / "repairs" / f"{DB}.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
        assert time.monotonic() < deadline and first.poll() is None, "the first repair never took its lock"
        time.sleep(0.005)
    os.kill(first.pid, signal.SIGSTOP)  # hold it mid-repair, lock taken
    try:
        second = site.litefix("repair", site.db, "--yes")
        assert second.code == 4, second.out + second.err
        assert f"another litefix repair of {site.db} is running (pid {first.pid})" in second.err
    finally:
        os.kill(first.pid, signal.SIGCONT)
    first.communicate(timeout=120)
    assert first.returncode == 0
    assert has_litestream_tables(site.db)


# --- crashes ------------------------------------------------------------------------------------------


def _break_for(strategy: str, site: Site) -> None:
    """Put the site in the state each strategy exists for."""
    if strategy == "restore":
        site.db.unlink()
    elif strategy == "init":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{site.db}{suffix}").unlink(missing_ok=True)
        migrate(site.db, 6)


def _crash_cases() -> Iterator[tuple[str, str, str]]:
    """(strategy, version, crash point): every step of every strategy, versions alternating."""
    steps = {"restore": 6, "init": 5, "quarantine": 2}
    n = 0
    for strategy, count in steps.items():
        for i in range(1, count + 1):
            yield strategy, VERSIONS[n % 2], f"after-{i}"
            n += 1
    yield "quarantine", VERSIONS[0], "renamed#1"  # between a rename and the manifest update
    # intent recorded, file not yet moved: the first move, since which leftovers exist beside the
    # deleted database (-wal, -shm) depends on how Litestream last closed it
    yield "restore", VERSIONS[1], "recorded#1"


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "version", "point"), list(_crash_cases()))
def test_repair_killed_at_any_step_loses_nothing_and_resumes(
    strategy: str, version: str, point: str, templates: dict[str, Path], tmp_path: Path
) -> None:
    site = copy_site(templates[version], tmp_path / "app", version)
    _break_for(strategy, site)
    names = [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"]
    before = digests(site.root, names)
    plan = site.litefix("repair", site.db, "--strategy", strategy, "--dry-run", "--json").json()
    assert not point.startswith(("after-", "start-")) or int(point.split("-")[1]) <= len(plan["steps"]), plan["steps"]
    crashed = site.litefix(
        "repair", site.db, "--strategy", strategy, "--yes", env={**site.env(), "LITEFIX_CRASH_AT": point}
    )
    assert crashed.code == -signal.SIGKILL, crashed.out + crashed.err
    every_byte_accounted_for(before, site.root)
    told = site.litefix("diagnose", site.db, "--json").json()
    assert "repair-unfinished" in {f["code"] for f in told["findings"]}
    again = site.litefix("repair", site.db, "--yes")
    assert again.code == 4 and "--resume" in again.out
    resumed = site.litefix("repair", site.db, "--resume")
    assert resumed.code == 0, resumed.out + resumed.err
    every_byte_accounted_for(before, site.root)
    if strategy != "quarantine":
        assert has_litestream_tables(site.db)


@pytest.mark.parametrize("site", VERSIONS[:1], indirect=True)
def test_rollback_after_a_crash_puts_everything_back(site: Site) -> None:
    site.db.unlink()
    names = [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"]
    before = digests(site.root, names)
    crashed = site.litefix(
        "repair", site.db, "--strategy", "restore", "--yes", env={**site.env(), "LITEFIX_CRASH_AT": "after-4"}
    )
    assert crashed.code == -signal.SIGKILL
    rolled = site.litefix("repair", site.db, "--rollback")
    assert rolled.code in (0, 1), rolled.out + rolled.err
    assert digests(site.root, names) == before
    assert "repair-unfinished" not in site.litefix("diagnose", site.db).out


@pytest.mark.parametrize(("version", "name"), [("0.3.13", "with space"), ("0.5.17", 'new\nline %20 "quoted"')])
def test_a_replica_path_with_a_space_or_newline_restores(version: str, name: str, tmp_path: Path) -> None:
    """Both versions parse a bare path as a URL (a space is not unescaped, a newline is refused by net/url);
    litefix names a file replica to `litestream restore` through a scratch config instead."""
    root = tmp_path / "app"
    root.mkdir()
    site = replicated_site(root, version)
    rows = count_rows(site.db)
    odd = tmp_path / name / "replica"
    odd.parent.mkdir()
    shutil.move(str(site.replica), str(odd))
    for suffix in ("", "-wal", "-shm"):
        Path(f"{site.db}{suffix}").unlink(missing_ok=True)
    site.config.unlink()
    result = litefix("repair", site.db, "--replica", odd, "--strategy", "restore", "--yes", env=site.env())
    assert result.code in (0, 1), result.out + result.err
    assert count_rows(site.db) == rows


@pytest.mark.parametrize("site", VERSIONS[1:], indirect=True)
def test_a_restore_says_when_the_quarantined_file_holds_writes_the_replica_never_had(site: Site) -> None:
    """An app that opens a connection per write holds no descriptor between writes, so the holder check
    cannot see it; its last writes are then only in the quarantined file. The repair says so."""
    write_rows(site.db, 25)  # Litestream is not running: the replica never gets these
    result = site.litefix("repair", site.db, "--strategy", "restore", "--yes")
    assert result.code in (0, 1), result.out + result.err
    assert "writes the replica never had may be there" in result.err, result.err
    assert "pages" in result.err and "solid_cable_messages: " in result.err
