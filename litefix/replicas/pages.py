"""Page images of a database, from wherever they live, and a page-for-page comparison.

A database "as a reader sees it" is its file overlaid with the newest committed
WAL frame of each page; a replica "at a position" is its newest snapshot overlaid
with the contiguous later files. Both are streamed in page order, so two sources
can be compared in lockstep with flat memory whatever their size, using the LTX
database checksum (XOR of CRC-64/ISO over big-endian page number + page, lock page
skipped) and a per-page CRC to name the first pages that differ.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from array import array
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Protocol

from litefix.formats.generations import Generation, iter_snapshot_chunks, iter_wal_segment_chunks
from litefix.formats.ltx import LtxHeader, page_checksum
from litefix.formats.ltx_pages import iter_ltx_pages, ltx_page_sums, read_page_at, read_page_index
from litefix.formats.sqlite_header import HEADER_SIZE, lock_page, parse_header
from litefix.formats.wal import FRAME_HEADER_SIZE, WalScan, scan_wal
from litefix.replicas.plan import LtxPlan, PageError

CHUNK_PAGES = 256
CHECKSUM_FLAG = 1 << 63


class PageSource(Protocol):
    page_size: int
    page_count: int

    def pages(self) -> Iterator[tuple[int, bytes]]:
        """(pgno, page) in ascending order, lock page skipped, up to page_count."""
        ...


# --- the local database ------------------------------------------------------------------------


@dataclass
class LocalPages:
    """The database file overlaid with its committed WAL frames: what any reader would see."""

    db: str
    page_size: int
    page_count: int
    wal: str | None = None
    page_frames: dict[int, int] = field(default_factory=dict)  # pgno -> WAL frame (1-based)
    wal_scan: WalScan | None = None

    @classmethod
    def open(cls, db: str, wal_scan: WalScan | None = None) -> LocalPages:
        with open(db, "rb") as fh:
            header = parse_header(fh.read(HEADER_SIZE))
        size = os.path.getsize(db)
        page_count = header.page_count if header.page_count_valid else size // header.page_size
        frames: dict[int, int] = {}
        wal = None
        if wal_scan is not None and wal_scan.committed_frames and wal_scan.header is not None:
            if wal_scan.page_frames is None:
                raise ValueError("the WAL scan must be made with collect_pages=True")
            if wal_scan.header.page_size != header.page_size:
                raise PageError("the -wal page size differs from the database's: it cannot be applied")
            frames = wal_scan.page_frames
            page_count = wal_scan.db_pages or page_count
            wal = db + "-wal"
        return cls(db, header.page_size, page_count, wal, frames, wal_scan)

    def pages(self) -> Iterator[tuple[int, bytes]]:
        ps = self.page_size
        lock = lock_page(ps)
        wal_fh = open(self.wal, "rb") if self.wal else None  # noqa: SIM115 - closed below
        try:
            with open(self.db, "rb") as fh:
                pgno = 1
                while pgno <= self.page_count:
                    chunk = fh.read(CHUNK_PAGES * ps)
                    whole = len(chunk) // ps
                    view = memoryview(chunk)
                    for i in range(CHUNK_PAGES):
                        if pgno > self.page_count:
                            break
                        frame = self.page_frames.get(pgno)
                        if pgno == lock:
                            pass
                        elif frame is not None and wal_fh is not None and self.wal_scan is not None:
                            wal_fh.seek(self.wal_scan.frame_offset(frame) + FRAME_HEADER_SIZE)
                            yield pgno, wal_fh.read(ps)
                        elif i < whole:
                            yield pgno, bytes(view[i * ps : (i + 1) * ps])
                        else:
                            raise PageError(f"page {pgno} is neither in {self.db} nor in its committed WAL frames")
                        pgno += 1
        finally:
            if wal_fh is not None:
                wal_fh.close()

    def checksums(self) -> array[int]:
        """Page checksums, index pgno-1 (0 for the lock page): the file in big reads, then the WAL's pages."""
        ps = self.page_size
        lock = lock_page(ps)
        sums = zeroed(self.page_count)
        native = _native()
        chunk_pages = CHUNK_PAGES * 8
        buf = bytearray(chunk_pages * ps)  # one buffer, refilled: no fresh 8 MB allocation per read
        view = memoryview(buf)
        with open(self.db, "rb", buffering=0) as fh:
            first = 1
            while first <= self.page_count:
                want = min(chunk_pages, self.page_count - first + 1)
                got = fh.readinto(view[: want * ps])
                whole = got // ps
                if not whole:
                    break
                data = view[: whole * ps]
                if native is not None:
                    sums[first - 1 : first - 1 + whole] = array("Q", native.page_checksums(data, ps, first, lock))
                else:
                    for i in range(whole):
                        pgno = first + i
                        sums[pgno - 1] = 0 if pgno == lock else page_checksum(pgno, data[i * ps : (i + 1) * ps])
                first += whole
        missing = [p for p in range(first, self.page_count + 1) if p not in self.page_frames and p != lock]
        if missing:
            raise PageError(f"page {missing[0]} is neither in {self.db} nor in its committed WAL frames")
        if self.page_frames and self.wal and self.wal_scan is not None:
            frame_size = FRAME_HEADER_SIZE + ps
            by_offset = sorted((self.wal_scan.frame_offset(f), p) for p, f in self.page_frames.items())
            with open(self.wal, "rb", buffering=1 << 20) as wal:  # frames in file order: one forward pass
                for offset, pgno in by_offset:
                    if pgno <= self.page_count and pgno != lock:
                        wal.seek(offset)
                        page = wal.read(frame_size)[FRAME_HEADER_SIZE:]
                        if native is not None:
                            sums[pgno - 1] = array("Q", native.page_checksums(page, ps, pgno, lock))[0]
                        else:
                            sums[pgno - 1] = page_checksum(pgno, page)
        return sums


