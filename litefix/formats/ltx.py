"""Litestream 0.5's LTX files (github.com/superfly/ltx), read the way Litestream reads them.

An LTX file is a 100-byte header, page frames, a 6-byte all-zero end marker, a page index
and a 16-byte trailer. Details that shape this reader:

- The file checksum in the trailer is a CRC-64/ISO over the *uncompressed* pages (plus every
  other byte but its own 8), so a file can only be checked by decompressing every page. A
  flipped byte in compressed data therefore shows up as an LZ4 error or a checksum mismatch.
- Pages are LZ4 *blocks* behind a 4-byte size since ltx 0.5.2 (Litestream 0.5.16+), and were
  self-delimiting LZ4 *frames* before (Litestream 0.5.0-0.5.15). A replica upgraded in place
  holds both kinds, and Litestream reads both, so this module does too.
- Litestream 0.5.17 sets the no-checksum flag on every file, so the pre/post-apply database
  checksums are 0. `DatabaseChecksum` computes that checksum from any page source, for the
  day a writer records it and for comparing a snapshot with a database file today.

Everything streams: `verify_ltx` and `iter_ltx_pages` read a file once, front to back, with a
bounded buffer, whatever its size. `read_ltx_header` and `scan_ltx_dir` read 100 bytes a file.
"""

from __future__ import annotations

import os
import re
import struct
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import lz4.block
import lz4.frame
from fastcrc import crc64

from litefix.formats import FormatError
from litefix.formats.sqlite_header import HeaderError, lock_page, parse_header, valid_page_size

MAGIC = b"LTX1"
HEADER_SIZE = 100
PAGE_HEADER_SIZE = 6  # pgno u32, flags u16; all zero marks the end of the pages
PAGE_SIZE_FIELD = 4  # compressed length, present when PAGE_FLAG_SIZE is set
INDEX_SIZE_FIELD = 8
TRAILER_SIZE = 16
# header + end marker + empty index (one zero byte) + index size + trailer
MIN_FILE_SIZE = HEADER_SIZE + PAGE_HEADER_SIZE + 1 + INDEX_SIZE_FIELD + TRAILER_SIZE
CHECKSUM_FLAG = 1 << 63  # set on every checksum, so that 0 can mean "none"
HEADER_FLAG_NO_CHECKSUM = 0x2
HEADER_FLAG_MASK = HEADER_FLAG_NO_CHECKSUM
PAGE_FLAG_SIZE = 0x1
LEVELS = range(10)
READ_BYTES = 1 << 20

_HEADER = struct.Struct(">4sIIIQQqQqqIIQ")
_NAME = re.compile(r"^([0-9a-f]{16})-([0-9a-f]{16})\.ltx$")
TMP_SUFFIX = ".tmp"


class LtxError(FormatError):
    """An LTX file Litestream would refuse, or a file the LTX checksum cannot use; the message says what and where."""


def _txid(value: int) -> str:
    return f"{value:016x}"


