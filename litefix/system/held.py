"""What a process still holds of a replaced database, set beside the file now at the path.

When a database is replaced under a running Litestream, two copies exist: the file at the path
and the old inode Litestream keeps open (readable at `/proc/PID/fd/N` by root or the same user,
even when deleted). Which one holds the newest data decides the repair, so it is read here, never
guessed: each file's header, size, mtime and schema (the file alone, without a -wal: a shared
-wal belongs to only one of them), and whether their pages are equal.

Everything is read-only and bounded: 100 header bytes, the few pages the schema needs, and the
two files compared page by page in a stream (two pages in memory), only up to COMPARE_LIMIT.
The held file may be written while it is read (Litestream checkpoints into it), so a comparison
is kept only when both files' size and mtime were the same before and after it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from litefix.errors import CannotInspect, os_error_sentence
from litefix.formats.btree import BtreeError
from litefix.formats.sqlite_header import HEADER_SIZE, DatabaseHeader, HeaderError, parse_header
from litefix.system.files import kind_of, open_regular

COMPARE_LIMIT = 256 * 1024 * 1024  # bytes per file read to compare pages; beyond it, say "not compared"
ATTEMPTS = 3  # a comparison raced by a writer is tried again this many times in all


@dataclass(frozen=True)
class CopyFacts:
    """One copy of the database as read: `error` says why it could not be."""

    where: str  # the path, or /proc/PID/fd/N
    size: int = 0
    mtime_ns: int = 0
    header: DatabaseHeader | None = None
    tables: tuple[str, ...] | None = None  # the file alone, without its -wal; None when unreadable
    error: str | None = None

    @property
    def has_litestream_tables(self) -> bool | None:
        if self.tables is None:
            return None
        return {"_litestream_seq", "_litestream_lock"} <= set(self.tables)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"file": self.where}
        if self.error:
            out["error"] = self.error
            return out
        out.update(size=self.size, mtime_ns=self.mtime_ns)
        if self.header is not None:
            h = self.header
            out.update(change_counter=h.change_counter, page_count=h.page_count, schema_cookie=h.schema_cookie)
        if self.tables is not None:
            out["litestream_tables"] = self.has_litestream_tables
        return out


@dataclass(frozen=True)
class PageComparison:
    """The two files page by page: `compared` False says why not (too big, raced, unreadable)."""

    compared: bool
    identical: bool = False
    equal_pages: int = 0
    different_pages: int = 0
    why_not: str = ""

    def to_json(self) -> dict[str, object]:
        if not self.compared:
            return {"compared": False, "why_not": self.why_not}
        return {
            "compared": True,
            "identical": self.identical,
            "equal_pages": self.equal_pages,
            "different_pages": self.different_pages,
        }


def read_copy(where: str) -> CopyFacts:
    """Header, size, mtime and tables of one database file (or held descriptor), read-only."""
    from litefix.system.schema import SchemaError, read_schema_from_pages

    try:
        st = os.stat(where)
        if not stat.S_ISREG(st.st_mode):  # a FIFO put at the path would block the open for ever
            return CopyFacts(where, error=f"{where} is a {kind_of(st.st_mode)}, not a database file")
        with open_regular(where, "database") as fd:
            head = os.read(fd, HEADER_SIZE)
    except CannotInspect as exc:
        return CopyFacts(where, error=exc.message)
    except OSError as exc:
        return CopyFacts(where, error=os_error_sentence(exc, where))
    try:
        header = parse_header(head)
    except HeaderError as exc:
        return CopyFacts(where, st.st_size, st.st_mtime_ns, error=f"{where}: {exc}")
    try:
        tables: tuple[str, ...] | None = read_schema_from_pages(where, header, None).tables
    except (BtreeError, SchemaError, OSError, ValueError):
        tables = None  # a page raced by a writer, cut short or undecodable: the other facts still stand
    return CopyFacts(where, st.st_size, st.st_mtime_ns, header, tables)


def _identity(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns


def compare_pages(path: str, held: str, page_size: int, limit: int = COMPARE_LIMIT) -> PageComparison:
    """Are the two files equal page by page? Streamed, two pages in memory; a read that a writer
    raced (a size or mtime that moved while it ran) is tried again, and given up after ATTEMPTS."""
    try:
        sizes = os.stat(path).st_size, os.stat(held).st_size
    except OSError as exc:
        return PageComparison(False, why_not=os_error_sentence(exc, held))
    if max(sizes) > limit:
        return PageComparison(False, why_not=f"larger than {limit >> 20} MiB: not compared, to keep diagnose cheap")
    for _ in range(ATTEMPTS):
        try:
            before = _identity(path), _identity(held)
            equal = different = 0
            with open_regular(path, "database") as a, open_regular(held, "database") as b:
                while True:
                    left, right = os.read(a, page_size), os.read(b, page_size)
                    if not left and not right:
                        break
                    if left == right:
                        equal += 1
                    else:
                        different += 1
            if (_identity(path), _identity(held)) == before:
                return PageComparison(True, different == 0, equal, different)
        except CannotInspect as exc:
            return PageComparison(False, why_not=exc.message)
        except OSError as exc:
            return PageComparison(False, why_not=os_error_sentence(exc, held))
    return PageComparison(False, why_not="a writer changed the files while they were compared")
