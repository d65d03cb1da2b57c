"""SQLite's write-ahead log (https://sqlite.org/fileformat2.html#walformat), read the way SQLite reads it.

A -wal file is a 32-byte header and whole frames (24-byte header + one page). A frame
counts only if its salts equal the header's and its checksum continues the chain;
SQLite stops at the first frame that fails, and only frames up to the last commit
frame are visible to readers. The file is never truncated on restart, so bytes past
the chain are usually stale frames from an earlier cycle, not damage.

`scan_wal` streams the file in fixed-size chunks: memory stays flat whatever its size.
"""

from __future__ import annotations

import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from litefix.formats import FormatError, walsum
from litefix.formats.sqlite_header import valid_page_size

HEADER_SIZE = 32
FRAME_HEADER_SIZE = 24
MAGIC_LE = 0x377F0682  # checksums over little-endian words
MAGIC_BE = 0x377F0683  # checksums over big-endian words
VERSION = 3007000
CHUNK_BYTES = 4 << 20
# salt-1 grows by one on every WAL restart, so a lone frame whose salt-1 is a little
# below the header's is a leftover of an earlier cycle. Two or more leftovers are
# told apart from junk more surely: SQLite's frames chain with each other.
STALE_SALT_WINDOW = 1 << 16


class WalHeaderError(FormatError):
    """The -wal header is unusable; SQLite then ignores the whole file."""


@dataclass(frozen=True)
class WalHeader:
    magic: int
    version: int
    page_size: int
    checkpoint_seq: int
    salt1: int
    salt2: int
    checksum1: int
    checksum2: int

    @property
    def big_endian(self) -> bool:
        return self.magic == MAGIC_BE

    @property
    def frame_size(self) -> int:
        return FRAME_HEADER_SIZE + self.page_size

    @property
    def salts(self) -> tuple[int, int]:
        return (self.salt1, self.salt2)

    def to_json(self) -> dict[str, object]:
        return {
            "magic": f"0x{self.magic:08x}",
            "byte_order": "big-endian" if self.big_endian else "little-endian",
            "version": self.version,
            "page_size": self.page_size,
            "checkpoint_seq": self.checkpoint_seq,
            "salt1": f"0x{self.salt1:08x}",
            "salt2": f"0x{self.salt2:08x}",
        }


def parse_wal_header(data: bytes) -> WalHeader:
    """Parse and validate 32 header bytes; raise WalHeaderError saying what is wrong."""
    if len(data) < HEADER_SIZE:
        raise WalHeaderError(f"-wal is {len(data)} bytes, shorter than its 32-byte header")
    magic, version, page_size, seq, salt1, salt2, c1, c2 = struct.unpack_from(">8I", data)
    if magic not in (MAGIC_LE, MAGIC_BE):
        raise WalHeaderError(f"bad magic 0x{magic:08x} (expected 0x377f0682 or 0x377f0683)")
    if version != VERSION:
        raise WalHeaderError(f"unknown WAL format version {version} (expected {VERSION})")
    if not valid_page_size(page_size):
        raise WalHeaderError(f"page size {page_size} is not a power of two between 512 and 65536")
    header = WalHeader(magic, version, page_size, seq, salt1, salt2, c1, c2)
    if walsum.checksum(data[:24], 0, 0, header.big_endian) != (c1, c2):
        raise WalHeaderError("header checksum does not match its first 24 bytes")
    return header


