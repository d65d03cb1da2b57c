"""One replicator per volume: a lock that lives on the volume itself.

`/proc` shows only the processes of this PID namespace, so a second container on the same storage
(Kamal's web and job roles, the new container of a rolling deploy) is invisible there, and two
`litestream replicate` on one database and replica corrupt the replica (measured: every replica of
four restored "malformed" on 0.3.13; "nonsequential page numbers" on 0.5.17). An advisory lock on
a file beside the databases is seen by every process that opens that file, whatever its namespace:
`flock` locks belong to the open file, in the one kernel that serves the volume. `litefix boot`
holds `<db dir>/.litefix/boot.lock` for its whole life and writes what it is doing into it, so the
next boot can name it, and a boot that does not replicate can wait until the databases are in place.

(Across machines — NFS, a network block device attached twice — no kernel sees both; one replicator
per volume is then the orchestrator's job.)

SQLite's own locks add evidence about processes that never took this lock (a bare `litestream
replicate` in another container): `fcntl(F_GETLK)` on a read-only descriptor of the `-shm` takes no
lock and reports a conflicting one from any namespace, with pid 0 when the holder is in another one
(litestream-notes §12). /proc/locks is no help there: it lists other namespaces' locks not at all.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from litefix.errors import Refused, describe_os_error
from litefix.model import JSON

LOCK_DIR = ".litefix"
LOCK_NAME = "boot.lock"
POLL = 0.1
# A `check` probing the lock holds it shared for microseconds; a boot that finds it taken tries
# again for this long before it calls the lock held.
PROBE_GRACE = 0.5

# Phases a boot writes into its lock file (a non-replicating boot waits for REPLICATING).
RESTORING, PREPARING, CHECKING, REPLICATING, PAUSED = "restoring", "preparing", "checking", "replicating", "paused"

# SQLite's lock bytes in a -shm (WAL mode): 120 write, 121 checkpoint, 122 recover, 123-127 read marks.
SHM_LOCKS = {120: "write", 121: "checkpoint", 123: "read", 124: "read", 125: "read", 126: "read", 127: "read"}
_FLOCK = "hhqqi4x"  # struct flock on Linux x86-64/arm64: l_type, l_whence, l_start, l_len, l_pid


def lock_paths(databases: Sequence[str]) -> list[str]:
    """One lock per directory holding a database, in a fixed order (two boots never deadlock)."""
    dirs = sorted({os.path.dirname(os.path.realpath(db)) for db in databases})
    return [os.path.join(d, LOCK_DIR, LOCK_NAME) for d in dirs]


@dataclass(frozen=True)
class LockHolder:
    """What a boot holding the lock wrote about itself."""

    path: str
    pid: int | None = None
    host: str = ""
    phase: str = ""
    since: float | None = None
    command: str = ""
    socket: str = ""  # its control socket (gate/control.py), for a repair to pause it

    def describe(self) -> str:
        who = f"litefix boot (pid {self.pid} in its own PID namespace, host {self.host or '?'})"
        when = time.strftime(" since %H:%M:%S UTC", time.gmtime(self.since)) if self.since else ""
        what = f", {self.phase}" if self.phase else ""
        return f"{who} holds {self.path}{when}{what}"

    def to_json(self) -> dict[str, JSON]:
        return {
            "lock": self.path,
            "pid": self.pid,
            "host": self.host,
            "phase": self.phase,
            "since": self.since,
            "command": self.command,
        }


def _holder(path: str, text: str) -> LockHolder:
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    pid = doc.get("pid")
    since = doc.get("since")
    return LockHolder(
        path,
        pid if isinstance(pid, int) else None,
        str(doc.get("host", "")),
        str(doc.get("phase", "")),
        float(since) if isinstance(since, int | float) else None,
        str(doc.get("command", "")),
        str(doc.get("socket", "")),
    )


def probe(path: str) -> LockHolder | None:
    """Who holds the boot lock at `path`, or None. Read-only: opens the file (if it exists) for
    reading and asks for a shared lock without waiting, released at once; never creates anything."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _holder(path, os.pread(fd, 4096, 0).decode(errors="replace"))
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def held_by_others(databases: Sequence[str]) -> list[LockHolder]:
    return [h for path in lock_paths(databases) if (h := probe(path)) is not None]


