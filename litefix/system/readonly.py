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

import itertools
import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import apsw

VFS_NAME = "litefix-readonly"
_WRITE_FLAGS = apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE | apsw.SQLITE_OPEN_DELETEONCLOSE


class _NoWrites:
    """What makes a file read-only to SQLite: writes refused, syncs and locks that do nothing. Shared by
    both kinds of file below, so the promise is written once."""

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


class _ReadOnlyFile(_NoWrites, apsw.VFSFile):
    pass


class _BytesNamedFile(_NoWrites):
    """A file whose name is not UTF-8, read through its descriptor.

    SQLite's unix VFS opens only by name, with O_NOFOLLOW, so neither the bytes name nor
    /proc/self/fd/N (a symlink) reaches it; reading a descriptor needs no name. Read-only, no
    locks, no shared memory: the same promises as _ReadOnlyFile (_NoWrites).
    """

    def __init__(self, path: bytes) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # O_NONBLOCK: never wait on a FIFO

    def xRead(self, amount: int, offset: int) -> bytes:
        return os.pread(self._fd, amount, offset)  # short at the end: apsw zero-fills it, as SQLite expects

    def xFileSize(self) -> int:
        return os.fstat(self._fd).st_size

    def xFileControl(self, op: int, ptr: int) -> bool:
        return False

    def xSectorSize(self) -> int:
        return 4096

    def xDeviceCharacteristics(self) -> int:
        return 0

    def xClose(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class _ReadOnlyVFS(apsw.VFS):
    def __init__(self) -> None:
        super().__init__(VFS_NAME, "")

    def xOpen(self, name: str | apsw.URIFilename | None, flags: list[int]) -> _ReadOnlyFile:
        filename = name.filename() if isinstance(name, apsw.URIFilename) else name
        real = _real_name(filename) if isinstance(filename, str) else None
        if not isinstance(filename, str) or not os.path.exists(real or filename):
            # A missing -wal or -journal must stay missing; SQLite copes with CANTOPEN.
            raise apsw.CantOpenError(f"litefix will not create {filename}")
        if not stat.S_ISREG(os.stat(real or filename).st_mode):
            # Opening a FIFO blocks until a writer comes, a device never ends: refuse, by kind.
            raise apsw.CantOpenError(f"{filename} is not a regular file")
        flags[0] = (flags[0] & ~_WRITE_FLAGS) | apsw.SQLITE_OPEN_READONLY
        if real is None:
            return _ReadOnlyFile("", name, flags)
        flags[1] = flags[0]  # what was opened: read-only, so SQLite never checkpoints or deletes through it
        return _BytesNamedFile(real)  # type: ignore[return-value]  # apsw takes any object with these methods

    def xAccess(self, pathname: str, flags: int) -> bool:
        real = _real_name(pathname)
        if real is None:
            return bool(super().xAccess(pathname, flags))
        # As the unix VFS answers "exists": an empty -wal or -journal counts as none.
        try:
            st = os.stat(real)
        except OSError:
            return False
        if flags == apsw.SQLITE_ACCESS_EXISTS:
            return not stat.S_ISREG(st.st_mode) or st.st_size > 0
        return os.access(real, os.R_OK) and flags != apsw.SQLITE_ACCESS_READWRITE

    def xFullPathname(self, name: str) -> str:
        # Keep an alias (see _utf8_path) as given: resolving it would bring back the name that is not UTF-8.
        if name.startswith((_ALIAS_PREFIX, _NAME_PREFIX)):
            return name
        return str(super().xFullPathname(name))

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
    """A name SQLite (UTF-8 only) can take for `path`: itself; through /proc/self/fd when a
    directory's name is not UTF-8 (the -wal beside it is then found the same way); or, when the
    file's own name is not UTF-8 (`app-\\xff.db`), a made-up name this VFS alone maps back to the
    file's bytes, the -wal and -journal SQLite derives from it included."""
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
        with _named(path) as name:
            yield name
        return
    fd = os.open(head, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"{_ALIAS_PREFIX}{fd}/{tail}"
    finally:
        os.close(fd)


_ALIAS_PREFIX = "/proc/self/fd/"
_NAME_PREFIX = "/litefix-non-utf8-name/"  # no such directory: only xOpen and xAccess below read it
_names: dict[str, bytes] = {}  # made-up name -> the file's real path, while a connection uses it
_names_lock = threading.Lock()
_serial = itertools.count()


@contextmanager
def _named(path: str) -> Iterator[str]:
    with _names_lock:
        name = f"{_NAME_PREFIX}{next(_serial)}/db"
        _names[name] = os.fsencode(path)
    try:
        yield name
    finally:
        with _names_lock:
            del _names[name]


def _real_name(name: str) -> bytes | None:
    """The real path behind a made-up name (or a -wal, -journal SQLite derived from it); else None."""
    if not name.startswith(_NAME_PREFIX):
        return None
    with _names_lock:
        for made_up, real in _names.items():
            if name.startswith(made_up):
                return real + name[len(made_up) :].encode("utf-8")
    return None


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")