@dataclass(frozen=True)
class LtxHeader:
    flags: int
    page_size: int
    commit: int  # database size in pages after applying the file
    min_txid: int
    max_txid: int
    timestamp: int  # ms since the epoch, when the file was written
    pre_apply_checksum: int
    wal_offset: int  # L0 and L9: where in the -wal the pages came from; 0 for compactions
    wal_size: int
    wal_salt1: int
    wal_salt2: int
    node_id: int

    @property
    def no_checksum(self) -> bool:
        """The writer did not track database checksums: pre/post-apply checksums are 0."""
        return bool(self.flags & HEADER_FLAG_NO_CHECKSUM)

    @property
    def is_snapshot(self) -> bool:
        """A file starting at TXID 1 must hold every page of the database."""
        return self.min_txid == 1

    @property
    def lock_pgno(self) -> int:
        return lock_page(self.page_size)

    @property
    def created_at(self) -> datetime | None:
        """The timestamp as an aware UTC datetime; None if it is outside datetime's range."""
        try:
            return datetime.fromtimestamp(self.timestamp / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None

    @property
    def created_iso(self) -> str | None:
        """Litestream's fixed-width millisecond format, e.g. 2026-11-26T21:49:39.527Z."""
        when = self.created_at
        return None if when is None else when.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    @property
    def wal_salts(self) -> tuple[int, int]:
        return (self.wal_salt1, self.wal_salt2)

    def to_json(self) -> dict[str, object]:
        return {
            "flags": f"0x{self.flags:08x}",
            "no_checksum": self.no_checksum,
            "page_size": self.page_size,
            "commit": self.commit,
            "min_txid": _txid(self.min_txid),
            "max_txid": _txid(self.max_txid),
            "is_snapshot": self.is_snapshot,
            "timestamp": self.timestamp,
            "created": self.created_iso,
            "pre_apply_checksum": f"{self.pre_apply_checksum:016x}",
            "wal_offset": self.wal_offset,
            "wal_size": self.wal_size,
            "wal_salt1": f"0x{self.wal_salt1:08x}",
            "wal_salt2": f"0x{self.wal_salt2:08x}",
            "node_id": self.node_id,
        }


def parse_ltx_header(data: bytes) -> LtxHeader:
    """Parse and validate the 100 header bytes the way ltx's Header.Validate does."""
    if len(data) < HEADER_SIZE:
        if data and (data.startswith(MAGIC) or MAGIC.startswith(data)):
            raise LtxError(f"header is truncated: {len(data)} of {HEADER_SIZE} bytes")
        raise LtxError(f"file is {len(data)} bytes, shorter than an LTX header ({HEADER_SIZE} bytes)")
    fields = _HEADER.unpack_from(data)
    magic, flags, page_size, commit, min_txid, max_txid, timestamp = fields[:7]
    pre_apply, wal_offset, wal_size, salt1, salt2, node_id = fields[7:]
    if magic != MAGIC:
        raise LtxError(f"first 4 bytes are {magic.hex()}, not the LTX magic 'LTX1'")
    if flags & ~HEADER_FLAG_MASK:
        raise LtxError(f"unsupported header flags 0x{flags:08x} (only 0x00000002, no-checksum, is defined)")
    if not valid_page_size(page_size):
        raise LtxError(f"page size {page_size} is not a power of two between 512 and 65536")
    if min_txid == 0:
        raise LtxError("minimum TXID is 0; TXIDs start at 1")
    if min_txid > max_txid:
        raise LtxError(f"TXIDs out of order: min {_txid(min_txid)} is above max {_txid(max_txid)}")
    if wal_offset < 0 or wal_size < 0:
        raise LtxError(f"negative WAL offset {wal_offset} or size {wal_size}")
    if (salt1 or salt2) and not wal_offset:
        raise LtxError("WAL salts are set but the WAL offset is 0")
    if wal_size and not wal_offset:
        raise LtxError("WAL size is set but the WAL offset is 0")
    header = LtxHeader(
        flags=flags,
        page_size=page_size,
        commit=commit,
        min_txid=min_txid,
        max_txid=max_txid,
        timestamp=timestamp,
        pre_apply_checksum=pre_apply,
        wal_offset=wal_offset,
        wal_size=wal_size,
        wal_salt1=salt1,
        wal_salt2=salt2,
        node_id=node_id,
    )
    if pre_apply and (header.is_snapshot or header.no_checksum):
        why = "snapshot" if header.is_snapshot else "file without checksums"
        raise LtxError(f"pre-apply checksum {pre_apply:016x} is set on a {why} (must be 0)")
    if not header.is_snapshot and not header.no_checksum and not pre_apply & CHECKSUM_FLAG:
        raise LtxError(f"pre-apply checksum {pre_apply:016x} is missing or lacks its top bit")
    return header


def read_ltx_header(path: str | os.PathLike[str]) -> LtxHeader:
    """The header of an LTX file, reading only its first 100 bytes."""
    with open(path, "rb", buffering=0) as fh:
        return parse_ltx_header(fh.read(HEADER_SIZE))


def parse_ltx_name(name: str) -> tuple[int, int] | None:
    """(min_txid, max_txid) from `<min:016x>-<max:016x>.ltx`; None for any other name.

    Lower-case hex only, like Litestream: a file it cannot parse is one it never lists.
    """
    match = _NAME.match(name)
    if not match:
        return None
    return int(match.group(1), 16), int(match.group(2), 16)


@dataclass(frozen=True)
class LtxTrailer:
    post_apply_checksum: int  # database checksum after the file is applied; 0 if untracked
    file_checksum: int  # CRC-64/ISO of everything before it, with the top bit set

    def to_json(self) -> dict[str, object]:
        return {
            "post_apply_checksum": f"{self.post_apply_checksum:016x}",
            "file_checksum": f"{self.file_checksum:016x}",
        }


def parse_ltx_trailer(data: bytes) -> LtxTrailer:
    if len(data) != TRAILER_SIZE:
        raise LtxError(f"trailer is {len(data)} bytes, not {TRAILER_SIZE}")
    post, file_sum = struct.unpack(">QQ", data)
    return LtxTrailer(post, file_sum)


# --- database checksum -------------------------------------------------------------------


def page_checksum(pgno: int, page: bytes | bytearray | memoryview) -> int:
    """ltx's ChecksumPage: CRC-64/ISO of the big-endian page number then the page, top bit set."""
    return CHECKSUM_FLAG | crc64.go_iso(page, crc64.go_iso(pgno.to_bytes(4, "big")))


def combine(acc: int, page_sum: int) -> int:
    """Fold one page checksum into a database checksum. XOR makes the order irrelevant."""
    return CHECKSUM_FLAG | (acc ^ page_sum)


class DatabaseChecksum:
    """The LTX database checksum, fed page by page from any source (LTX, -wal, database file).

    Starts at CHECKSUM_FLAG, the value ltx gives an empty database; for any non-empty
    database the start value does not matter, because the top bit is forced on each step.
    The lock page (the one holding byte 2**30) is skipped: SQLite never writes it and LTX
    files never carry it. A page must be added once: adding it twice cancels it out.
    """

    def __init__(self, page_size: int) -> None:
        if not valid_page_size(page_size):
            raise ValueError(f"page size {page_size} is not a power of two between 512 and 65536")
        self.page_size = page_size
        self.lock_pgno = lock_page(page_size)
        self.value = CHECKSUM_FLAG
        self.pages = 0

    def add(self, pgno: int, page: bytes | bytearray | memoryview) -> None:
        if len(page) != self.page_size:
            raise ValueError(f"page {pgno} is {len(page)} bytes, expected {self.page_size}")
        if pgno == self.lock_pgno:
            return
        self.value = combine(self.value, page_checksum(pgno, page))
        self.pages += 1

    def add_all(self, pages: Iterable[tuple[int, bytes]]) -> int:
        for pgno, page in pages:
            self.add(pgno, page)
        return self.value


def checksum_database_file(path: str | os.PathLike[str], page_size: int | None = None) -> int:
    """The LTX checksum of a database file as it sits on disk, every page up to its size.

    Only the file is read: pages still in its -wal are not included, so checkpoint first
    (or fold the -wal's newest committed pages in yourself) to get the database's state.
    """
    with open(path, "rb") as fh:
        if page_size is None:
            try:
                page_size = parse_header(fh.read(100)).page_size
            except HeaderError as exc:
                raise LtxError(f"{path}: {exc}") from exc
            fh.seek(0)
        size = os.fstat(fh.fileno()).st_size
        if size % page_size:
            raise LtxError(f"{path} is {size} bytes, not a whole number of {page_size}-byte pages")
        acc = DatabaseChecksum(page_size)
        per_read = max(1, READ_BYTES // page_size)
        pgno = 1
        while chunk := fh.read(per_read * page_size):
            view = memoryview(chunk)
            for start in range(0, len(chunk), page_size):
                acc.add(pgno, view[start : start + page_size])
                pgno += 1
    return acc.value


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
        error = f"cannot read: {exc.strerror or exc}"
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


# --- directories -------------------------------------------------------------------------


@dataclass(frozen=True)
class LtxFileInfo:
    """One `<root>/ltx/<level>/<min>-<max>.ltx`, from its name, stat and 100-byte header."""

    path: Path
    level: int
    min_txid: int | None  # from the name; None if Litestream could not parse it
    max_txid: int | None
    size: int
    mtime: float
    header: LtxHeader | None
    header_error: str | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def name_ok(self) -> bool:
        return self.min_txid is not None

    @property
    def name_matches_header(self) -> bool:
        """Litestream trusts the name to pick files; a header saying otherwise is a mislabelled file."""
        h = self.header
        return h is not None and (h.min_txid, h.max_txid) == (self.min_txid, self.max_txid)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": str(self.path),
            "level": self.level,
            "min_txid": None if self.min_txid is None else _txid(self.min_txid),
            "max_txid": None if self.max_txid is None else _txid(self.max_txid),
            "size": self.size,
            "mtime": datetime.fromtimestamp(self.mtime, UTC).isoformat(),
        }
        if self.header:
            out["header"] = self.header.to_json()
            out["name_matches_header"] = self.name_matches_header
        if self.header_error:
            out["header_error"] = self.header_error
        return out


@dataclass(frozen=True)
class LtxTmpFile:
    """A `*.ltx.tmp` staging file: a write was interrupted (or is in progress right now)."""

    path: Path
    level: int
    size: int
    mtime: float

    def to_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "level": self.level,
            "size": self.size,
            "mtime": datetime.fromtimestamp(self.mtime, UTC).isoformat(),
        }


