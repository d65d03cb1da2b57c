"""The C loops agree with the libraries they stand in for, byte for byte."""

from __future__ import annotations

import os
import random
from array import array
from pathlib import Path

import pytest
from fastcrc import crc64

from litefix import _native
from litefix.formats.ltx import page_checksum
from litefix.formats.ltx_pages import _python_page_sums, ltx_page_sums
from tests.ltx_writer import snapshot_header, write_ltx


@pytest.mark.parametrize("size", [0, 1, 7, 15, 16, 31, 32, 48, 4096, 4100, 65536 + 3])
def test_crc64_iso_matches_fastcrc_with_and_without_carryless_folding(size: int) -> None:
    data = random.Random(size).randbytes(size)
    for fold in (True, False):
        assert _native.crc64_iso(data, 0, fold) == crc64.go_iso(data)
        start = crc64.go_iso(b"litefix")
        assert _native.crc64_iso(data, start, fold) == crc64.go_iso(data, start)


def test_page_checksums_match_the_python_definition_and_skip_the_lock_page() -> None:
    ps = 4096
    data = random.Random(1).randbytes(ps * 20)
    sums = array("Q", _native.page_checksums(data, ps, 100, 105))
    for i, value in enumerate(sums):
        pgno = 100 + i
        assert value == (0 if pgno == 105 else page_checksum(pgno, data[i * ps : (i + 1) * ps]))


def test_ltx_page_sums_in_c_match_the_python_reader_and_check_the_file(tmp_path: Path) -> None:
    rng = random.Random(2)
    pages = {p: rng.randbytes(2048) + bytes(2048) for p in range(1, 300)}
    path = tmp_path / "0000000000000001-0000000000000001.ltx"
    write_ltx(path, snapshot_header(4096, max(pages)), pages)
    assert ltx_page_sums(path) == _python_page_sums(path)
    data = bytearray(path.read_bytes())
    data[5000] ^= 0x01  # inside compressed data: either LZ4 fails or the file checksum does
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError):
        ltx_page_sums(path)


def test_the_fast_path_is_built() -> None:
    """Without it compare falls back to Python and runs ~10x slower; CI must build it."""
    assert hasattr(_native, "ltx_checksums") and os.name == "posix"
