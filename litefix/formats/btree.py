"""Just enough of SQLite's b-tree format to read sqlite_schema and a small table, from bytes.

Why not ask SQLite: opened read-only beside a -wal and without its -shm, SQLite must rebuild
the wal-index by reading every frame of the -wal through litefix's read-only VFS, one Python
call per frame (about 60 ms for a 64 MB -wal). The schema lives in a handful of pages; with
the WAL scan's page map (pgno -> newest committed frame) they are read directly. Anything
unexpected raises BtreeError, and the caller falls back to SQLite, which then says exactly
what is wrong (https://sqlite.org/fileformat2.html#b_tree_pages).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from litefix.formats import FormatError

LEAF_TABLE = 0x0D
INTERIOR_TABLE = 0x05
MAX_DEPTH = 20
MAX_PAGES_VISITED = 10_000


class BtreeError(FormatError):
    """The bytes are not the b-tree they should be (or a writer changed them under us)."""


def varint(data: bytes, pos: int) -> tuple[int, int]:
    value = 0
    for i in range(8):
        byte = data[pos + i]
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos + i + 1
    return (value << 8) | data[pos + 8], pos + 9


@dataclass(frozen=True)
class Layout:
    page_size: int
    reserved: int
    encoding: int  # 1 UTF-8, 2 UTF-16le, 3 UTF-16be

    @property
    def usable(self) -> int:
        return self.page_size - self.reserved

    def text(self, raw: bytes) -> str:
        codec = {1: "utf-8", 2: "utf-16-le", 3: "utf-16-be"}.get(self.encoding, "utf-8")
        return raw.decode(codec, errors="replace")


PageReader = Callable[[int], bytes]


def _payload(layout: Layout, page: bytes, pos: int, size: int, read: PageReader) -> bytes:
    usable = layout.usable
    max_local = usable - 35
    if size <= max_local:
        return page[pos : pos + size]
    min_local = (usable - 12) * 32 // 255 - 23
    local = min_local + (size - min_local) % (usable - 4)
    if local > max_local:
        local = min_local
    out = bytearray(page[pos : pos + local])
    (overflow,) = struct.unpack_from(">I", page, pos + local)
    seen = 0
    while len(out) < size:
        if overflow == 0 or seen > MAX_PAGES_VISITED:
            raise BtreeError("overflow chain ends before the payload does")
        data = read(overflow)
        (overflow,) = struct.unpack_from(">I", data, 0)
        out += data[4 : 4 + min(usable - 4, size - len(out))]
        seen += 1
    return bytes(out)


def rows(layout: Layout, root: int, read: PageReader) -> Iterator[tuple[int, bytes]]:
    """(rowid, record bytes) of every row of the table b-tree at `root`, in rowid order."""
    visited = 0

    def walk(pgno: int, depth: int) -> Iterator[tuple[int, bytes]]:
        nonlocal visited
        visited += 1
        if depth > MAX_DEPTH or visited > MAX_PAGES_VISITED:
            raise BtreeError("the b-tree is deeper or larger than any real one")
        page = read(pgno)
        base = 100 if pgno == 1 else 0
        kind = page[base]
        (cells,) = struct.unpack_from(">H", page, base + 3)
        if kind == INTERIOR_TABLE:
            (right,) = struct.unpack_from(">I", page, base + 8)
            pointers = struct.unpack_from(f">{cells}H", page, base + 12)
            for ptr in pointers:
                (child,) = struct.unpack_from(">I", page, ptr)
                yield from walk(child, depth + 1)
            yield from walk(right, depth + 1)
        elif kind == LEAF_TABLE:
            pointers = struct.unpack_from(f">{cells}H", page, base + 8)
            for ptr in pointers:
                size, pos = varint(page, ptr)
                rowid, pos = varint(page, pos)
                yield rowid, _payload(layout, page, pos, size, read)
        else:
            raise BtreeError(f"page {pgno} is not a table b-tree page (type 0x{kind:02x})")

    yield from walk(root, 0)


def record(layout: Layout, data: bytes) -> list[object]:
    """Decode one record into Python values (int, float, str, bytes, None)."""
    header_size, pos = varint(data, 0)
    types = []
    while pos < header_size:
        t, pos = varint(data, pos)
        types.append(t)
    values: list[object] = []
    body = header_size
    for t in types:
        if t == 0:
            values.append(None)
        elif 1 <= t <= 6:
            width = (1, 2, 3, 4, 6, 8)[t - 1]
            values.append(int.from_bytes(data[body : body + width], "big", signed=True))
            body += width
        elif t == 7:
            values.append(struct.unpack_from(">d", data, body)[0])
            body += 8
        elif t in (8, 9):
            values.append(t - 8)
        elif t >= 12:
            n = (t - 12) // 2
            raw = data[body : body + n]
            values.append(raw if t % 2 == 0 else layout.text(raw))
            body += n
        else:
            raise BtreeError(f"reserved serial type {t} in a record")
        if body > len(data):
            raise BtreeError("a record runs past its payload")
    return values


def schema(layout: Layout, read: PageReader) -> list[tuple[str, str, int]]:
    """(type, name, rootpage) of every object in sqlite_schema."""
    out = []
    for _rowid, data in rows(layout, 1, read):
        values = record(layout, data)
        if len(values) < 4:
            raise BtreeError("a sqlite_schema row has fewer than 4 columns")
        kind, name, root = values[0], values[1], values[3]
        if not isinstance(kind, str) or not isinstance(name, str):
            raise BtreeError("a sqlite_schema row has no type or name")
        out.append((kind, name, root if isinstance(root, int) else 0))
    return out
