"""LTX page blocks: streaming the pages of an LTX file (LZ4 frames or blocks, checksummed), verifying a
file, random access through its page index, and page checksums at memory speed (C, else Python).

Kept apart from ltx.py, which reads what names, headers, trailers and directories say: these read the
pages themselves.
"""

from __future__ import annotations

import os
import struct
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import lz4.block
import lz4.frame
from fastcrc import crc64

from litefix.formats.ltx import (
    CHECKSUM_FLAG,
    HEADER_SIZE,
    INDEX_SIZE_FIELD,
    MIN_FILE_SIZE,
    PAGE_FLAG_SIZE,
    PAGE_HEADER_SIZE,
    PAGE_SIZE_FIELD,
    READ_BYTES,
    TRAILER_SIZE,
    DatabaseChecksum,
    LtxError,
    LtxHeader,
    LtxTrailer,
    page_checksum,
    parse_ltx_header,
    parse_ltx_trailer,
    read_ltx_header,
)
from litefix.formats.oserror import os_error_sentence

# --- streaming the page block ------------------------------------------------------------


def _uvarint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Source:
    """Front-to-back reads of file[start:end] through one bounded buffer, with a one-step unread."""

    def __init__(self, fh: BinaryIO, start: int, end: int) -> None:
        self._fh = fh
        self._buf = b""
        self._pos = 0
        self._base = start  # file offset of _buf[0]
        self._end = end
        fh.seek(start)

    @property
    def offset(self) -> int:
        return self._base + self._pos

    @property
    def remaining(self) -> int:
        return self._end - self.offset

    def _refill(self) -> bool:
        self._base += len(self._buf)
        want = min(READ_BYTES, self._end - self._base)
        self._buf = self._fh.read(want) if want > 0 else b""
        self._pos = 0
        return bool(self._buf)

    def read_some(self, limit: int) -> bytes:
        """Up to `limit` buffered bytes; b"" at the end. Safe to `unread` what it returned."""
        if self._pos == len(self._buf) and not self._refill():
            return b""
        out = self._buf[self._pos : self._pos + limit]
        self._pos += len(out)
        return out

    def unread(self, n: int) -> None:
        self._pos -= n

    def read(self, n: int, what: str) -> bytes:
        if n > self.remaining:
            raise LtxError(
                f"truncated or corrupt: {what} needs {n} bytes at offset {self.offset}, "
                f"but only {max(self.remaining, 0)} remain before the {TRAILER_SIZE}-byte trailer"
            )
        parts = []
        while n:
            part = self.read_some(n)
            if not part:  # the file shrank while we read it
                raise LtxError(f"truncated: {what} at offset {self.offset}: the file shrank while being read")
            parts.append(part)
            n -= len(part)
        return parts[0] if len(parts) == 1 else b"".join(parts)