def _level_dirs(root: str | os.PathLike[str]) -> Iterator[tuple[int, Path]]:
    base = Path(root) / "ltx"
    for level in LEVELS:
        path = base / str(level)
        if path.is_dir():
            yield level, path


def scan_ltx_dir(root: str | os.PathLike[str]) -> list[LtxFileInfo]:
    """Every `*.ltx` under `<root>/ltx/<0-9>/`, a replica root or a 0.5 meta dir, headers only.

    Sorted by level, then TXIDs. Files that vanish while listed (retention runs every 15 s)
    are skipped; a file that cannot be read or parsed keeps its `header_error`.
    """
    found: list[LtxFileInfo] = []
    for level, directory in _level_dirs(root):
        for entry in os.scandir(directory):
            if not entry.name.endswith(".ltx") or not entry.is_file():
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            txids = parse_ltx_name(entry.name)
            header: LtxHeader | None = None
            header_error: str | None = None
            try:
                header = read_ltx_header(entry.path)
            except FileNotFoundError:
                continue
            except LtxError as exc:
                header_error = str(exc)
            except OSError as exc:
                header_error = f"cannot read: {exc.strerror or exc}"
            found.append(
                LtxFileInfo(
                    path=Path(entry.path),
                    level=level,
                    min_txid=txids[0] if txids else None,
                    max_txid=txids[1] if txids else None,
                    size=st.st_size,
                    mtime=st.st_mtime,
                    header=header,
                    header_error=header_error,
                )
            )
    found.sort(key=lambda f: (f.level, f.min_txid or 0, f.max_txid or 0, f.name))
    return found


def list_ltx_tmp_files(root: str | os.PathLike[str]) -> list[LtxTmpFile]:
    """`*.ltx.tmp` files under `<root>/ltx/<0-9>/`.

    Litestream stages every LTX file as `<name>.tmp` and renames it when complete. It clears
    the meta dir's leftovers when it opens the database, but never a replica's, so one found
    there while Litestream is stopped is the remains of a crash or a full disk.
    """
    found: list[LtxTmpFile] = []
    for level, directory in _level_dirs(root):
        for entry in os.scandir(directory):
            if not entry.name.endswith(TMP_SUFFIX) or not entry.is_file():
                continue
            try:
                st = entry.stat()
            except FileNotFoundError:
                continue
            found.append(LtxTmpFile(Path(entry.path), level, st.st_size, st.st_mtime))
    found.sort(key=lambda f: (f.level, f.path.name))
    return found


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