# --- a 0.5 replica -------------------------------------------------------------------------------


@dataclass
class LtxPages:
    """A 0.5 replica at a TXID: snapshot pages, newer versions taken from later files via their index."""

    plan: LtxPlan
    page_size: int = 0
    page_count: int = 0

    def __post_init__(self) -> None:
        last: LtxHeader | None = (self.plan.later[-1] if self.plan.later else self.plan.snapshot).header
        assert last is not None and self.plan.snapshot.header is not None
        self.page_size = self.plan.snapshot.header.page_size
        self.page_count = last.commit

    def pages(self) -> Iterator[tuple[int, bytes]]:
        overlay: dict[int, tuple[int, int, int]] = {}  # pgno -> (file number, offset, size)
        for n, info in enumerate(self.plan.later):
            for pgno, (offset, size) in read_page_index(info.path).items():
                overlay[pgno] = (n, offset, size)
        handles: dict[int, BinaryIO] = {}
        try:

            def newer(pgno: int) -> bytes:
                n, offset, size = overlay[pgno]
                if n not in handles:
                    handles[n] = open(self.plan.later[n].path, "rb")  # noqa: SIM115 - closed below
                return read_page_at(handles[n], offset, size, self.page_size, str(self.plan.later[n].path))

            last = 0
            for pgno, data in iter_ltx_pages(self.plan.snapshot.path):
                if pgno > self.page_count:
                    break
                yield pgno, (newer(pgno) if pgno in overlay else data)
                last = pgno
            for pgno in sorted(p for p in overlay if last < p <= self.page_count):
                yield pgno, newer(pgno)
        finally:
            for fh in handles.values():
                fh.close()

    def checksums(self) -> array[int]:
        """The snapshot's page checksums (one pass, in C), then each page a later file replaced."""
        sums = zeroed(self.page_count)
        pgnos, snap = ltx_page_sums(self.plan.snapshot.path, verify=False)
        for pgno, value in zip(pgnos, snap, strict=True):
            if pgno <= self.page_count:
                sums[pgno - 1] = value
        for info in self.plan.later:  # in TXID order: a later file's page replaces an earlier one's
            for pgno, value in zip(*ltx_page_sums(info.path, verify=False), strict=True):
                if pgno <= self.page_count:
                    sums[pgno - 1] = value
        return sums


