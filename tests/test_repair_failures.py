"""A repair that cannot go on — a full disk, a directory it may not write — stops cleanly and can be resumed.

A real tmpfs of a few megabytes stands in for the full disk (mounted by the test, as root);
the other user is `nobody`, through setpriv.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.repair.quarantine import sha256_file
from tests.helpers import NOBODY, as_nobody, litefix, skip_outside_ci
from tests.litestream_harness import binary, count_rows, has_litestream_tables, migrate

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 1 MiB tmpfs: the database's own filesystem, nearly full."""
    if os.geteuid() != 0:
        skip_outside_ci("mounting a tmpfs needs root; the full-disk path is exercised in CI, which runs as root")
    where = Path(tempfile.mkdtemp(prefix="litefix-full-"))
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if proc.returncode:
        shutil.rmtree(where)
        skip_outside_ci(f"cannot mount a tmpfs here ({proc.stderr.decode().strip()}): no full disk to test with")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)


def test_a_full_disk_stops_init_cleanly_and_resume_finishes_once_there_is_room(
    small_disk: Path, tmp_path: Path
) -> None:
    made = tmp_path / "made" / "production_cable.sqlite3"
    made.parent.mkdir()
    migrate(made, 5000)  # about 600 KB, built where there is room: a copy of it does not fit beside it in 1 MiB
    db = small_disk / made.name
    shutil.copy(made, db)
    assert 400_000 < db.stat().st_size < 900_000
    before = sha256_file(db)
    config = tmp_path / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    replica:\n      type: file\n"
        f"      path: {tmp_path / 'replica'}\n      sync-interval: 100ms\n"
    )
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17"))}
    failed = litefix("repair", db, "--config", config, "--strategy", "init", "--yes", env=env)
    assert failed.code == 5, failed.out + failed.err
    assert "not enough space" in failed.err and "--resume" in failed.err
    assert sha256_file(db) == before  # the database itself was not touched
    journal = small_disk / ".litefix" / "repairs" / f"{db.name}.journal"
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    assert events[-1]["event"] == "failed" and "not enough space" in events[-1]["error"]
    told = litefix("diagnose", db, "--config", config, "--json", env=env).json()
    assert "repair-unfinished" in {f["code"] for f in told["findings"]}
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)  # room again
    resumed = litefix("repair", db, "--resume", "--config", config, env=env)
    assert resumed.code == 0, resumed.out + resumed.err
    assert has_litestream_tables(db) and count_rows(db) == 5000


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="litefix-perm-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_directory_the_user_may_not_write_refuses_before_touching_anything(shared_dir: Path) -> None:
    if os.geteuid() != 0:
        skip_outside_ci("needs root to run litefix as another user (as a normal user, use a directory you do not own)")
    as_nobody()
    db = shared_dir / "app.db"
    migrate(db, 10)
    db.chmod(0o644)
    before = sha256_file(db)
    result = litefix("repair", db, "--strategy", "quarantine", "--yes", user=NOBODY)
    assert result.code == 5, result.out + result.err
    assert "cannot create litefix's workspace" in result.err and "Traceback" not in result.err
    assert sha256_file(db) == before and not (shared_dir / ".litefix").exists()


def _fill(where: Path) -> None:
    """Take every free byte of the filesystem under `where` (unbuffered: each write fails on its own)."""
    fd = os.open(where / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 65536, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                continue
    finally:
        os.close(fd)
    assert os.statvfs(where).f_bavail == 0


@pytest.mark.parametrize("strategy", ["quarantine", "init", "restore"])
def test_zero_bytes_free_is_exit_5_with_a_sentence_about_space_for_every_strategy(
    strategy: str, small_disk: Path, tmp_path: Path
) -> None:
    from tests.test_repair import replicated_site

    (tmp_path / "site").mkdir()
    site = replicated_site(tmp_path / "site", "0.5.17", rows=20)
    db = small_disk / site.db.name
    if strategy != "restore":
        shutil.copy(site.db, db)
    config = tmp_path / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    replica:\n      type: file\n"
        f"      path: {site.replica}\n      sync-interval: 100ms\n"
    )
    before = sha256_file(db) if db.exists() else None
    _fill(small_disk)
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17"))}
    result = litefix("repair", db, "--config", config, "--strategy", strategy, "--yes", env=env)
    assert result.code == 5, result.out + result.err
    assert "Traceback" not in result.err and "crashed" not in result.err
    assert "no space left on device" in result.err or "not enough space" in result.err, result.err
    assert (sha256_file(db) if db.exists() else None) == before
    (small_disk / "filler").unlink()  # room again: whatever was started can be finished or undone
    journal = small_disk / ".litefix" / "repairs" / f"{db.name}.journal"
    if journal.exists():
        rolled = litefix("repair", db, "--config", config, "--rollback", env=env)
        assert rolled.code in (0, 1), rolled.out + rolled.err
        assert (sha256_file(db) if db.exists() else None) == before


def test_a_restore_without_room_for_the_restored_file_is_refused_with_the_numbers(
    small_disk: Path, tmp_path: Path
) -> None:
    """0.3.13 used to blame the replica ("no position restores to a sound database … context canceled")."""
    made = tmp_path / "made" / "production_cable.sqlite3"
    made.parent.mkdir()
    migrate(made, 5000)  # about 600 KB
    replica = tmp_path / "replica"
    db = small_disk / made.name
    config = tmp_path / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {made}\n    monitor-interval: 100ms\n    replica:\n      type: file\n"
        f"      path: {replica}\n      sync-interval: 100ms\n"
    )
    from tests.litestream_harness import Replicator

    rep = Replicator("0.5.17", config, tmp_path / "rep.log").start()
    try:
        deadline = time.monotonic() + 30
        while not list(replica.rglob("*.ltx")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        rep.stop()
    config.write_text(config.read_text().replace(str(made), str(db)))
    free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
    with open(small_disk / "filler", "wb") as fh:
        fh.write(b"\0" * (free - 200_000))
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17"))}
    result = litefix("repair", db, "--config", config, "--strategy", "restore", "--yes", env=env)
    assert result.code == 5, result.out + result.err
    assert "not enough space for restoring" in result.err and "free" in result.err, result.err
    assert "replica" not in result.err.split("Hint")[0].replace(str(replica), "")
    assert not db.exists()