class _LtxReader:
    """One pass over an LTX file: pages first, then index and trailer, checksumming as it goes."""

    def __init__(self, fh: BinaryIO) -> None:
        self._fh = fh
        self.size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEADER_SIZE)
        self.header = parse_ltx_header(head)
        if self.size < MIN_FILE_SIZE:
            raise LtxError(f"truncated: file is {self.size} bytes, an LTX file is at least {MIN_FILE_SIZE}")
        self._crc = crc64.go_iso(head)
        self._src = _Source(fh, HEADER_SIZE, self.size - TRAILER_SIZE)
        # What the page index must hold, built from the frames as read (both are in page
        # order), so the index is checked without keeping a table of every page.
        self._index_crc = 0
        self._index_len = 0
        self.page_count = 0
        self.min_pgno: int | None = None
        self.max_pgno: int | None = None
        self.encodings: set[str] = set()
        self.db_checksum = DatabaseChecksum(self.header.page_size)
        self.pages_done = False

    def _hash(self, data: bytes) -> None:
        self._crc = crc64.go_iso(data, self._crc)

    def _expected_pgno(self, prev: int) -> int:
        nxt = prev + 1
        return nxt + 1 if nxt == self.header.lock_pgno else nxt

    def pages(self) -> Iterator[tuple[int, bytes]]:
        header, src = self.header, self._src
        prev = 0
        while True:
            offset = src.offset
            raw = src.read(PAGE_HEADER_SIZE, "page header")
            self._hash(raw)
            pgno, flags = struct.unpack(">IH", raw)
            if pgno == 0 and flags == 0:
                break
            where = f"page {pgno} at offset {offset}"
            if pgno == 0:
                raise LtxError(f"page frame at offset {offset} has page number 0 and flags 0x{flags:04x}")
            if flags & ~PAGE_FLAG_SIZE:
                raise LtxError(f"{where} has unknown flags 0x{flags:04x}")
            if pgno > header.commit:
                raise LtxError(f"{where} is beyond the {header.commit} pages the header says the database has")
            if pgno == header.lock_pgno:
                raise LtxError(f"{where} is the lock page, which LTX files never hold")
            if pgno <= prev:
                raise LtxError(f"{where} follows page {prev}: pages must be in ascending order")
            if header.is_snapshot and pgno != self._expected_pgno(prev):
                raise LtxError(f"snapshot skips from page {prev} to {pgno}: a snapshot holds every page")
            data = self._read_block(where) if flags & PAGE_FLAG_SIZE else self._read_frame(where)
            self._hash(data)
            entry = _uvarint(pgno) + _uvarint(offset) + _uvarint(src.offset - offset)
            self._index_crc = crc64.go_iso(entry, self._index_crc)
            self._index_len += len(entry)
            self.page_count += 1
            self.min_pgno = self.min_pgno or pgno
            self.max_pgno = prev = pgno
            if header.is_snapshot:
                self.db_checksum.add(pgno, data)
            yield pgno, data
        if header.is_snapshot and header.commit:
            last = header.commit - 1 if header.commit == header.lock_pgno else header.commit
            if prev != last:
                raise LtxError(f"snapshot ends at page {prev}, but the header says the database has {last} pages")
        self.pages_done = True

    def _read_block(self, where: str) -> bytes:
        page_size = self.header.page_size
        raw = self._src.read(PAGE_SIZE_FIELD, f"size of {where}")
        self._hash(raw)
        (n,) = struct.unpack(">I", raw)
        bound = page_size + page_size // 255 + 16  # LZ4_compressBound: larger is never written
        if n == 0 or n > bound:
            raise LtxError(f"{where} claims {n} compressed bytes; a {page_size}-byte page needs 1 to {bound}")
        compressed = self._src.read(n, f"compressed data of {where}")
        try:
            data: bytes = lz4.block.decompress(compressed, uncompressed_size=page_size)
        except lz4.block.LZ4BlockError as exc:
            raise LtxError(f"{where}: LZ4 block does not decompress ({exc}); the file is corrupt") from exc
        if len(data) != page_size:
            raise LtxError(f"{where} decompresses to {len(data)} bytes, not the {page_size}-byte page size")
        self.encodings.add("lz4-block")
        return data

    def _read_frame(self, where: str) -> bytes:
        """A self-delimiting LZ4 frame (ltx before 0.5.2): feed it until its end mark, no further."""
        page_size = self.header.page_size
        decompressor = lz4.frame.LZ4FrameDecompressor()
        out = bytearray()
        while not decompressor.eof:
            chunk = self._src.read_some(READ_BYTES)
            if not chunk:
                raise LtxError(f"truncated or corrupt: {where}: LZ4 frame has no end mark before the trailer")
            try:
                out += decompressor.decompress(chunk, max_length=page_size + 1 - len(out))
            except RuntimeError as exc:
                raise LtxError(f"{where}: LZ4 frame does not decompress ({exc}); the file is corrupt") from exc
            if len(out) > page_size:
                raise LtxError(f"{where}: LZ4 frame holds more than the {page_size}-byte page size")
        self._src.unread(len(decompressor.unused_data or b""))
        if len(out) != page_size:
            raise LtxError(f"{where} decompresses to {len(out)} bytes, not the {page_size}-byte page size")
        self.encodings.add("lz4-frame")
        return bytes(out)

    def finish(self) -> tuple[LtxTrailer, int]:
        """Read index and trailer after the end marker; return the trailer and computed file checksum.

        Structural problems in the index raise only after the checksum is known, so that a
        damaged byte is reported as the checksum mismatch it is.
        """
        src = self._src
        index_start = src.offset
        entries_crc, entries_len = 0, 0
        # Every index entry is non-zero, so the first zero byte is the terminator.
        while True:
            chunk = src.read_some(READ_BYTES)
            if not chunk:
                raise LtxError(f"truncated or corrupt: the page index starting at offset {index_start} never ends")
            zero = chunk.find(b"\x00")
            part = chunk if zero < 0 else chunk[:zero]
            entries_crc = crc64.go_iso(part, entries_crc)
            entries_len += len(part)
            self._hash(part)
            if zero >= 0:
                src.unread(len(chunk) - zero - 1)
                self._hash(b"\x00")
                break
        index_end = src.offset
        tail, tail_len = b"", 0  # should be exactly the 8-byte index size
        while chunk := src.read_some(READ_BYTES):
            self._hash(chunk)
            tail += chunk[: INDEX_SIZE_FIELD - len(tail)]
            tail_len += len(chunk)
        self._fh.seek(self.size - TRAILER_SIZE)
        raw_trailer = self._fh.read(TRAILER_SIZE)
        trailer = parse_ltx_trailer(raw_trailer)
        self._hash(raw_trailer[:8])
        computed = CHECKSUM_FLAG | self._crc
        problem: str | None = None
        if tail_len != INDEX_SIZE_FIELD:
            problem = (
                f"{tail_len} bytes lie between the page index terminator at offset {index_end - 1} "
                f"and the trailer, where the {INDEX_SIZE_FIELD}-byte index size belongs"
            )
        elif (index_size := struct.unpack(">Q", tail)[0]) != index_end - index_start:
            problem = f"index size field says {index_size} bytes, the index is {index_end - index_start}"
        elif (entries_crc, entries_len) != (self._index_crc, self._index_len):
            problem = "page index does not match the page frames (other pages, offsets or sizes)"
        if computed != trailer.file_checksum:
            raise _ChecksumMismatch(trailer, computed, problem)
        if problem:
            raise LtxError(problem)
        if self.header.is_snapshot and not self.header.no_checksum:
            if trailer.post_apply_checksum != self.db_checksum.value:
                raise LtxError(
                    f"post-apply checksum {trailer.post_apply_checksum:016x} in the trailer does not match "
                    f"the snapshot's pages ({self.db_checksum.value:016x})"
                )
        elif self.header.no_checksum and trailer.post_apply_checksum:
            raise LtxError(f"post-apply checksum {trailer.post_apply_checksum:016x} set on a file without checksums")
        return trailer, computed


