"""Reading files litefix did not write, without hanging on a FIFO or filling memory from a device.

Every path a user names (a config, a quarantine's manifest, a journal, a database to hash
or copy) could be `/dev/zero`, a FIFO nobody writes, or a directory. `open()` on a FIFO
blocks until a writer appears, and `read()` of `/dev/zero` never ends, so the kind is
decided by `fstat` on a descriptor opened with `O_NONBLOCK` (which returns at once for a
FIFO), and reads stop at a documented limit:

| what                    | limit         |
|-------------------------|---------------|
| a litestream.yml        | 4 MiB         |
| a quarantine manifest   | 16 MiB        |
| a repair journal        | 16 MiB        |

Hashes and copies have no size limit (databases are large), only the regular-file rule.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager

from litefix.errors import CannotInspect, LitefixError

CONFIG_LIMIT = 4 << 20
MANIFEST_LIMIT = 16 << 20
JOURNAL_LIMIT = 16 << 20
CHUNK = 4 << 20


class NotRegularFile(LitefixError):
    """A path that must be a regular file is a device, FIFO, socket or directory."""


def kind_of(mode: int) -> str:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISCHR(mode):
        return "character device"
    if stat.S_ISBLK(mode):
        return "block device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


@contextmanager
def open_regular(
    path: str | os.PathLike[str], what: str = "file", error: type[LitefixError] = CannotInspect
) -> Iterator[int]:
    """A blocking read descriptor on `path`, or `error` if it is not a regular file.

    OSError from the open itself propagates (the caller knows what a missing file means).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise error(
                f"{os.fsdecode(path)} is a {kind_of(mode)}, not a regular file: litefix will not read it as a {what}",
                f"point litefix at the real {what}",
            )
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        yield fd
    finally:
        os.close(fd)


def read_bytes(
    path: str | os.PathLike[str], limit: int, what: str = "file", error: type[LitefixError] = CannotInspect
) -> bytes:
    """The whole of a regular file no larger than `limit`; `error` otherwise."""
    with open_regular(path, what, error) as fd:
        chunks: list[bytes] = []
        size = 0
        while True:
            chunk = os.read(fd, min(CHUNK, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise error(
                    f"{os.fsdecode(path)} is larger than {limit >> 20} MiB: too large for a {what}",
                    f"a {what} is small; check that the path names the right file",
                )
    return b"".join(chunks)


def read_text(
    path: str | os.PathLike[str], limit: int, what: str = "file", error: type[LitefixError] = CannotInspect
) -> str:
    data = read_bytes(path, limit, what, error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{os.fsdecode(path)}:{line}: the {what} is not UTF-8 text", "save it as UTF-8") from None


def iter_chunks(path: str | os.PathLike[str], what: str = "file") -> Iterator[bytes]:
    """The bytes of a regular file, in chunks, for hashing and copying."""
    with open_regular(path, what, NotRegularFile) as fd:
        while chunk := os.read(fd, CHUNK):
            yield chunk


def is_regular(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (symlinks not followed); never opens it."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return False
        raise


def is_utf8(path: str) -> bool:
    """Can the name be written as UTF-8 (YAML, a SQLite filename)? A name whose bytes are not UTF-8
    (`app-\\xff.db`) comes back from the OS with surrogates, which cannot."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def sqlite_uri(path: str, query: str = "") -> str:
    """A `file:` URI that names `path` to SQLite's own VFS whatever its bytes: SQLite decodes %XX to
    the raw byte and opens that, so a name that is not UTF-8 works where a plain filename cannot."""
    from urllib.parse import quote

    uri = "file:" + quote(os.fsencode(os.path.abspath(path)), safe="/")
    return f"{uri}?{query}" if query else uri