@dataclass
class WalScan:
    """What SQLite would see in a -wal, and what it would ignore."""

    size: int
    header: WalHeader | None = None
    header_error: str | None = None
    frames_in_file: int = 0  # whole frames after the header
    partial_bytes: int = 0  # trailing bytes that do not make a whole frame
    valid_frames: int = 0  # frames whose salts and checksum chain hold
    committed_frames: int = 0  # valid frames up to and including the last commit frame
    commits: int = 0
    db_pages: int | None = None  # database size in pages after the last commit
    # Why the chain stopped before the end of the file: salt (earlier cycle), garbage
    # (salts of no cycle), checksum, pgno-zero, partial (a frame cut short).
    stop_reason: str | None = None
    stop_frame: int | None = None
    # When the chain breaks on a frame of this cycle, frames after it that still
    # validate (seeded with the broken frame's stored checksum): committed data lost.
    intact_after_break: int = 0
    commits_after_break: int = 0
    last_page1_frame: int | None = None  # newest committed frame holding page 1
    page_frames: dict[int, int] | None = field(default=None, repr=False)  # pgno -> committed frame
    # Filled by `read_wal_consistent`: the bytes and file identity of the read that was kept.
    head: bytes = field(default=b"", repr=False)  # the first 32 bytes as read
    page1: bytes | None = field(default=None, repr=False)  # the image of `last_page1_frame`, same read
    identity: tuple[int, int, int, int] | None = None  # (inode, size, mtime_ns, device) when read
    reads: int = 1  # how many reads it took to get a consistent view
    # None when what the scan says was seen twice alike (or needed no second look); else why not.
    inconclusive: str | None = None

    @property
    def anomaly(self) -> bool:
        """Anything a torn read can fake: a bad header, a broken chain, bytes after the last commit."""
        return bool(
            self.header_error
            or self.stop_reason in ("garbage", "checksum", "pgno-zero", "partial")
            or self.intact_after_break
            or self.uncommitted_frames
        )

    @property
    def frame_size(self) -> int:
        return self.header.frame_size if self.header else 0

    @property
    def committed_end(self) -> int:
        """Byte offset just past the last committed frame."""
        if not self.header:
            return 0
        return HEADER_SIZE + self.committed_frames * self.frame_size

    @property
    def uncommitted_frames(self) -> int:
        return self.valid_frames - self.committed_frames

    def frame_offset(self, index: int) -> int:
        return HEADER_SIZE + (index - 1) * self.frame_size

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"size": self.size}
        if self.header_error:
            out["header_error"] = self.header_error
        if self.header:
            out["header"] = self.header.to_json()
            out.update(
                frames_in_file=self.frames_in_file,
                valid_frames=self.valid_frames,
                committed_frames=self.committed_frames,
                commits=self.commits,
                db_pages_after_last_commit=self.db_pages,
                bytes_after_last_commit=self.size - self.committed_end,
            )
            if self.partial_bytes:
                out["partial_bytes"] = self.partial_bytes
            if self.stop_reason:
                out["chain_stops_at_frame"] = self.stop_frame
                out["chain_stop_reason"] = self.stop_reason
            if self.intact_after_break:
                out["intact_frames_after_break"] = self.intact_after_break
                out["commits_after_break"] = self.commits_after_break
        return out


def _chunks(f: os.PathLike[str] | str | int, start: int, frame_size: int) -> Iterator[tuple[int, memoryview]]:
    """Yield (offset, view) over whole-frame chunks; the buffer is reused, so copy what you keep."""
    frames_per_chunk = max(1, CHUNK_BYTES // frame_size)
    buf = bytearray(frames_per_chunk * frame_size)
    with open(f, "rb", buffering=0, closefd=not isinstance(f, int)) as fh:
        fh.seek(start)
        offset = start
        while True:
            n = fh.readinto(buf)
            if not n:
                return
            yield offset, memoryview(buf)[:n]
            offset += n


def _is_earlier_cycle(header: WalHeader, salt1: int) -> bool:
    return 0 < (header.salt1 - salt1) % (1 << 32) < STALE_SALT_WINDOW


def scan_wal(path: str | os.PathLike[str], *, collect_pages: bool = False) -> WalScan:
    """Read a -wal once, front to back, and say which frames SQLite would use."""
    with open(path, "rb", buffering=0) as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEADER_SIZE)
    scan = WalScan(size=size)
    if size == 0:
        return scan
    try:
        header = parse_wal_header(head)
    except WalHeaderError as exc:
        scan.header_error = str(exc)
        return scan
    scan.header = header
    fsize = header.frame_size
    scan.frames_in_file, scan.partial_bytes = divmod(size - HEADER_SIZE, fsize)
    s0, s1 = header.checksum1, header.checksum2
    pages: dict[int, int] = {}
    pending: dict[int, int] = {}
    broken = False
    for offset, view in _chunks(path, HEADER_SIZE, fsize):
        whole = len(view) - len(view) % fsize
        n, s0, s1 = walsum.scan_frames(
            view[:whole], header.page_size, header.salt1, header.salt2, s0, s1, header.big_endian
        )
        first_index = (offset - HEADER_SIZE) // fsize + 1
        for i in range(n):
            pgno, commit = struct.unpack_from(">II", view, i * fsize)
            index = first_index + i
            if collect_pages or pgno == 1:
                pending[pgno] = index
            if commit:
                scan.commits += 1
                scan.committed_frames = index
                scan.db_pages = commit
                if 1 in pending:
                    scan.last_page1_frame = pending[1]
                if collect_pages:
                    pages.update(pending)
                pending.clear()
        scan.valid_frames = first_index + n - 1
        if n * fsize < whole:
            _explain_break(scan, path, header, first_index + n)
            broken = True
            break
        if whole < len(view):  # only the last read can end mid-frame
            break
    if not broken and scan.partial_bytes:
        scan.stop_reason = "partial"
        scan.stop_frame = scan.frames_in_file + 1
    if collect_pages:
        scan.page_frames = pages
    return scan


