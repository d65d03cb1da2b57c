"""SQLite's WAL checksum chain, with the C loop when it was compiled.

The chain is sequential (each frame's checksum seeds the next), so it cannot be
vectorised; the C version in ``litefix/_native.c`` runs it at memory speed. This
module is the reference implementation and the fallback; tests check both agree.
"""

from __future__ import annotations

import struct

MASK = 0xFFFFFFFF


def py_checksum(data: bytes | memoryview, s0: int, s1: int, big_endian: bool) -> tuple[int, int]:
    count = len(data) // 4
    words = struct.unpack(f"{'>' if big_endian else '<'}{count}I", bytes(data[: count * 4]))
    for i in range(0, count - 1, 2):
        s0 = (s0 + words[i] + s1) & MASK
        s1 = (s1 + words[i + 1] + s0) & MASK
    return s0, s1


def py_scan_frames(
    data: bytes | memoryview, page_size: int, salt1: int, salt2: int, s0: int, s1: int, big_endian: bool
) -> tuple[int, int, int]:
    frame = 24 + page_size
    view = memoryview(data)
    n = 0
    for off in range(0, len(view) - frame + 1, frame):
        pgno, _commit, fs1, fs2, c1, c2 = struct.unpack_from(">6I", view, off)
        if (fs1, fs2) != (salt1, salt2) or pgno == 0:
            break
        x, y = py_checksum(view[off : off + 8], s0, s1, big_endian)
        x, y = py_checksum(view[off + 24 : off + frame], x, y, big_endian)
        if (x, y) != (c1, c2):
            break
        s0, s1 = x, y
        n += 1
    return n, s0, s1


try:
    from litefix._native import checksum, scan_frames

    NATIVE = True
except ImportError:  # no compiler at install time: correct, only slower
    checksum = py_checksum
    scan_frames = py_scan_frames
    NATIVE = False

__all__ = ["NATIVE", "checksum", "py_checksum", "py_scan_frames", "scan_frames"]
