"""Open an SQLite database so that nothing next to it can change.

Measured with real files: a read-write open checkpoints and deletes the -wal on
close; `mode=ro` still creates a -shm (and sometimes a 0-byte -wal, which then
breaks Litestream 0.3 with `read header: EOF`). This VFS opens every file
read-only, refuses to create, write, truncate or delete anything, and makes locks
no-ops. Its files have no shared-memory methods, so with `locking_mode=EXCLUSIVE`
SQLite builds the wal-index in heap memory from the -wal instead of touching -shm.

The price: without locks a concurrent checkpoint can be seen half-done. Callers
treat "malformed" on a live database as inconclusive, not as corruption.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import apsw

VFS_NAME = "litefix-readonly"
_WRITE_FLAGS = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_DELETEONCLOSE


class _ReadOnlyFile(apsw.VFSFile):
    def xWrite(self, data: bytes, offset: int) -> None:
        raise apsw.ReadOnlyError("litefix opened this file read-only")

    def xTruncate(self, newsize: int) -> None:
        raise apsw.ReadOnlyError("litefix opened this file read-only")

    def xSync(self, flags: int) -> None:
        return None

    def xLock(self, level: int) -> None:
        return None

    def xUnlock(self, level: int) -> None:
        return None

    def xCheckReservedLock(self) -> bool:
        return False


class _ReadOnlyVFS(apsw.VFS):
    def __init__(self) -> None:
        super().__init__(VFS_NAME, "")

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> _ReadOnlyFile:
        filename = name.filename() if isinstance(name, apsw.URIFilename) else name
        if not isinstance(filename, str) or not os.path.exists(filename):
            # A missing -wal or -journal must stay missing; SQLite copes with CANTOPEN.
            raise apsw.CantOpenError(f"litefix will not create {filename}")
        if not stat.S_ISREG(os.stat(filename).st_mode):
            # Opening a FIFO blocks until a writer comes, a device never ends: refuse, by kind.
            raise apsw.CantOpenError(f"{filename} is not a regular file")
        flags[0] = (flags[0] & ~_WRITE_FLAGS) | apsw.SQLITE_OPEN_READONLY
        return _ReadOnlyFile("", name, flags)

    def xFullPathname(self, name: str) -> str:
        # Keep an alias (see _utf8_path) as given: resolving it would bring back the name that is not UTF-8.
        return name if name.startswith(_ALIAS_PREFIX) else str(super().xFullPathname(name))

    def xDelete(self, filename: str, syncdir: bool) -> None:
        raise apsw.ReadOnlyError(f"litefix will not delete {filename}")


_vfs: list[_ReadOnlyVFS] = []
_vfs_lock = threading.Lock()


def _ensure_vfs() -> None:
    """Register the VFS once per process, even when `litefix check` diagnoses in threads."""
    with _vfs_lock:
        if not _vfs:
            _vfs.append(_ReadOnlyVFS())


@contextmanager
def open_readonly(path: str, *, ignore_wal: bool = False) -> Iterator[apsw.Connection]:
    """A connection that reads the database plus its committed WAL frames and writes nothing.

    `ignore_wal` reads the database file alone, for when the -wal beside it is foreign.
    """
    _ensure_vfs()
    with _utf8_path(os.path.abspath(path)) as name:
        uri = "file:" + _quote(name) + "?mode=ro"
        if ignore_wal or not os.path.exists(os.path.realpath(path) + "-wal"):
            # SQLite insists on opening (creating) a -wal for a WAL-mode file; with none
            # there, the file alone is the whole database, so read it as immutable.
            uri += "&immutable=1"
        con = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI, vfs=VFS_NAME)
        try:
            con.execute("PRAGMA locking_mode=EXCLUSIVE")
            yield con
        finally:
            con.close()


@contextmanager
def _utf8_path(path: str) -> Iterator[str]:
    """A name SQLite (UTF-8 only) can take for `path`: itself, or through /proc/self/fd when a
    directory's name is not UTF-8 (the -wal beside it is then found the same way)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        yield path
        return
    head, tail = os.path.split(path)
    try:
        tail.encode("utf-8")
    except UnicodeEncodeError:
        raise apsw.CantOpenError(f"SQLite cannot open a file whose own name is not UTF-8 ({path!r})") from None
    fd = os.open(head, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"{_ALIAS_PREFIX}{fd}/{tail}"
    finally:
        os.close(fd)


_ALIAS_PREFIX = "/proc/self/fd/"


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
