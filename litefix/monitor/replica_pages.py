"""Page N of a replica's newest state, without reading the pages nobody asked for.

`replicas/pages.py` streams every page in order, which a comparison needs. Proving that one
row arrived needs three or four pages (page 1, the table's b-tree), so these sources answer
`page(pgno)` instead: 0.5 looks the page up in the LTX page indexes, newest file first (a
few index reads, one LZ4 block per page); 0.3 takes it from the newest committed frame of the
WAL indexes after the snapshot, else decompresses the snapshot only as far as that page.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, cast

from litefix.formats.btree import BtreeError, Layout, record, rows, schema
from litefix.formats.generations import Generation, GenerationsError, iter_lz4_frame
from litefix.formats.ltx import HEADER_SIZE as LTX_HEADER_SIZE
from litefix.formats.ltx import PAGE_FLAG_SIZE, PAGE_HEADER_SIZE, LtxError
from litefix.formats.ltx_pages import read_page_at, read_page_index, read_page_index_from
from litefix.formats.sqlite_header import HEADER_SIZE, HeaderError, parse_header
from litefix.formats.wal import FRAME_HEADER_SIZE, WalScan, scan_wal
from litefix.replicas.plan import LtxPlan, PageError
from litefix.replicas.storage import Storage, StorageError

# Everything that can go wrong reading a replica's pages; the caller turns it into "arrived but unreadable".
READ_ERRORS = (
    PageError,
    BtreeError,
    LtxError,
    GenerationsError,
    HeaderError,
    OSError,
    IndexError,
    ValueError,
    StorageError,
)

BLOCK = 64 << 10  # one ranged request reads this much: a page frame, the first frames, or a small index


@dataclass
class Reads:
    """What the ranged reads of one proof cost on an object store."""

    requests: int = 0
    bytes: int = 0


@dataclass
class RangedObject:
    """A read-only, seekable view of one object whose bytes come by ranged reads of BLOCK-aligned blocks,
    each block read at most once: a page frame costs one request, the index at the end of a file one or two."""

    storage: Storage
    key: str
    size: int
    reads: Reads
    _pos: int = 0
    _blocks: dict[int, bytes] = field(default_factory=dict)

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = offset if whence == 0 else (self._pos + offset if whence == 1 else self.size + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int = -1) -> bytes:
        end = self.size if n < 0 else min(self.size, self._pos + n)
        if end <= self._pos:
            return b""
        first, last = self._pos // BLOCK, (end - 1) // BLOCK
        missing = [b for b in range(first, last + 1) if b not in self._blocks]
        if missing:  # the missing blocks are contiguous in practice: one request for all of them
            start = missing[0] * BLOCK
            data = self.storage.read_range(self.key, start, min(self.size, (missing[-1] + 1) * BLOCK) - start)
            self.reads.requests += 1
            self.reads.bytes += len(data)
            for b in missing:
                self._blocks[b] = data[(b - missing[0]) * BLOCK : (b - missing[0] + 1) * BLOCK]
        joined = b"".join(self._blocks[b] for b in range(first, last + 1))
        out = joined[self._pos - first * BLOCK : end - first * BLOCK]
        self._pos += len(out)
        return out

    def __enter__(self) -> RangedObject:
        return self

    def __exit__(self, *_: object) -> None:
        return None


def _key(storage: Storage, path: Path) -> str:
    return str(Path(path).relative_to(storage.local_path(""))).replace(os.sep, "/")


WALK_PAGES = 32  # pages up to this number are found by walking the frames rather than decoding the index
_FRAME_HEAD = struct.Struct(">IHI")  # pgno, flags, compressed size (present when flags & PAGE_FLAG_SIZE)


class _NoSizeFields(Exception):
    """The file's page frames carry no size field, so they cannot be skipped without decompressing."""


def walk_to_page(path: str | os.PathLike[str], pgno: int, reader: RangedObject | None = None) -> tuple[int, int] | None:
    """Frames are in ascending page order from the header on: skip them by their size fields up to `pgno`."""
    with cast(BinaryIO, reader) if reader is not None else open(path, "rb") as fh:
        offset = LTX_HEADER_SIZE
        while True:
            fh.seek(offset)
            head = fh.read(_FRAME_HEAD.size)
            if len(head) < PAGE_HEADER_SIZE:
                raise PageError(f"{path}: the page frames end at offset {offset} without an end marker")
            found, flags = struct.unpack_from(">IH", head)
            if found == 0 or found > pgno:
                return None
            if not flags & PAGE_FLAG_SIZE or len(head) < _FRAME_HEAD.size:
                raise _NoSizeFields(str(path))
            frame = _FRAME_HEAD.size + _FRAME_HEAD.unpack(head)[2]
            if found == pgno:
                return offset, frame
            offset += frame