def _explain_break(scan: WalScan, path: str | os.PathLike[str], header: WalHeader, index: int) -> None:
    """Record why frame `index` failed and whether committed frames lie beyond it."""
    fsize = header.frame_size
    with open(path, "rb", buffering=0) as fh:
        fh.seek(scan.frame_offset(index))
        pair = fh.read(2 * fsize)
    scan.stop_frame = index
    if len(pair) < FRAME_HEADER_SIZE:  # the file shrank under us (a TRUNCATE checkpoint): a torn read
        scan.stop_reason = "partial"
        return
    pgno, _commit, fs1, fs2, c1, c2 = struct.unpack_from(">6I", pair)
    if (fs1, fs2) != header.salts:
        if len(pair) == 2 * fsize:  # does the next frame chain from this one, as SQLite's would?
            chained, _, _ = walsum.scan_frames(
                memoryview(pair)[fsize:], header.page_size, fs1, fs2, c1, c2, header.big_endian
            )
            # The last leftover of one earlier cycle is followed by one of a still earlier cycle:
            # it chains with nothing, but its salt-1 still says which cycle wrote it.
            stale = chained == 1 or _is_earlier_cycle(header, fs1)
        else:
            stale = _is_earlier_cycle(header, fs1)
        scan.stop_reason = "salt" if stale else "garbage"
        return
    scan.stop_reason = "pgno-zero" if pgno == 0 else "checksum"
    # Resynchronise on the broken frame's stored checksum: if the next frames chain
    # from it, they were written after it by SQLite and committed data sits beyond
    # a damaged frame (corruption), not just a torn final write.
    intact = commits = 0
    c_s0, c_s1 = c1, c2
    start = scan.frame_offset(index) + fsize
    for _offset, view in _chunks(path, start, fsize):
        whole = len(view) - len(view) % fsize
        n, c_s0, c_s1 = walsum.scan_frames(
            view[:whole], header.page_size, header.salt1, header.salt2, c_s0, c_s1, header.big_endian
        )
        for i in range(n):
            if struct.unpack_from(">I", view, i * fsize + 4)[0]:
                commits += 1
        intact += n
        if n * fsize < len(view):
            break
    scan.intact_after_break = intact
    scan.commits_after_break = commits


def read_frame_page(path: str | os.PathLike[str], scan: WalScan, index: int) -> bytes:
    """The page image stored in frame `index` (1-based)."""
    if scan.header is None:
        raise ValueError("no valid WAL header")
    with open(path, "rb", buffering=0) as fh:
        fh.seek(scan.frame_offset(index) + FRAME_HEADER_SIZE)
        return fh.read(scan.header.page_size)


# --- reading a -wal that a live process writes ---------------------------------------------------
# SQLite appends frames (header and page in two writes), rewrites the header and overwrites the
# frames from the start when it resets the log, and truncates it on a TRUNCATE checkpoint; Litestream
# makes all three happen every few seconds. A read that overlaps one of them sees a frame half
# written, or a header of one cycle with frames of another, and a plain scan calls that damage
# (measured: 2-4 false `wal-corrupt` errors in 15 `check` runs on a busy deployment). Committed
# frames never change within one cycle, so a read is kept when the header and the file's identity
# are the same before and after it; whatever the scan calls wrong must then be seen again, alike,
# by a second such read a moment later. A write in progress is over in microseconds; damage stays.