class _ChecksumMismatch(LtxError):
    def __init__(self, trailer: LtxTrailer, computed: int, problem: str | None = None) -> None:
        message = f"file checksum mismatch: trailer says {trailer.file_checksum:016x}, contents give {computed:016x}"
        if problem:  # the layout is off too: bytes are missing or were added, not just changed
            message = f"truncated or corrupt: {problem}; {message}"
        super().__init__(message)
        self.trailer = trailer
        self.computed = computed


def iter_ltx_pages(path: str | os.PathLike[str]) -> Iterator[tuple[int, bytes]]:
    """Yield (pgno, page) in file order, decompressed, streaming.

    After the last page the index and trailer are read and the file checksum checked, so a
    consumer that runs the iterator to the end gets LtxError instead of silently bad pages.
    """
    with open(path, "rb") as fh:
        reader = _LtxReader(fh)
        yield from reader.pages()
        reader.finish()


@dataclass(frozen=True)
class LtxVerification:
    path: str
    size: int
    header: LtxHeader | None
    trailer: LtxTrailer | None
    page_count: int  # page frames read before the first problem
    min_pgno: int | None
    max_pgno: int | None
    computed_checksum: int | None  # None when the file could not be read to the end
    page_encoding: str | None  # lz4-block (ltx 0.5.2+), lz4-frame (older), mixed, or None
    database_checksum: int | None  # snapshots read to the end: the LTX checksum of their pages
    error: str | None

    @property
    def stored_checksum(self) -> int | None:
        return self.trailer.file_checksum if self.trailer else None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "size": self.size, "ok": self.ok}
        if self.header:
            out["header"] = self.header.to_json()
        if self.trailer:
            out["trailer"] = self.trailer.to_json()
        out.update(page_count=self.page_count, min_pgno=self.min_pgno, max_pgno=self.max_pgno)
        if self.computed_checksum is not None:
            out["computed_checksum"] = f"{self.computed_checksum:016x}"
        if self.page_encoding:
            out["page_encoding"] = self.page_encoding
        if self.database_checksum is not None:
            out["database_checksum"] = f"{self.database_checksum:016x}"
        if self.error:
            out["error"] = self.error
        return out


