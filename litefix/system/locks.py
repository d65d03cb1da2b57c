"""Who holds which SQLite lock on a database, read from /proc/locks without taking any lock.

SQLite's unix VFS locks with POSIX byte-range locks (fcntl) at fixed offsets, so the kernel's
lock table says exactly which process is inside which part of SQLite's protocol
(https://sqlite.org/walformat.html#wal_locks, src/os_unix.c):

- WAL mode, on the -shm: byte 120 the write lock, 121 the checkpoint lock, 122 the recover lock,
  123..127 the read marks 0..4 (a reader holds a shared lock on the slot whose mark is the end of
  its snapshot), 128 the "DMS" byte every open connection holds shared.
- Rollback mode (and every connection's SHARED lock in WAL mode), on the database file: PENDING at
  0x40000000, RESERVED at +1, the SHARED range +2..+511 (a write lock over it is EXCLUSIVE).

The table lists only processes in our PID namespace (measured: a second container's locks are
absent), so "nobody holds a lock" can only be claimed for this namespace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from litefix.errors import os_error_sentence
from litefix.formats.shm import ShmError, WalIndex, read_shm

WAL_WRITE_LOCK = 120
WAL_CKPT_LOCK = 121
WAL_RECOVER_LOCK = 122
WAL_READ_LOCK_0 = 123
WAL_NREADER = 5
WAL_DMS_LOCK = 128

PENDING_BYTE = 0x40000000
RESERVED_BYTE = PENDING_BYTE + 1
SHARED_FIRST = PENDING_BYTE + 2
SHARED_SIZE = 510


@dataclass(frozen=True)
class LockRecord:
    """One line of /proc/locks: a POSIX lock held (or waited for, `blocked`) on a byte range."""

    pid: int
    write: bool  # WRITE (exclusive) rather than READ (shared)
    major: int
    minor: int
    inode: int
    start: int
    end: int | None  # None: to the end of the file (EOF)
    blocked: bool = False

    def covers(self, offset: int) -> bool:
        return self.start <= offset and (self.end is None or offset <= self.end)


@dataclass
class LockTable:
    records: list[LockRecord] = field(default_factory=list)
    error: str | None = None  # /proc/locks could not be read


def parse_locks(text: str) -> list[LockRecord]:
    """The POSIX lines of /proc/locks (`1: POSIX  ADVISORY  WRITE 4242 fe:00:2149194 120 120`).

    FLOCK and OFD locks are skipped: SQLite's unix VFS uses neither, and OFD lines carry no pid.
    A `->` line is a process waiting for that lock (it is blocked in fcntl(F_SETLKW)).
    """
    out: list[LockRecord] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8:
            continue
        blocked = parts[1] == "->"
        if blocked:
            parts = parts[:1] + parts[2:]
        if len(parts) < 8 or parts[1] != "POSIX" or parts[3] not in ("READ", "WRITE"):
            continue
        try:
            pid = int(parts[4])
            major_hex, minor_hex, inode = parts[5].split(":")
            start = int(parts[6])
            end = None if parts[7] == "EOF" else int(parts[7])
            record = LockRecord(
                pid, parts[3] == "WRITE", int(major_hex, 16), int(minor_hex, 16), int(inode), start, end
            )
        except ValueError:
            continue
        out.append(record if not blocked else LockRecord(**{**record.__dict__, "blocked": True}))
    return out


def read_lock_table(proc: str = "/proc") -> LockTable:
    try:
        with open(f"{proc}/locks", encoding="ascii", errors="replace") as fh:
            return LockTable(parse_locks(fh.read()))
    except OSError as exc:
        return LockTable(error=os_error_sentence(exc, f"{proc}/locks"))


@dataclass(frozen=True)
class FileId:
    """A file as the lock table names it: device and inode."""

    path: str
    major: int
    minor: int
    inode: int

    @classmethod
    def of(cls, path: str) -> FileId | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return cls(path, os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)


def records_on(table: LockTable, file: FileId | None, holders_of_inode: Iterable[int] = ()) -> list[LockRecord]:
    """The held (not waited-for) locks on `file`.

    The device must match too, except for a pid known (from /proc/PID/fd) to hold that inode:
    btrfs subvolumes report another device in stat() than the lock table prints.
    """
    if file is None:
        return []
    vouched = set(holders_of_inode)
    return [
        r
        for r in table.records
        if not r.blocked
        and r.inode == file.inode
        and ((r.major, r.minor) == (file.major, file.minor) or r.pid in vouched)
    ]


@dataclass(frozen=True)
class SqliteLocks:
    """SQLite's locks on one database, by role: which pids hold what, right now."""

    wal_writer: tuple[int, ...] = ()  # exclusive on -shm byte 120 (inside a write transaction)
    checkpointer: tuple[int, ...] = ()  # exclusive on byte 121 (running a checkpoint)
    recovering: tuple[int, ...] = ()  # byte 122 (rebuilding the wal-index)
    readers: Mapping[int, tuple[int, ...]] = field(default_factory=dict)  # read-mark slot -> pids (shared)
    connected: tuple[int, ...] = ()  # pids holding the DMS byte: an open WAL connection
    reserved: tuple[int, ...] = ()  # rollback mode: RESERVED (a write transaction has begun)
    pending: tuple[int, ...] = ()  # rollback mode: PENDING (a writer waits for readers to leave)
    exclusive: tuple[int, ...] = ()  # rollback mode: EXCLUSIVE (writing the database file)
    shared: tuple[int, ...] = ()  # SHARED on the database file (every reader, and every WAL connection)
    waiting: tuple[int, ...] = ()  # blocked in fcntl waiting for one of these locks

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        for name in ("wal_writer", "checkpointer", "recovering", "connected", "reserved", "pending", "exclusive"):
            value = getattr(self, name)
            if value:
                out[name] = list(value)
        if self.readers:
            out["read_marks_held"] = {str(slot): list(pids) for slot, pids in sorted(self.readers.items())}
        if self.shared:
            out["shared"] = list(self.shared)
        if self.waiting:
            out["waiting"] = list(self.waiting)
        return out


