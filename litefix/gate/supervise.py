"""Process supervision for `litefix boot`: children in their own groups, signals forwarded, orphans
reaped, Litestream stopped only after its final sync.

Kept apart from the boot steps (boot.py) so that the roles that run the app without Litestream use
the same signal handling and exit codes.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType

from litefix.config import LitestreamConfig
from litefix.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, LitefixError, UsageError, describe_os_error
from litefix.system.children import signal_group, start_child

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
POLL = 0.05
Log = Callable[[str], None]


class BootFailed(LitefixError):
    """A boot step failed; nothing after it ran. The exit code is the step's."""

    def __init__(self, message: str, hint: str = "", exit_code: int = EXIT_FINDINGS) -> None:
        super().__init__(message, hint)
        self.exit_code = exit_code


DRAIN_LIMIT = 5.0  # never hold a shutdown longer than this (docker stop gives 10 s in all)


def wait_until_idle_0_3(config: LitestreamConfig, databases: Sequence[str]) -> None:
    """Let Litestream 0.3 finish its own work before SIGTERM, so that its shutdown logs no error.

    0.3.13's `DB.Close` runs one more `Sync` and a final replica sync (db.go v0.3.13), and two things
    go wrong there when work is pending (measured: 5 of 25 stops right after the app's last write):
    a checkpoint that is due re-acquires its read lock with the already-cancelled context (`error
    closing db … release read lock: context canceled`, exit 1), and the final replica sync races
    the replica's own goroutine for the same segment (`… .wal.lz4.tmp: no such file or directory`).
    So wait until no checkpoint is due (the -wal holds at most Litestream's own frame, or the file
    is younger than checkpoint-interval) and the -wal, the shadow WAL and a file replica have been
    still for a monitor plus a sync interval — at most DRAIN_LIMIT seconds. Data is safe either
    way: the final sync happens in both versions (measured)."""
    from litefix.formats.wal import scan_wal

    def settings(db: str) -> tuple[float, float, float, int, list[str]]:
        entry = config.find_db(db)
        if entry is None:
            return 60.0, 1.0, 1.0, 1000, []
        replica = entry.replica
        watched = [entry.meta_dir] + ([replica.path] if replica and replica.type == "file" and replica.path else [])
        return (
            entry.checkpoint_interval or 60.0,
            entry.monitor_interval or 1.0,
            (replica.sync_interval if replica else None) or 1.0,
            entry.min_checkpoint_page_count or 1000,
            watched,
        )

    def checkpoint_due(db: str) -> bool:
        interval, monitor, _, min_pages, _ = settings(db)
        try:
            frames = scan_wal(db + "-wal").valid_frames if os.path.exists(db + "-wal") else 0
            age = time.time() - os.stat(db).st_mtime
        except OSError:
            return False
        return frames > 1 and (frames >= min_pages or age > interval - monitor - 0.25)

    def fingerprint(db: str) -> tuple[int, ...]:
        stamps = []
        for path in [db + "-wal", *settings(db)[4]]:
            for root, _dirs, files in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
                for name in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(os.path.join(root, name))
                        stamps += [st.st_size, st.st_mtime_ns]
        return tuple(stamps)

    deadline = time.monotonic() + DRAIN_LIMIT
    seen = {db: (fingerprint(db), time.monotonic()) for db in databases}
    while time.monotonic() < deadline:
        idle = True
        for db in databases:
            now, current = time.monotonic(), fingerprint(db)
            if current != seen[db][0]:
                seen[db] = (current, now)
            _, monitor, sync, _, _ = settings(db)
            if checkpoint_due(db) or now - seen[db][1] < monitor + sync:
                idle = False
        if idle:
            return
        time.sleep(POLL)


def stop_litestream(litestream: subprocess.Popen[bytes], timeout: float, log: Log) -> None:
    """SIGTERM (its final sync runs on that), then SIGKILL after `timeout`. Never SIGHUP: Go's default
    action for it kills Litestream without the final sync (measured on 0.3.13 and 0.5.17)."""
    if litestream.returncode is not None or litestream.poll() is not None:
        return  # it already exited (and said why)
    litestream.send_signal(signal.SIGTERM)
    stopped = reap({litestream.pid: litestream}, timeout)
    if stopped is None:
        log(f"Litestream did not stop within {timeout:.0f}s of SIGTERM: killing it")
        litestream.kill()
        stopped = reap_first({litestream.pid: litestream})
    if stopped[1]:
        log(f"Litestream exited with {stopped[1]} while stopping (its log above says why)")


# --- processes and signals --------------------------------------------------------------------------


def reap(
    wanted: dict[int, subprocess.Popen[bytes]],
    timeout: float | None = None,
    until: Callable[[], bool] | None = None,
) -> tuple[int, int] | None:
    """Wait until one of `wanted` exits and return (pid, exit code, negative for a signal); None after
    `timeout`, or as soon as `until()` is true (a control request). Any other child is reaped on the
    way: as PID 1, litefix inherits the app's orphans."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for proc in wanted.values():
            if proc.returncode is not None:
                return proc.pid, proc.returncode
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            pid, status = 0, 0
        if pid in wanted:
            wanted[pid].returncode = os.waitstatus_to_exitcode(status)
            continue
        if pid:
            continue  # an orphan, reaped
        if deadline is not None and time.monotonic() > deadline:
            return None
        if until is not None and until():
            return None
        time.sleep(POLL)


def reap_first(wanted: dict[int, subprocess.Popen[bytes]]) -> tuple[int, int]:
    done = reap(wanted)
    assert done is not None  # no timeout
    return done


class Signals:
    """SIGTERM, SIGINT and SIGHUP go to the current child's process group (the prepare command or the
    app); the first one is remembered, so that a boot interrupted before the app stops cleanly."""

    def __init__(self) -> None:
        self.received: int | None = None
        self.target: int | None = None  # a process group id
        self._previous: dict[int, object] = {}

    def __enter__(self) -> Signals:
        for sig in FORWARDED:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)  # type: ignore[arg-type]

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if self.target is not None:
            signal_group(self.target, signum)

    def stop_if_received(self, during: str) -> None:
        if self.received is not None:
            name = signal.Signals(self.received).name
            raise BootFailed(f"{name} while {during}: stopped before the app started", "", EXIT_INTERRUPTED)


def _exit_code(code: int | None) -> int:
    """A child's exit code as a shell reports it: 128+N for death by signal N."""
    if code is None:
        return EXIT_INTERRUPTED
    return 128 - code if code < 0 else code


def start_app(app: Sequence[str]) -> subprocess.Popen[bytes]:
    """The app in its own process group, dying with boot; a command that cannot start is a usage error."""
    try:
        return start_child(app)
    except OSError as exc:
        raise describe_os_error(exc, app[0], "run the app", UsageError, "check the command after `--`") from None


def run_app(app: Sequence[str], signals: Signals, log: Log) -> int:
    """Run the app with no Litestream of its own (a role that does not replicate): signals reach it,
    and its exit code is boot's."""
    proc = start_app(app)
    signals.target = proc.pid
    log(f"app started (pid {proc.pid}), no Litestream of its own: {' '.join(app)}")
    if signals.received is not None:
        signal_group(proc.pid, signals.received)
    _, code = reap_first({proc.pid: proc})
    signals.target = None
    return _exit_code(code)