def verify_ltx(path: str | os.PathLike[str]) -> LtxVerification:
    """Read a whole LTX file once, as Litestream's decoder would, and say whether it is intact.

    Never raises for a bad file: what is wrong goes in `error`, with what could be read.
    """
    size = 0
    reader: _LtxReader | None = None
    trailer: LtxTrailer | None = None
    computed: int | None = None
    error: str | None = None
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            reader = _LtxReader(fh)
            for _ in reader.pages():
                pass
            trailer, computed = reader.finish()
    except _ChecksumMismatch as exc:
        trailer, computed, error = exc.trailer, exc.computed, str(exc)
    except LtxError as exc:
        error = str(exc)
    except OSError as exc:
        error = os_error_sentence(exc, path)
    encodings = sorted(reader.encodings) if reader else []
    return LtxVerification(
        path=os.fspath(path),
        size=size,
        header=reader.header if reader else None,
        trailer=trailer,
        page_count=reader.page_count if reader else 0,
        min_pgno=reader.min_pgno if reader else None,
        max_pgno=reader.max_pgno if reader else None,
        computed_checksum=computed,
        page_encoding="mixed" if len(encodings) > 1 else (encodings[0] if encodings else None),
        database_checksum=reader.db_checksum.value
        if reader and reader.pages_done and reader.header.is_snapshot
        else None,
        error=error,
    )


# --- random access through the page index ---------------------------------------------------


