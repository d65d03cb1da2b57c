"""Write LTX files for tests that need a replica file with chosen contents (ltx 0.5.2 layout).

Used to build a replica whose pages differ from the database's while every file stays valid,
and to check the C page walk against the Python reader. The encoding follows the measured
format in litestream-notes §4.5; verify_ltx() checks every file written here.
"""

from __future__ import annotations

import struct
from pathlib import Path

import lz4.block
from fastcrc import crc64

from litefix.formats.ltx_pages import _uvarint, verify_ltx


def write_ltx(path: Path, header: bytes, pages: dict[int, bytes]) -> None:
    """`header`: the 100 header bytes to keep; `pages`: pgno -> page, written as LZ4 blocks."""
    out = bytearray(header)
    crc = crc64.go_iso(header)
    index = bytearray()
    for pgno in sorted(pages):
        block = lz4.block.compress(pages[pgno], store_size=False)
        head = struct.pack(">IHI", pgno, 1, len(block))
        index += _uvarint(pgno) + _uvarint(len(out)) + _uvarint(len(head) + len(block))
        out += head + block
        crc = crc64.go_iso(pages[pgno], crc64.go_iso(head, crc))
    end = bytes(6)
    out += end
    crc = crc64.go_iso(end, crc)
    index += _uvarint(0)
    tail = bytes(index) + struct.pack(">QQ", len(index), 0)
    out += tail
    crc = crc64.go_iso(tail, crc)
    out += struct.pack(">Q", crc | (1 << 63))
    path.write_bytes(bytes(out))
    result = verify_ltx(path)
    assert result.ok, result.error


def snapshot_header(page_size: int, commit: int) -> bytes:
    """A header for a snapshot (TXID 1-1) without checksums, like Litestream 0.5.17 writes."""
    head = struct.pack(">4sIIIQQqQqqIIQ", b"LTX1", 2, page_size, commit, 1, 1, 0, 0, 0, 0, 0, 0, 0)
    return head + bytes(100 - len(head))
