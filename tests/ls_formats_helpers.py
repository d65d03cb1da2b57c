"""Run the real `litestream replicate` next to a small WAL database, so format tests read real files.

    with replicating(tmp_path, "0.5.17") as run:
        run.write_rows(20)
        run.wait_for("an L9 snapshot in the replica", lambda: run.replica_files("ltx/9/*.ltx"))

Intervals are the short ones the notes were measured with (100 ms monitor and sync, 1 s
checkpoint), so every state a test needs appears within a second or two. Waits poll; they
never sleep a fixed time.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.litestream_harness import binary, config_text

T = TypeVar("T")
POLL_SECONDS = 0.02


def litestream_binary(version: str) -> Path:
    """The real binary, installed side by side in .cache (see tests/litestream_harness.py)."""
    return binary(version)


@dataclass
class Replication:
    version: str
    db: Path
    replica: Path
    log: Path
    app: sqlite3.Connection  # the "application": one connection kept open, as an app would
    proc: subprocess.Popen[bytes] | None = None
    rows: int = field(default=0)

    @property
    def meta(self) -> Path:
        return self.db.parent / f".{self.db.name}-litestream"

    def write_rows(self, count: int, size: int = 300) -> None:
        """One committed transaction of `count` rows."""
        with self.app:
            self.app.executemany("INSERT INTO t(v) VALUES (?)", [("x" * size,)] * count)
        self.rows += count

    def commit_and_wait(self, what: str, count: Callable[[], int], rows: int = 20) -> None:
        """Commit `rows` rows, then wait until `count()` grows: the commit reached Litestream's output."""
        before = count()
        self.write_rows(rows)
        self.wait_for(what, lambda: count() > before)

    def replica_files(self, pattern: str) -> list[Path]:
        return sorted(self.replica.glob(pattern))

    def meta_files(self, pattern: str) -> list[Path]:
        return sorted(self.meta.glob(pattern))

    def wait_for(self, what: str, check: Callable[[], T], timeout: float = 10) -> T:
        """Poll `check` until it returns something truthy; fail naming `what` and the log's tail."""
        deadline = time.monotonic() + timeout
        while True:
            result = check()
            if result:
                return result
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"litestream {self.version} exited ({self.proc.returncode}) {self._tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} {self._tail()}")
            time.sleep(POLL_SECONDS)

    def _tail(self) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "; log ends:\n" + "\n".join(lines[-15:])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, as a supervisor would, and wait for the process to exit."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def quiet_checkpoint(self) -> None:
        """With Litestream stopped: move every committed page into the database file."""
        assert self.proc is None, "stop litestream first, or it races the checkpoint"
        busy, _, _ = self.app.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0, "checkpoint was blocked"


@contextmanager
def replicating(directory: Path, version: str, *, initial_rows: int = 0) -> Iterator[Replication]:
    """A WAL database `app.db` with table t, replicated by `litestream <version> replicate` to `replica/`.

    The database exists in WAL mode before Litestream starts, as after a migration. On exit
    Litestream is stopped (if the test did not) and the app connection closed.
    """
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "app.db"
    app = sqlite3.connect(db)
    app.execute("PRAGMA journal_mode=WAL")
    app.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
    app.commit()
    run = Replication(version, db, directory / "replica", directory / "litestream.log", app)
    if initial_rows:
        run.write_rows(initial_rows)
    config = directory / "litestream.yml"
    config.write_text(config_text(version, [(db, run.replica)]))
    with open(run.log, "wb") as log:
        run.proc = subprocess.Popen(
            [str(litestream_binary(version)), "replicate", "-config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield run
    finally:
        run.stop()
        app.close()