# --- a 0.3 replica ---------------------------------------------------------------------------------


@dataclass
class GenerationPages:
    """A 0.3 replica generation: its newest snapshot plus the committed frames of every later WAL index.

    Committed WAL pages are spilled to a temporary file (outside the user's directories),
    keeping memory to a page map whatever the WAL volume.
    """

    generation: Generation
    max_index: int | None = None
    page_size: int = 0
    page_count: int = 0
    workdir: str = ""
    _spill: dict[int, int] = field(default_factory=dict)  # pgno -> offset in the spill file
    snapshot_index: int = 0

    def __post_init__(self) -> None:
        snaps = [s for s in self.generation.snapshots if self.max_index is None or s.index <= self.max_index]
        if not snaps:
            raise PageError(f"generation {self.generation.name} has no snapshot: it cannot be restored")
        snapshot = max(snaps, key=lambda s: s.index)
        self.snapshot_index = snapshot.index
        self._snapshot_path = snapshot.path
        head = next(iter_snapshot_chunks(snapshot.path), b"")[:HEADER_SIZE]
        header = parse_header(head)
        self.page_size = header.page_size
        self.workdir = tempfile.mkdtemp(prefix="litefix-pages-")
        self._build_spill(header.page_count if header.page_count_valid else 0)

    def _build_spill(self, snapshot_pages: int) -> None:
        self.page_count = snapshot_pages or self._snapshot_size() // self.page_size
        spill_path = os.path.join(self.workdir, "pages")
        indexes = sorted({s.index for s in self.generation.wal_segments})
        with open(spill_path, "wb") as spill:
            for index in indexes:
                if index < self.snapshot_index or (self.max_index is not None and index > self.max_index):
                    continue
                wal_path = os.path.join(self.workdir, f"{index:08x}.wal")
                with open(wal_path, "wb") as out:
                    for segment in sorted(self.generation.segments_of(index), key=lambda s: s.offset):
                        for chunk in iter_wal_segment_chunks(segment.path):
                            out.write(chunk)
                scan = scan_wal(wal_path, collect_pages=True)
                if scan.header is not None and scan.committed_frames and scan.page_frames:
                    with open(wal_path, "rb") as wal:
                        for pgno, frame in sorted(scan.page_frames.items()):
                            wal.seek(scan.frame_offset(frame) + FRAME_HEADER_SIZE)
                            self._spill[pgno] = spill.tell()
                            spill.write(wal.read(self.page_size))
                    self.page_count = scan.db_pages or self.page_count
                os.unlink(wal_path)
        self._spill_path = spill_path

    def _snapshot_size(self) -> int:
        return sum(len(c) for c in iter_snapshot_chunks(self._snapshot_path))

    def pages(self) -> Iterator[tuple[int, bytes]]:
        ps = self.page_size
        lock = lock_page(ps)
        with open(self._spill_path, "rb") as spill:

            def spilled(pgno: int) -> bytes:
                spill.seek(self._spill[pgno])
                return spill.read(ps)

            pgno = 1
            buf = b""
            for chunk in iter_snapshot_chunks(self._snapshot_path):
                buf += chunk
                whole = len(buf) // ps
                view = memoryview(buf)
                for i in range(whole):
                    if pgno > self.page_count:
                        return
                    if pgno != lock:
                        yield pgno, (spilled(pgno) if pgno in self._spill else bytes(view[i * ps : (i + 1) * ps]))
                    pgno += 1
                buf = bytes(view[whole * ps :])
            while pgno <= self.page_count:
                if pgno != lock:
                    if pgno not in self._spill:
                        raise PageError(f"page {pgno} is in neither the snapshot nor a committed WAL frame")
                    yield pgno, spilled(pgno)
                pgno += 1

    def checksums(self) -> array[int]:
        """The snapshot streamed through the C checksum loop, then the spilled WAL pages."""
        native = _native()
        if native is None:
            return checksums_of(self)
        ps = self.page_size
        lock = lock_page(ps)
        sums = zeroed(self.page_count)
        pgno, buf = 1, b""
        for chunk in iter_snapshot_chunks(self._snapshot_path):
            buf = buf + chunk if buf else chunk
            whole = min(len(buf) // ps, max(self.page_count - pgno + 1, 0))
            if whole:
                sums[pgno - 1 : pgno - 1 + whole] = array("Q", native.page_checksums(buf[: whole * ps], ps, pgno, lock))
                pgno += whole
            buf = buf[whole * ps :] if len(buf) >= ps else buf
            if pgno > self.page_count:
                break
        with open(self._spill_path, "rb") as spill:
            for p, offset in self._spill.items():
                if p <= self.page_count and p != lock:
                    spill.seek(offset)
                    sums[p - 1] = page_checksum(p, spill.read(ps))
        missing = [p for p in range(pgno, self.page_count + 1) if p not in self._spill and p != lock]
        if missing:
            raise PageError(f"page {missing[0]} is in neither the snapshot nor a committed WAL frame")
        return sums

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


# --- comparing ----------------------------------------------------------------------------------


@dataclass
class Comparison:
    equal: bool
    checksum_a: int
    checksum_b: int
    pages_a: int
    pages_b: int
    differing_pages: int
    first_differences: list[int]

    def to_json(self) -> dict[str, object]:
        return {
            "equal": self.equal,
            "checksum_local": f"{self.checksum_a:016x}",
            "checksum_replica": f"{self.checksum_b:016x}",
            "pages_local": self.pages_a,
            "pages_replica": self.pages_b,
            "differing_pages": self.differing_pages,
            "first_differing_pages": self.first_differences,
        }


def zeroed(n: int) -> array[int]:
    return array("Q", bytes(8 * n))


def _native() -> Any:
    try:
        from litefix import _native as native
    except ImportError:
        return None
    return native


def checksums_of(source: PageSource) -> array[int]:
    """Page checksums of any source by streaming its pages (the general, slower path)."""
    sums = zeroed(source.page_count)
    for pgno, page in source.pages():
        if pgno <= source.page_count:
            sums[pgno - 1] = page_checksum(pgno, page)
    return sums


def _sums(source: PageSource) -> array[int]:
    method = getattr(source, "checksums", None)
    return method() if callable(method) else checksums_of(source)


def checksum(source: PageSource) -> tuple[int, int]:
    """(LTX database checksum, pages) of one source."""
    sums = _sums(source)
    acc = 0
    for value in sums:
        acc ^= value
    return acc | CHECKSUM_FLAG, sum(1 for v in sums if v)


def compare(a: PageSource, b: PageSource, limit: int = 10) -> Comparison:
    """Checksum both sides at once (two threads: the C loops release the GIL) and name the first differences.

    Memory is one 8-byte checksum per page and side (2 MB per GiB of 4 KiB pages), whatever the size.
    """
    with ThreadPoolExecutor(max_workers=2) as pool:
        future_b = pool.submit(_sums, b)
        sums_a = _sums(a)
        sums_b = future_b.result()
    acc_a = acc_b = 0
    for value in sums_a:
        acc_a ^= value
    for value in sums_b:
        acc_b ^= value
    n = max(len(sums_a), len(sums_b))
    first: list[int] = []
    differing = 0
    if len(sums_a) != len(sums_b) or sums_a != sums_b:
        diffs = (
            p for p in range(n) if (sums_a[p] if p < len(sums_a) else -1) != (sums_b[p] if p < len(sums_b) else -1)
        )
        first = []
        differing = 0
        for p in diffs:
            differing += 1
            if len(first) < limit:
                first.append(p + 1)
    pages_a = sum(1 for v in sums_a if v)
    pages_b = sum(1 for v in sums_b if v)
    return Comparison(differing == 0, acc_a | CHECKSUM_FLAG, acc_b | CHECKSUM_FLAG, pages_a, pages_b, differing, first)
