"""kill -9 inside every repair, then `--rollback` or `--resume`: the original bytes come back, or the repair ends.

`LITEFIX_CRASH_AT` (litefix/repair/faults.py) stops litefix with SIGKILL at a step boundary
(`after-N`) or between the syscalls of one step: `recorded` (the manifest says "about to
move", nothing moved), `renamed` (moved, manifest not yet updated), `copied`, `placed`,
`litestream-running` and `litestream-initialized` (init's Litestream child is up; has
initialised the database). Rollback must give back every original file byte for byte
(sha256 of the database, -wal, -shm and each file of the meta dir), leave no Litestream
child of litefix running and no `repair-unfinished`; resume must finish.

The matrix is chosen to stay affordable: each strategy's every boundary for rollback, the
Litestream-heavy init and restore with both versions at the points that differ between
them; the randomized soak (`make soak`) covers the rest.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import litefix
from tests.litestream_harness import VERSIONS, has_litestream_tables
from tests.test_repair import DB, Site, _break_for, copy_site, digests, replicated_site

pytestmark = pytest.mark.litestream  # real repairs with the real binaries

NAMES = [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"]

ROLLBACK_POINTS = {
    "quarantine": ["recorded#1", "renamed#1", "renamed#2", "after-1"],
    "restore": ["after-2", "recorded#1", "renamed#2", "after-4", "placed", "after-5"],
    "init": ["copied#1", "after-1", "renamed#1", "litestream-running", "litestream-initialized", "after-3", "after-4"],
}
RESUME_POINTS = {
    "quarantine": ["renamed#1"],
    "restore": ["renamed#2", "placed"],
    "init": ["after-1", "litestream-initialized"],
}


def _cases(points: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    out = []
    for strategy, labels in points.items():
        versions = VERSIONS[1:] if strategy == "quarantine" else VERSIONS  # quarantine runs no Litestream
        out += [(strategy, version, label) for version in versions for label in labels]
    return out


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for version in VERSIONS:
        root = tmp_path_factory.mktemp(f"matrix-{version}")
        replicated_site(root, version)
        out[version] = root
    return out


def _leave_wal_behind(db: Path) -> None:
    """An app killed with its last write still in the -wal: the -wal and -shm stay beside the database.

    Whether a stopped Litestream leaves them depends on whether it closed the file itself (the last
    connection to close checkpoints and deletes them): under load in CI it did, and the restore's
    quarantine then moved one file fewer and never reached `renamed#2`. The matrix needs the same
    files at every point, so the app that wrote last leaves them, as a crashed app does."""
    script = (
        "import os, sqlite3, sys; con = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "con.execute('PRAGMA wal_autocheckpoint=0'); "
        "con.execute('CREATE TABLE IF NOT EXISTS crashed_app (note TEXT)'); "
        "con.execute(\"INSERT INTO crashed_app VALUES ('last write before kill -9')\"); os._exit(0)"
    )
    subprocess.run([sys.executable, "-c", script, str(db)], check=True, timeout=30)
    assert Path(f"{db}-wal").stat().st_size > 0 and Path(f"{db}-shm").exists()


def _crashed(sites: dict[str, Path], tmp_path: Path, strategy: str, version: str, point: str) -> tuple[Site, dict]:
    site = copy_site(sites[version], tmp_path / "app", version)
    if strategy == "restore":
        _leave_wal_behind(site.db)
    _break_for(strategy, site)
    before = digests(site.root, NAMES)
    crashed = site.litefix(
        "repair", site.db, "--strategy", strategy, "--yes", env={**site.env(), "LITEFIX_CRASH_AT": point}
    )
    assert crashed.code == -signal.SIGKILL, f"never reached {point}: " + crashed.out + crashed.err
    return site, before


def _children_of(site: Site) -> list[int]:
    """Processes whose command line names this site's litefix scratch directory (init's Litestream)."""
    marker = os.fsencode(str(site.root / ".litefix" / "scratch"))
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "version", "point"), _cases(ROLLBACK_POINTS))
def test_kill_anywhere_then_rollback_gives_back_every_original_byte(
    strategy: str, version: str, point: str, sites: dict[str, Path], tmp_path: Path
) -> None:
    site, before = _crashed(sites, tmp_path, strategy, version, point)
    if point.startswith("litestream-"):  # the kernel's parent-death signal, before any rollback looks
        deadline = time.monotonic() + 10
        while _children_of(site) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _children_of(site), "init's Litestream outlived the litefix that started it"
    told = site.litefix("diagnose", site.db, "--json").json()
    unfinished = [f for f in told["findings"] if f["code"] == "repair-unfinished"]
    assert unfinished and "--rollback" in unfinished[0]["hint"]
    rolled = site.litefix("repair", site.db, "--rollback")
    assert rolled.code in (0, 1), rolled.out + rolled.err
    assert "Traceback" not in rolled.err
    assert digests(site.root, NAMES) == before, rolled.out + rolled.err
    assert not _children_of(site), "a Litestream started by litefix outlived the rollback"
    after = site.litefix("diagnose", site.db, "--json").json()
    assert "repair-unfinished" not in {f["code"] for f in after["findings"]}


@pytest.mark.slow
@pytest.mark.parametrize(("strategy", "version", "point"), _cases(RESUME_POINTS))
def test_kill_anywhere_then_resume_finishes_the_repair(
    strategy: str, version: str, point: str, sites: dict[str, Path], tmp_path: Path
) -> None:
    site, _before = _crashed(sites, tmp_path, strategy, version, point)
    resumed = site.litefix("repair", site.db, "--resume")
    assert resumed.code == 0, resumed.out + resumed.err
    assert not _children_of(site)
    if strategy == "quarantine":
        assert not site.db.exists()
    else:
        assert has_litestream_tables(site.db)
    after = site.litefix("diagnose", site.db, "--json").json()
    assert "repair-unfinished" not in {f["code"] for f in after["findings"]}


@pytest.mark.parametrize("version", VERSIONS)
def test_a_rollback_killed_half_way_is_finished_by_running_it_again(
    version: str, sites: dict[str, Path], tmp_path: Path
) -> None:
    site, before = _crashed(sites, tmp_path, "restore", version, "after-5")
    half = site.litefix("repair", site.db, "--rollback", env={**site.env(), "LITEFIX_CRASH_AT": "moved-back#1"})
    assert half.code == -signal.SIGKILL, half.out + half.err
    again = site.litefix("repair", site.db, "--rollback")
    assert again.code in (0, 1), again.out + again.err
    assert digests(site.root, NAMES) == before


def test_rollback_first_stops_a_leftover_of_an_earlier_run(sites: dict[str, Path], tmp_path: Path) -> None:
    """A child that missed its parent-death signal (litefix killed between fork and prctl) is found
    by its scratch config in /proc/*/cmdline and stopped before anything is undone."""
    site, before = _crashed(sites, tmp_path, "init", VERSIONS[1], "after-1")
    [quarantine] = (site.root / ".litefix" / "quarantine").iterdir()
    scratch = site.root / ".litefix" / "scratch" / quarantine.name  # the repair's id names both
    leftover = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)", str(scratch / "litestream.yml")],
        start_new_session=True,
    )
    try:
        rolled = site.litefix("repair", site.db, "--rollback")
        assert rolled.code in (0, 1), rolled.out + rolled.err
        assert f"stopped pid {leftover.pid}" in rolled.err
        assert leftover.wait(10) == -signal.SIGTERM
        assert digests(site.root, NAMES) == before
    finally:
        if leftover.poll() is None:
            leftover.kill()
            leftover.wait()


def test_killed_between_rename_and_manifest_the_database_is_found_and_put_back(
    sites: dict[str, Path], tmp_path: Path
) -> None:
    """The manifest still says `recorded` while the bytes are in files/: diagnose must not send the user to
    the replica, and `quarantine restore` must find the file (it used to say it held nothing)."""
    site, before = _crashed(sites, tmp_path, "quarantine", VERSIONS[1], "renamed#1")
    assert not site.db.exists()
    told = site.litefix("diagnose", site.db, "--json").json()
    missing = next(f for f in told["findings"] if f["code"] == "database-missing")
    assert "--rollback" in missing["hint"] and "do not restore" in missing["hint"]
    assert missing["evidence"]["in_quarantine"].endswith(f"files/{DB}")
    [quarantine] = (site.root / ".litefix" / "quarantine").iterdir()
    back = litefix("quarantine", "restore", quarantine.name, "--db", site.db)
    assert back.code == 0, back.out + back.err
    assert digests(site.root, NAMES) == before