def _pids(records: Iterable[LockRecord], offset: int, *, write: bool | None = None) -> tuple[int, ...]:
    return tuple(sorted({r.pid for r in records if r.covers(offset) and (write is None or r.write == write)}))


def sqlite_locks(
    table: LockTable, db: FileId | None, shm: FileId | None, vouched: Mapping[int, Iterable[int]] | None = None
) -> SqliteLocks:
    """Interpret the lock table for one database. `vouched` maps an inode to the pids /proc/PID/fd
    shows holding it (see `records_on`)."""
    vouched = vouched or {}
    on_db = records_on(table, db, vouched.get(db.inode, ()) if db else ())
    on_shm = records_on(table, shm, vouched.get(shm.inode, ()) if shm else ())
    readers = {
        slot: pids for slot in range(WAL_NREADER) if (pids := _pids(on_shm, WAL_READ_LOCK_0 + slot, write=False))
    }
    exclusive = tuple(
        sorted(
            {r.pid for r in on_db if r.write and r.covers(SHARED_FIRST) and r.covers(SHARED_FIRST + SHARED_SIZE - 1)}
        )
    )
    waiting_files = {f.inode for f in (db, shm) if f is not None}
    waiting = tuple(sorted({r.pid for r in table.records if r.blocked and r.inode in waiting_files}))
    return SqliteLocks(
        wal_writer=_pids(on_shm, WAL_WRITE_LOCK, write=True),
        checkpointer=_pids(on_shm, WAL_CKPT_LOCK, write=True),
        recovering=_pids(on_shm, WAL_RECOVER_LOCK),
        readers=readers,
        connected=_pids(on_shm, WAL_DMS_LOCK, write=False),
        reserved=_pids(on_db, RESERVED_BYTE, write=True),
        pending=_pids(on_db, PENDING_BYTE, write=True),
        exclusive=exclusive,
        shared=_pids(on_db, SHARED_FIRST, write=False),
        waiting=waiting,
    )


@dataclass(frozen=True)
class LockSample:
    """SQLite's locks on one database and the wal-index they refer to, read at one moment."""

    taken: float  # time.monotonic()
    locks: SqliteLocks
    index: WalIndex | None  # the -shm header and read marks (None: no -shm, or unreadable)
    wal_size: int
    db_stamp: tuple[int, int]  # (size, mtime_ns) of the database file: rollback-mode commits change it
    error: str | None = None

    @property
    def progress(self) -> tuple[object, ...]:
        """Changes with every commit (wal-index change counter and last frame, or the database file)."""
        head = self.index.header if self.index is not None else None
        return (head.change, head.mx_frame, head.salts) if head else (), self.db_stamp

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"wal_bytes": self.wal_size, **self.locks.to_json()}
        if self.index is not None:
            out.update(mx_frame=self.index.header.mx_frame, n_backfill=self.index.n_backfill)
        return out


def _stat_pair(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (0, 0)
    return (st.st_size, st.st_mtime_ns)


def _read_index(shm_path: str) -> WalIndex | None:
    """The wal-index header, read twice if a writer was caught between its two copies."""
    for _ in range(3):
        try:
            index = read_shm(shm_path)
        except (OSError, ShmError):
            return None
        if index.copies_agree:
            return index
    return None


def take_sample(
    db: str, wal_path: str, shm_path: str, vouched: Mapping[int, Iterable[int]] | None = None
) -> LockSample:
    """Read /proc/locks and the -shm header once; nothing is opened for writing, nothing is locked."""
    now = time.monotonic()
    table = read_lock_table()
    db_id, shm_id = FileId.of(db), FileId.of(shm_path)
    index = _read_index(shm_path) if shm_id is not None else None
    wal_size = _stat_pair(wal_path)[0]
    locks = sqlite_locks(table, db_id, shm_id, vouched) if table.error is None else SqliteLocks()
    return LockSample(now, locks, index, wal_size, _stat_pair(db), table.error)