@dataclass
class LtxPageLookup:
    """A 0.5 replica at the TXID of `plan`: each page from the newest file of the plan that holds it."""

    plan: LtxPlan
    storage: Storage | None = None  # an object store: every read is a ranged request, nothing is downloaded
    pages_read: int = 0
    reads: Reads = field(default_factory=Reads)
    _indexes: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    _objects: dict[int, RangedObject] = field(default_factory=dict)

    def _remote(self, n: int) -> RangedObject | None:
        if self.storage is None:
            return None
        if n not in self._objects:
            info = self.plan.files[n]
            self._objects[n] = RangedObject(self.storage, _key(self.storage, info.path), info.size, self.reads)
        return self._objects[n]

    @property
    def page_size(self) -> int:
        header = self.plan.snapshot.header
        if header is None:
            raise PageError(f"{self.plan.snapshot.path}: no readable LTX header")
        return header.page_size

    def _index(self, n: int) -> dict[int, tuple[int, int]]:
        if n not in self._indexes:
            remote = self._remote(n)
            path = self.plan.files[n].path
            self._indexes[n] = (
                read_page_index(path)
                if remote is None
                else read_page_index_from(cast(BinaryIO, remote), remote.size, str(path))
            )
        return self._indexes[n]

    def _locate(self, n: int, pgno: int) -> tuple[int, int] | None:
        """(offset, size) of `pgno`'s frame in file `n`, or None. A low page of a file whose index is not
        loaded yet is found by walking the first frames (page 1 is the first): the index of a 1 GiB snapshot
        is 350,000 varint triples, a second of Python to decode, for the one page a proof needs from it."""
        if n not in self._indexes and pgno <= WALK_PAGES:
            try:
                return walk_to_page(self.plan.files[n].path, pgno, self._remote(n))
            except _NoSizeFields:
                pass  # pages written as LZ4 frames (Litestream 0.5.0-0.5.15): only the index finds them
        return self._index(n).get(pgno)

    def page(self, pgno: int) -> bytes:
        files = self.plan.files
        for n in range(len(files) - 1, -1, -1):  # newest first: the snapshot (the largest) is read last, if at all
            found = self._locate(n, pgno)
            if found is not None:
                with cast(BinaryIO, self._remote(n)) or open(files[n].path, "rb") as fh:
                    self.pages_read += 1
                    return read_page_at(fh, found[0], found[1], self.page_size, str(files[n].path))
        raise PageError(f"page {pgno} is in no LTX file up to TXID {self.plan.txid:016x}")

    def close(self) -> None:
        self._indexes.clear()
        self._objects.clear()


@dataclass
class GenerationPageLookup:
    """A 0.3 generation's newest state: committed frames of the WAL indexes after its newest snapshot
    (decompressed into a private temporary directory), else the snapshot itself."""

    generation: Generation
    storage: Storage | None = None  # an object store: segments and the snapshot's prefix by ranged reads
    pages_read: int = 0
    page_size: int = 0
    workdir: str = ""
    reads: Reads = field(default_factory=Reads)
    _wals: list[tuple[str, WalScan]] = field(default_factory=list)  # newest index last
    _snapshot_cache: dict[int, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        snapshot = self.generation.latest_snapshot
        if snapshot is None:
            raise PageError(f"generation {self.generation.name} has no snapshot: it cannot be restored")
        self._snapshot = snapshot
        self.workdir = tempfile.mkdtemp(prefix="litefix-verify-")
        try:
            for index in sorted({s.index for s in self.generation.wal_segments}):
                if index < snapshot.index:
                    continue
                path = os.path.join(self.workdir, f"{index:08x}.wal")
                with open(path, "wb") as out:
                    for segment in sorted(self.generation.segments_of(index), key=lambda s: s.offset):
                        for chunk in self._chunks(segment.path, segment.size, "WAL segment"):
                            out.write(chunk)
                scan = scan_wal(path, collect_pages=True)
                if scan.header is not None and scan.page_frames:
                    self._wals.append((path, scan))
                    self.page_size = scan.header.page_size
        except BaseException:
            self.close()
            raise

    def page(self, pgno: int) -> bytes:
        for path, scan in reversed(self._wals):
            frames = scan.page_frames or {}
            if pgno in frames:
                with open(path, "rb") as fh:
                    fh.seek(scan.frame_offset(frames[pgno]) + FRAME_HEADER_SIZE)
                    self.pages_read += 1
                    return fh.read(scan.frame_size - FRAME_HEADER_SIZE)
        return self._snapshot_page(pgno)

    def _snapshot_page(self, pgno: int) -> bytes:
        """Decompress the snapshot up to the end of `pgno` (the LZ4 frame is sequential), no further."""
        if pgno in self._snapshot_cache:
            return self._snapshot_cache[pgno]
        buf = bytearray()
        seen = 0
        page_size = self.page_size
        for chunk in self._chunks(self._snapshot.path, self._snapshot.size, "snapshot"):
            if not page_size:
                page_size = self.page_size = parse_header(bytes(chunk[:HEADER_SIZE])).page_size
            start, end = (pgno - 1) * page_size, pgno * page_size
            if seen + len(chunk) > start:
                buf += chunk[max(0, start - seen) : end - seen]
            seen += len(chunk)
            if seen >= end:
                self.pages_read += 1
                self._snapshot_cache[pgno] = bytes(buf)
                return self._snapshot_cache[pgno]
        raise PageError(f"page {pgno} is beyond the snapshot of generation {self.generation.name}")

    def _chunks(self, path: Path, size: int, what: str) -> Iterator[bytes]:
        if self.storage is None:
            return iter_lz4_frame(path, what=what)
        reader = RangedObject(self.storage, _key(self.storage, path), size, self.reads)
        return iter_lz4_frame(path, what=what, reader=cast(BinaryIO, reader))

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


PageLookup = LtxPageLookup | GenerationPageLookup


def find_row(lookup: PageLookup, table: str, token: str) -> bool:
    """Walk page 1 to the table's root, then its b-tree, looking for the row whose token column is `token`.

    Raises BtreeError (or another of READ_ERRORS) when the pages are not the b-tree they should be.
    """
    first = lookup.page(1)
    header = parse_header(first[:HEADER_SIZE])
    layout = Layout(header.page_size, header.reserved_bytes, header.text_encoding or 1)
    roots = [root for kind, name, root in schema(layout, lookup.page) if kind == "table" and name == table]
    if not roots or roots[0] <= 0:
        return False
    for _rowid, data in rows(layout, roots[0], lookup.page):
        values = record(layout, data)
        if len(values) > 1 and values[1] == token:
            return True
    return False