CONSISTENT_READS = 8  # bounded: a writer that never pauses gets "inconclusive", never a hang
CONFIRM_PAUSE = 0.02  # seconds between the two reads that must agree


def _identity(fd: int) -> tuple[int, int, int, int]:
    st = os.fstat(fd)
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_dev)


def _read_once(path: str | os.PathLike[str], collect_pages: bool) -> tuple[WalScan, bool, bool]:
    """One scan, with the page-1 image and the header read through the same descriptor. Returns
    (scan, same_cycle: the header and inode did not change, so the committed frames it read are
    what they were; quiet: nothing at all was written while it read)."""
    with open(path, "rb", buffering=0) as fh:
        fd = fh.fileno()
        before = _identity(fd)
        head = os.pread(fd, HEADER_SIZE, 0)
        scan = scan_wal(f"/proc/self/fd/{fd}" if os.path.isdir("/proc/self/fd") else path, collect_pages=collect_pages)
        scan.head = head
        if scan.last_page1_frame is not None and scan.header is not None:
            offset = scan.frame_offset(scan.last_page1_frame) + FRAME_HEADER_SIZE
            scan.page1 = os.pread(fd, scan.header.page_size, offset)
        after = _identity(fd)
        same_cycle = (
            os.stat(path).st_ino == before[0] and os.pread(fd, HEADER_SIZE, 0) == head and after[1] >= before[1]
        )
    scan.identity = before
    return scan, same_cycle, same_cycle and after == before


def _signature(path: str | os.PathLike[str], scan: WalScan) -> tuple[object, ...]:
    """What two reads must agree on for an anomaly to be real: the header, where and why the chain
    stops, and the bytes of the frame it stops at."""
    digest = ""
    if scan.stop_frame is not None and scan.header is not None:
        import hashlib  # OpenSSL loads only for a -wal whose chain stops early

        with open(path, "rb", buffering=0) as fh:
            fh.seek(scan.frame_offset(scan.stop_frame))
            digest = hashlib.sha256(fh.read(scan.frame_size)).hexdigest()
    tail = (scan.size, scan.valid_frames) if scan.stop_reason == "partial" or scan.uncommitted_frames else ()
    return (
        scan.head,
        scan.header_error,
        scan.stop_reason,
        scan.stop_frame,
        scan.committed_frames,
        bool(scan.intact_after_break),
        digest,
        *tail,
    )


def read_wal_consistent(
    path: str | os.PathLike[str], *, collect_pages: bool = False, attempts: int = CONSISTENT_READS
) -> WalScan:
    """`scan_wal` for a -wal a live process may be writing: a scan whose header and inode stood still
    while it read, and, when it finds anything wrong, two scans during which nothing was written that
    find the same. When no read qualifies within `attempts`, the last scan comes back with
    `inconclusive` saying why (FileNotFoundError if the -wal is gone)."""
    previous: tuple[object, ...] | None = None
    scan: WalScan | None = None
    why = "the -wal changed during every read (a live writer)"
    for attempt in range(1, attempts + 1):
        try:
            scan, same_cycle, quiet = _read_once(path, collect_pages)
        except FileNotFoundError:
            raise
        except (OSError, struct.error, ValueError) as exc:  # the file shrank or changed mid-read
            why = f"the -wal changed while it was read ({exc})"
            time.sleep(CONFIRM_PAUSE)
            continue
        scan.reads = attempt
        if same_cycle and not scan.anomaly:
            return scan
        if not quiet:
            previous = None
            time.sleep(CONFIRM_PAUSE * (1 + attempt % 3))
            continue
        signature = _signature(path, scan)
        if signature == previous:
            return scan
        previous = signature
        why = "what one read found was not there, alike, on the next (a live writer)"
        time.sleep(CONFIRM_PAUSE)
    if scan is None:
        scan = WalScan(size=0)
    scan.reads = attempts
    scan.inconclusive = why
    return scan