def _read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise LtxError("page index ends inside a varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise LtxError("page index holds a varint longer than 64 bits")


def read_page_index(path: str | os.PathLike[str]) -> dict[int, tuple[int, int]]:
    """pgno -> (offset, size) from the index at the end of the file: a few reads, no decompression.

    This is what lets a replica be overlaid page by page (newest file wins) without
    reading whole files: only the pages that matter are then read and decompressed.
    """
    with open(path, "rb", buffering=0) as fh:
        return read_page_index_from(fh, os.fstat(fh.fileno()).st_size, str(path))


def read_page_index_from(fh: BinaryIO, size: int, path: str) -> dict[int, tuple[int, int]]:
    """read_page_index over any seekable reader of a `size`-byte LTX file (a ranged reader of an object)."""
    if size < MIN_FILE_SIZE:
        raise LtxError(f"{path}: truncated: {size} bytes, an LTX file is at least {MIN_FILE_SIZE}")
    fh.seek(size - TRAILER_SIZE - INDEX_SIZE_FIELD)
    (index_size,) = struct.unpack(">Q", fh.read(INDEX_SIZE_FIELD))
    start = size - TRAILER_SIZE - INDEX_SIZE_FIELD - index_size
    if index_size == 0 or start < HEADER_SIZE:
        raise LtxError(f"{path}: page index size {index_size} does not fit in a {size}-byte file")
    fh.seek(start)
    data = fh.read(index_size)
    index: dict[int, tuple[int, int]] = {}
    pos = 0
    while True:
        pgno, pos = _read_uvarint(data, pos)
        if pgno == 0:
            return index
        offset, pos = _read_uvarint(data, pos)
        length, pos = _read_uvarint(data, pos)
        index[pgno] = (offset, length)


def read_page_at(fh: BinaryIO, offset: int, size: int, page_size: int, where: str = "page") -> bytes:
    """Decompress the one page frame at `offset` (its `size` includes the page header)."""
    fh.seek(offset)
    raw = fh.read(size)
    if len(raw) != size or size <= PAGE_HEADER_SIZE:
        raise LtxError(f"{where}: page frame at offset {offset} is cut short")
    _pgno, flags = struct.unpack_from(">IH", raw)
    try:
        if flags & PAGE_FLAG_SIZE:
            body = raw[PAGE_HEADER_SIZE + PAGE_SIZE_FIELD :]
            data: bytes = lz4.block.decompress(body, uncompressed_size=page_size)
        else:
            data = lz4.frame.decompress(raw[PAGE_HEADER_SIZE:])
    except (lz4.block.LZ4BlockError, RuntimeError) as exc:
        raise LtxError(f"{where}: page at offset {offset} does not decompress ({exc})") from exc
    if len(data) != page_size:
        raise LtxError(f"{where}: page at offset {offset} is {len(data)} bytes, not {page_size}")
    return data


# --- page checksums at memory speed ---------------------------------------------------------------


def _native_lz4() -> Any:
    """The C loop, with LZ4 taken from the lz4 package's own extension; None if either is missing."""
    try:
        import lz4.block._block as lz4_ext

        from litefix import _native
    except ImportError:
        return None
    return _native if _native.set_lz4(lz4_ext.__file__) else None


def ltx_page_sums(path: str | os.PathLike[str], verify: bool = True) -> tuple[array[int], array[int]]:
    """(pgnos, page checksums) of every page in an LTX file; with `verify`, its file checksum too.

    One read of the file, decompressing and checksumming in C when the extension is built
    (pages written as LZ4 frames by ltx < 0.5.2 take the Python path); raises LtxError on damage.
    """
    pgnos, sums = array("I"), array("Q")
    native = _native_lz4()
    header = read_ltx_header(path)
    if native is None:
        return _python_page_sums(path)
    size = os.path.getsize(path)
    chunk_size = READ_BYTES * 8
    # One buffer for the whole file: the bytes a frame cut at the end of a read leaves are moved
    # to the front, and the next read fills in behind them (no copy of the chunk itself).
    buf = bytearray(chunk_size + 2 * header.page_size + 64)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as fh:
        head = fh.read(HEADER_SIZE)
        crc = crc64.go_iso(head)
        offset, kept = HEADER_SIZE, 0
        while True:
            got = fh.readinto(view[kept : kept + chunk_size])
            filled = kept + got
            consumed, got_pgnos, got_sums, state, crc = native.ltx_checksums(
                view[:filled], header.page_size, crc, verify
            )
            pgnos.frombytes(got_pgnos)
            sums.frombytes(got_sums)
            offset += consumed
            kept = filled - consumed
            buf[:kept] = bytes(view[consumed:filled])  # a partial frame: small, and may overlap
            if state == 1:
                break
            if state == 2:  # LZ4-frame pages (Litestream 0.5.0-0.5.15): the Python reader knows them
                return _python_page_sums(path)
            if state == 3:
                raise LtxError(f"{path}: page frame at offset {offset} is damaged (size or LZ4 data)")
            if not got:
                raise LtxError(f"{path}: truncated: the page frames end at offset {offset} without an end marker")
        fh.seek(offset)
        rest = fh.read(size - TRAILER_SIZE - offset)
        trailer_raw = fh.read(TRAILER_SIZE)
    if len(trailer_raw) != TRAILER_SIZE:
        raise LtxError(f"{path}: truncated: no trailer")
    if not verify:
        return pgnos, sums
    crc = crc64.go_iso(trailer_raw[:8], crc64.go_iso(rest, crc))
    trailer = parse_ltx_trailer(trailer_raw)
    if CHECKSUM_FLAG | crc != trailer.file_checksum:
        raise LtxError(
            f"{path}: file checksum mismatch: stored {trailer.file_checksum:016x}, computed {CHECKSUM_FLAG | crc:016x}"
        )
    return pgnos, sums


def _python_page_sums(path: str | os.PathLike[str]) -> tuple[array[int], array[int]]:
    pgnos, sums = array("I"), array("Q")
    for pgno, page in iter_ltx_pages(path):
        pgnos.append(pgno)
        sums.append(page_checksum(pgno, page))
    return pgnos, sums
