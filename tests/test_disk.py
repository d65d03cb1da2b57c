"""A small disk filling while the replica is unreachable: the meta dir grows, then the disk is low.

Built for real on a 24 MiB tmpfs (mounted here, unmounted after; the tests run as root in CI) with
Litestream 0.3.13 replicating to an S3 endpoint on a closed 127.0.0.1 port, and an app writing.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers import litefix
from tests.litestream_harness import Replicator, migrate, wait_for

pytestmark = pytest.mark.litestream


@contextmanager
def small_tmpfs(size: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="litefix-disk-") as mount_point:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", mount_point], check=True)
        try:
            yield Path(mount_point)
        finally:
            subprocess.run(["umount", mount_point], check=True)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


WRITER = textwrap.dedent(
    """
    import os, sqlite3, sys, time
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
    print("ready", flush=True)
    while True:
        time.sleep(float(sys.argv[2]))
        try:
            con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('w', ?)", (os.urandom(60000),))
        except sqlite3.OperationalError:
            pass  # database or disk is full: the app keeps trying, as a web app would
    """
)


S3_UNREACHABLE = (
    "type: s3\nbucket: backups\npath: production\nendpoint: http://127.0.0.1:{port}\nregion: us-east-1\n"
    "force-path-style: true\nsync-interval: 100ms\n"
)
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}


def _free(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def _oldest_shadow_age(db: Path) -> float:
    files = list((db.parent / f".{db.name}-litestream").glob("generations/*/wal/*.wal"))
    return time.time() - min(p.stat().st_mtime for p in files) if files else 0.0


def _shadow_wal_files(db: Path) -> int:
    return len(list((db.parent / f".{db.name}-litestream").glob("generations/*/wal/*.wal")))


def test_unreachable_replica_fills_the_meta_dir_then_the_disk(tmp_path: Path) -> None:
    with small_tmpfs("24m") as mnt:
        db = mnt / "production.sqlite3"
        migrate(db, 5)
        config = mnt / "litestream.yml"
        config.write_text(
            f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    checkpoint-interval: 200ms\n"
            "    replicas:\n      - " + S3_UNREACHABLE.format(port=closed_port()).replace("\n", "\n        ")
        )
        rep = Replicator("0.3.13", config, tmp_path / "litestream.log", env=AWS).start()
        rep.wait_for_log("connection refused", 30)
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "0.02"], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
            wait_for(lambda: _shadow_wal_files(db) > 4, 60, "shadow WAL files to pile up in the meta dir")
            # Only files older than two sync intervals (10 s at least) are overdue: before that, a
            # burst of checkpoints between two syncs looks the same.
            early = litefix("diagnose", db, "--json", "--config", config).json()
            if _oldest_shadow_age(db) < 9:
                assert "meta-dir-growing" not in {f["code"] for f in early["findings"]}
            wait_for(lambda: _oldest_shadow_age(db) > 10.5, 30, "the oldest shadow WAL file to be overdue")
            wait_for(lambda: _free(mnt) < 4 << 20, 60, "the tmpfs to fill")
            writer.kill()
            writer.wait()
            result = litefix("diagnose", db, "--json", "--config", config)
            doc = result.json()
            by_code = {f["code"]: f for f in doc["findings"]}
            growing = by_code["meta-dir-growing"]
            assert growing["evidence"]["pending_files"] > 3
            assert growing["evidence"]["pending_bytes"] > 0
            assert growing["evidence"]["oldest_age_seconds"] > growing["evidence"]["overdue_after_seconds"] == 10.0
            assert growing["evidence"]["oldest_file"].endswith("00000000.wal")  # never uploaded, never removed
            low = by_code["disk-low"]
            assert low["evidence"]["filesystem"] == str(mnt)
            assert low["evidence"]["free_bytes"] < low["evidence"]["needed_bytes"]
            assert low["severity"] in ("warning", "error")
            assert result.code == (1 if "error" in {f["severity"] for f in doc["findings"]} else 0)
        finally:
            writer.kill()
            writer.wait()
            rep.stop()


def test_unreachable_replica_05_keeps_the_wal_pinned_until_the_disk_is_low(tmp_path: Path) -> None:
    """0.5.17 keeps nothing in its meta dir when it cannot sync: it holds its read transaction at the
    frame it started from and never checkpoints, so the -wal grows (measured)."""
    with small_tmpfs("64m") as mnt:
        db = mnt / "production.sqlite3"
        migrate(db, 5)
        config = mnt / "litestream.yml"
        config.write_text(
            f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    checkpoint-interval: 200ms\n"
            "    replica:\n      " + S3_UNREACHABLE.format(port=closed_port()).replace("\n", "\n      ")
        )
        rep = Replicator("0.5.17", config, tmp_path / "litestream.log", env=AWS).start()
        wal = Path(f"{db}-wal")
        wait_for(lambda: rep.pid in _shm_readers(db), 30, "Litestream to hold its read transaction")
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db), "0"], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
            wait_for(lambda: wal.exists() and wal.stat().st_size > 44 << 20, 90, "the -wal to grow past 44 MiB")
            writer.kill()
            writer.wait()
            result = litefix("diagnose", db, "--json", "--config", config)
            doc = result.json()
            by_code = {f["code"]: f for f in doc["findings"]}
            assert "meta-dir-growing" not in by_code
            blocked = by_code["checkpoint-blocked"]["evidence"]
            assert blocked["pid"] == rep.pid and blocked["litestream"] is True
            assert blocked["frames_behind"] >= 10000
            low = by_code["disk-low"]
            assert low["severity"] == "error" and low["evidence"]["needed_for"] == "the -wal between checkpoints"
            assert low["evidence"]["wal_bytes"] > low["evidence"]["free_bytes"]
            assert result.code == 1
        finally:
            writer.kill()
            writer.wait()
            rep.stop()


def _shm_readers(db: Path) -> set[int]:
    from litefix.system.locks import FileId, read_lock_table, sqlite_locks

    locks = sqlite_locks(read_lock_table(), FileId.of(str(db)), FileId.of(f"{db}-shm"))
    return {pid for pids in locks.readers.values() for pid in pids}