class VolumeLock:
    """The boot lock on every directory of these databases, held until `release` (or the process
    ends: the kernel drops it with the last descriptor, so a killed boot never leaves it held)."""

    def __init__(self, databases: Sequence[str], command: str = "") -> None:
        self.paths = lock_paths(databases)
        self.command = command
        self._fds: dict[str, int] = {}
        self._since = time.time()
        self.phase = ""
        self.socket = ""  # set once boot listens for repairs

    def acquire(self, wait: float = 0.0, log: Callable[[str], None] = lambda _m: None) -> None:
        """Take every lock, waiting up to `wait` seconds for a holder to let go; Refused naming it."""
        deadline = time.monotonic() + max(wait, PROBE_GRACE)
        announced = False
        for path in self.paths:
            fd = self._open(path)
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = _holder(path, os.pread(fd, 4096, 0).decode(errors="replace"))
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        self.release()
                        raise Refused(
                            f"another {holder.describe()}: it replicates these databases (another container "
                            "on this volume?)",
                            "one replicator per volume: stop the other container first, run this one with "
                            "--no-replicate (or --replicate-for), or wait for it with --wait SECONDS",
                        ) from None
                    if wait and not announced:
                        log(f"waiting up to {wait:.0f}s for the {holder.describe()}")
                        announced = True
                    time.sleep(POLL)
            self._fds[path] = fd
        self.set_phase("starting")

    def _open(self, path: str) -> int:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise describe_os_error(
                exc,
                path,
                "take the boot lock",
                Refused,
                "boot needs to write to the databases' directory (it keeps its lock and quarantine in .litefix/)",
            ) from None

    def set_phase(self, phase: str) -> None:
        """Say what this boot is doing, for the next boot and for the roles that wait on it."""
        self.phase = phase
        doc = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "phase": phase,
            "since": self._since,
            "command": self.command[:500],
            "socket": self.socket,
        }
        data = json.dumps(doc).encode() + b"\n"
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)

    def release(self) -> None:
        for fd in self._fds.values():
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock
        self._fds.clear()

    def __enter__(self) -> VolumeLock:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


def wait_for_replicator(databases: Sequence[str], timeout: float, log: Callable[[str], None] = lambda _m: None) -> str:
    """For a boot that does not replicate: return once every database is in place — the replicating
    boot says it replicates, or, with no boot holding the lock, every database file exists. Bounded:
    Refused after `timeout` seconds, naming what it waited for."""
    deadline = time.monotonic() + timeout
    announced = False
    while True:
        holders = held_by_others(databases)
        missing = [db for db in databases if not os.path.exists(db)]
        if holders and all(h.phase in (REPLICATING,) for h in holders) and not missing:
            return f"the databases are in place: {holders[0].describe()}"
        if not holders and not missing:
            return "every database exists and no litefix boot is restoring them"
        if time.monotonic() >= deadline:
            why = holders[0].describe() if holders else f"missing: {', '.join(missing)}"
            raise Refused(
                f"the databases were not in place within {timeout:.0f}s ({why}); the app was not started",
                "start the role that replicates first (litefix boot without --no-replicate), or raise --wait",
            )
        if not announced:
            log(
                "waiting for the replicating boot to put the databases in place ("
                + (holders[0].describe() if holders else f"missing: {', '.join(missing)}")
                + ")"
            )
            announced = True
        time.sleep(POLL)


@dataclass(frozen=True)
class ForeignLock:
    """A SQLite lock on a -shm held by a process this PID namespace cannot see."""

    shm: str
    byte: int
    kind: str  # "write", "checkpoint", "read"
    mode: str  # "shared" or "exclusive"

    def to_json(self) -> dict[str, JSON]:
        return {"shm": self.shm, "byte": self.byte, "lock": self.kind, "mode": self.mode}


def foreign_sqlite_locks(db: str) -> list[ForeignLock]:
    """SQLite locks on `db`'s -shm held from another PID namespace (F_GETLK reports their pid as 0).
    Takes no lock; a read-only descriptor, closed at once."""
    shm = os.path.realpath(db) + "-shm"
    try:
        fd = os.open(shm, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    found = []
    try:
        for byte, kind in SHM_LOCKS.items():
            query = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, byte, 1, 0)
            try:
                answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
            except OSError as exc:
                if exc.errno in (errno.EINVAL, errno.ENOLCK):
                    return []
                raise
            l_type, _whence, _start, _len, pid = struct.unpack(_FLOCK, answer)
            if l_type != fcntl.F_UNLCK and pid == 0:
                found.append(ForeignLock(shm, byte, kind, "exclusive" if l_type == fcntl.F_WRLCK else "shared"))
    finally:
        os.close(fd)
    return found
