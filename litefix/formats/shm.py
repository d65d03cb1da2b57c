"""The -shm wal-index header (https://sqlite.org/walformat.html#the_wal_index_file_format).

Only the first 136 bytes matter here: two copies of the 48-byte WalIndexHdr (SQLite
writes copy 2 then copy 1, so a reader that sees them differ caught a write in
progress or a torn file), then WalCkptInfo with nBackfill and the reader marks.
The header is in the host's byte order, except aSalt which is copied verbatim
from the -wal header.
"""

from __future__ import annotations

import os
import stat
import struct
import sys
from dataclasses import dataclass

from litefix.formats import FormatError, walsum

HEADER_COPY_SIZE = 48
CKPT_INFO_OFFSET = 96
MIN_SIZE = 136
READ_MARK_UNUSED = 0xFFFFFFFF


class ShmError(FormatError):
    """The -shm is too short or not a wal-index."""


@dataclass(frozen=True)
class IndexHeader:
    version: int
    change: int
    is_init: int
    big_endian_checksum: int
    page_size: int
    mx_frame: int
    n_page: int
    frame_checksum: tuple[int, int]
    salts: tuple[int, int]
    checksum: tuple[int, int]
    checksum_valid: bool


@dataclass(frozen=True)
class WalIndex:
    first: IndexHeader
    second: IndexHeader
    n_backfill: int
    read_marks: tuple[int, ...]
    n_backfill_attempted: int

    @property
    def copies_agree(self) -> bool:
        return self.first == self.second

    @property
    def header(self) -> IndexHeader:
        return self.first

    def to_json(self) -> dict[str, object]:
        h = self.first
        return {
            "is_init": bool(h.is_init),
            "change": h.change,
            "page_size": h.page_size,
            "mx_frame": h.mx_frame,
            "n_page": h.n_page,
            "n_backfill": self.n_backfill,
            "n_backfill_attempted": self.n_backfill_attempted,
            "read_marks": [None if m == READ_MARK_UNUSED else m for m in self.read_marks],
            "salt1": f"0x{h.salts[0]:08x}",
            "salt2": f"0x{h.salts[1]:08x}",
            "header_checksum_valid": h.checksum_valid,
            "header_copies_agree": self.copies_agree,
        }


def _parse_copy(data: bytes, offset: int, order: str) -> IndexHeader:
    raw = data[offset : offset + HEADER_COPY_SIZE]
    version, _unused, change = struct.unpack_from(order + "III", raw, 0)
    is_init, big_end = raw[12], raw[13]
    (sz,) = struct.unpack_from(order + "H", raw, 14)
    page_size = (sz & 0xFF00) | ((sz & 0x0001) << 16)
    mx_frame, n_page, fc1, fc2 = struct.unpack_from(order + "IIII", raw, 16)
    salt1, salt2 = struct.unpack_from(">II", raw, 32)  # raw bytes of the WAL header
    c1, c2 = struct.unpack_from(order + "II", raw, 40)
    # The header checksum runs over the first 40 bytes in native word order.
    valid = walsum.checksum(raw[:40], 0, 0, order == ">") == (c1, c2)
    return IndexHeader(
        version, change, is_init, big_end, page_size, mx_frame, n_page, (fc1, fc2), (salt1, salt2), (c1, c2), valid
    )


def parse_shm(data: bytes, byteorder: str = sys.byteorder) -> WalIndex:
    """Parse the first 136 bytes of a -shm written on a host of `byteorder`."""
    if len(data) < MIN_SIZE:
        raise ShmError(f"-shm is {len(data)} bytes, shorter than the {MIN_SIZE}-byte wal-index header")
    order = "<" if byteorder == "little" else ">"
    first = _parse_copy(data, 0, order)
    second = _parse_copy(data, HEADER_COPY_SIZE, order)
    info = struct.unpack_from(order + "6I", data, CKPT_INFO_OFFSET)
    (attempted,) = struct.unpack_from(order + "I", data, 128)
    return WalIndex(first, second, info[0], tuple(info[1:]), attempted)


def read_shm(path: str) -> WalIndex:
    """The wal-index header of the -shm at `path`. Opened without blocking and refused unless it is a
    regular file: a FIFO put at the -shm's name would otherwise hang the reader until a writer comes."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ShmError(f"{path} is not a regular file")
        return parse_shm(os.pread(fd, MIN_SIZE, 0))
    finally:
        os.close(fd)
