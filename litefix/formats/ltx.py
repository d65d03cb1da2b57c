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

This module reads names, headers, trailers, the database checksum and the directories; the page
block itself (streaming, verification, the page index, page checksums) is in ltx_pages.py.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastcrc import crc64

from litefix.formats import FormatError
from litefix.formats.oserror import os_error_sentence
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
    unreadable: bool = False  # the header could not be read at all (permissions, I/O): not evidence of damage

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
            unreadable = False
            try:
                header = read_ltx_header(entry.path)
            except FileNotFoundError:
                continue
            except LtxError as exc:
                header_error = str(exc)
            except OSError as exc:
                header_error, unreadable = os_error_sentence(exc, entry.path), True
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
                    unreadable=unreadable,
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
