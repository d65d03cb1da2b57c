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
from dataclasses import dataclass, field

from litefix.formats.btree import BtreeError, Layout, record, rows, schema
from litefix.formats.generations import Generation, GenerationsError, iter_snapshot_chunks, iter_wal_segment_chunks
from litefix.formats.ltx import HEADER_SIZE as LTX_HEADER_SIZE
from litefix.formats.ltx import PAGE_FLAG_SIZE, PAGE_HEADER_SIZE, LtxError, read_page_at, read_page_index
from litefix.formats.sqlite_header import HEADER_SIZE, HeaderError, parse_header
from litefix.formats.wal import FRAME_HEADER_SIZE, WalScan, scan_wal
from litefix.replicas.pages import LtxPlan, PageError

# Everything that can go wrong reading a replica's pages; the caller turns it into "arrived but unreadable".
READ_ERRORS = (PageError, BtreeError, LtxError, GenerationsError, HeaderError, OSError, IndexError, ValueError)


WALK_PAGES = 32  # pages up to this number are found by walking the frames rather than decoding the index
_FRAME_HEAD = struct.Struct(">IHI")  # pgno, flags, compressed size (present when flags & PAGE_FLAG_SIZE)


class _NoSizeFields(Exception):
    """The file's page frames carry no size field, so they cannot be skipped without decompressing."""


def walk_to_page(path: str | os.PathLike[str], pgno: int) -> tuple[int, int] | None:
    """Frames are in ascending page order from the header on: skip them by their size fields up to `pgno`."""
    with open(path, "rb") as fh:
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
    pages_read: int = 0
    _indexes: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)

    @property
    def page_size(self) -> int:
        header = self.plan.snapshot.header
        if header is None:
            raise PageError(f"{self.plan.snapshot.path}: no readable LTX header")
        return header.page_size

    def _index(self, n: int) -> dict[int, tuple[int, int]]:
        if n not in self._indexes:
            self._indexes[n] = read_page_index(self.plan.files[n].path)
        return self._indexes[n]

    def _locate(self, n: int, pgno: int) -> tuple[int, int] | None:
        """(offset, size) of `pgno`'s frame in file `n`, or None. A low page of a file whose index is not
        loaded yet is found by walking the first frames (page 1 is the first): the index of a 1 GiB snapshot
        is 350,000 varint triples, a second of Python to decode, for the one page a proof needs from it."""
        if n not in self._indexes and pgno <= WALK_PAGES:
            try:
                return walk_to_page(self.plan.files[n].path, pgno)
            except _NoSizeFields:
                pass  # pages written as LZ4 frames (Litestream 0.5.0-0.5.15): only the index finds them
        return self._index(n).get(pgno)

    def page(self, pgno: int) -> bytes:
        files = self.plan.files
        for n in range(len(files) - 1, -1, -1):  # newest first: the snapshot (the largest) is read last, if at all
            found = self._locate(n, pgno)
            if found is not None:
                with open(files[n].path, "rb") as fh:
                    self.pages_read += 1
                    return read_page_at(fh, found[0], found[1], self.page_size, str(files[n].path))
        raise PageError(f"page {pgno} is in no LTX file up to TXID {self.plan.txid:016x}")

    def close(self) -> None:
        self._indexes.clear()


@dataclass
class GenerationPageLookup:
    """A 0.3 generation's newest state: committed frames of the WAL indexes after its newest snapshot
    (decompressed into a private temporary directory), else the snapshot itself."""

    generation: Generation
    pages_read: int = 0
    page_size: int = 0
    workdir: str = ""
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
                        for chunk in iter_wal_segment_chunks(segment.path):
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
        for chunk in iter_snapshot_chunks(self._snapshot.path):
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
