"""Litestream 0.3's meta dir and replica layout: generations, shadow WALs, snapshots, WAL segments.

Meta dir `<dir>/.<db>-litestream/`:
    generation                              the current generation id, 16 hex digits + "\\n"
    generations/<gen>/wal/<index:08x>.wal   shadow WALs: byte copies of the -wal, one per restart

Replica `<path>/generations/<gen>/`:
    snapshots/<index:08x>.snapshot.lz4          LZ4 frame of the whole database file
    wal/<index:08x>_<offset:08x>.wal.lz4        LZ4 frame of shadow WAL <index>, bytes [offset, next)

Why the continuity helpers exist: Litestream 0.3's restore refuses a missing WAL index and a
missing offset-0 segment, but concatenates the segments of an index without checking that
they meet. With a middle segment deleted, 0.3.13's restore exits 0 and writes a database
that SQLite calls malformed (measured): the index's WAL stops at the first frame that no
longer chains, and the later indexes are applied on top of the pages it lost.

Names are matched exactly as Litestream matches them (lower-case hex, 8 digits): a file it
cannot parse is one it silently skips, so it is reported as unrecognized, not read.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import lz4.frame

from litefix.formats import FormatError
from litefix.formats.wal import HEADER_SIZE, WalHeader, WalHeaderError, parse_wal_header

GENERATION_FILE = "generation"
GENERATION_LEN = 16
READ_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20  # most decompressed bytes handed out at once
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"

_GENERATION = re.compile(r"^[0-9a-f]{16}$")
_SHADOW_WAL = re.compile(r"^([0-9a-f]{8})\.wal$")
_SNAPSHOT = re.compile(r"^([0-9a-f]{8})\.snapshot\.lz4$")
_SEGMENT = re.compile(r"^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$")


class GenerationsError(FormatError):
    """A 0.3 meta-dir or replica file Litestream could not use; the message names the file and the problem."""


def _iso(mtime: float) -> str:
    return datetime.fromtimestamp(mtime, UTC).isoformat()


@dataclass(frozen=True, order=True)
class Pos:
    """A position in a 0.3 replica: generation, shadow WAL index, byte offset in that WAL."""

    generation: str
    index: int
    offset: int

    def __str__(self) -> str:
        """As Litestream logs it: `position=ecda00139168f73d/00000001:4152`."""
        return f"{self.generation}/{self.index:08x}:{self.offset}"

    @classmethod
    def parse(cls, text: str) -> Pos:
        match = re.fullmatch(r"([0-9a-f]{16})/([0-9a-f]{8}):(\d+)", text.strip())
        if not match:
            raise GenerationsError(f"{text!r} is not a 0.3 position like ecda00139168f73d/00000001:4152")
        return cls(match.group(1), int(match.group(2), 16), int(match.group(3)))


# --- meta dir ------------------------------------------------------------------------------


def read_generation(meta_dir: str | os.PathLike[str]) -> str | None:
    """The current generation id, or None when there is no `generation` file.

    Litestream trims whitespace and then treats anything but 16 characters as "no
    generation", starting a new one at its next sync, so such contents raise here.
    """
    path = Path(meta_dir) / GENERATION_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    text = raw.decode("utf-8", errors="replace").strip()
    if len(text) != GENERATION_LEN:
        raise GenerationsError(
            f"{path} holds {raw[:40]!r} ({len(raw)} bytes), not a 16-hex-digit generation id; "
            "Litestream treats it as no generation and starts a new one"
        )
    if not _GENERATION.match(text):
        raise GenerationsError(
            f"{path} holds {text!r}, not 16 lower-case hex digits; "
            "Litestream would use it, but never list a replica generation of that name"
        )
    return text


@dataclass(frozen=True)
class ShadowWal:
    index: int
    path: Path
    size: int
    mtime: float

    def read_header(self) -> WalHeader:
        return read_shadow_wal_header(self.path)

    def to_json(self) -> dict[str, object]:
        return {"index": self.index, "path": str(self.path), "size": self.size, "mtime": _iso(self.mtime)}


def list_shadow_wals(meta_dir: str | os.PathLike[str], generation: str) -> list[ShadowWal]:
    """Shadow WALs of one generation in the meta dir, by index; [] when the directory is missing."""
    directory = Path(meta_dir) / "generations" / generation / "wal"
    found: list[ShadowWal] = []
    for filename, file, st in _list_files(directory):  # deleted once replicated: gone files are skipped
        if match := _SHADOW_WAL.match(filename):
            found.append(ShadowWal(int(match.group(1), 16), file, st.st_size, st.st_mtime))
    found.sort(key=lambda w: w.index)
    return found


def read_shadow_wal_header(path: str | os.PathLike[str]) -> WalHeader:
    """The 32-byte WAL header a shadow WAL starts with; Litestream compares it with the real -wal's."""
    with open(path, "rb", buffering=0) as fh:
        data = fh.read(HEADER_SIZE)
    try:
        return parse_wal_header(data)
    except WalHeaderError as exc:
        raise GenerationsError(f"shadow WAL {path}: {exc}") from exc


# --- replica -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    generation: str
    index: int
    path: Path
    size: int  # compressed, as stored
    mtime: float  # Litestream's "created" for file replicas

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "index": self.index,
            "path": str(self.path),
            "size": self.size,
            "mtime": _iso(self.mtime),
        }


@dataclass(frozen=True)
class WalSegment:
    generation: str
    index: int
    offset: int  # byte offset in shadow WAL <index> where the segment's bytes start
    path: Path
    size: int  # compressed, as stored; the covered length is only known by decompressing
    mtime: float

    @property
    def pos(self) -> Pos:
        return Pos(self.generation, self.index, self.offset)

    def to_json(self) -> dict[str, object]:
        return {
            "generation": self.generation,
            "index": self.index,
            "offset": self.offset,
            "path": str(self.path),
            "size": self.size,
            "mtime": _iso(self.mtime),
        }


@dataclass(frozen=True)
class Generation:
    name: str
    path: Path
    snapshots: tuple[Snapshot, ...]  # by index
    wal_segments: tuple[WalSegment, ...]  # by index, then offset
    unrecognized: tuple[Path, ...] = field(default=())  # files Litestream skips

    @property
    def latest_snapshot(self) -> Snapshot | None:
        """The one a restore without -timestamp/-index starts from: newest by creation time."""
        return max(self.snapshots, key=lambda s: (s.mtime, s.index), default=None)

    @property
    def max_index(self) -> int | None:
        indexes = [s.index for s in self.snapshots] + [w.index for w in self.wal_segments]
        return max(indexes, default=None)

    @property
    def created_at(self) -> float | None:
        times = [s.mtime for s in self.snapshots] + [w.mtime for w in self.wal_segments]
        return min(times, default=None)

    @property
    def updated_at(self) -> float | None:
        """Latest file time: Litestream restores the generation whose files are newest."""
        times = [s.mtime for s in self.snapshots] + [w.mtime for w in self.wal_segments]
        return max(times, default=None)

    def segments_of(self, index: int) -> list[WalSegment]:
        return [w for w in self.wal_segments if w.index == index]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "snapshots": [s.to_json() for s in self.snapshots],
            "wal_segments": [w.to_json() for w in self.wal_segments],
            "unrecognized": [str(p) for p in self.unrecognized],
            "created": None if self.created_at is None else _iso(self.created_at),
            "updated": None if self.updated_at is None else _iso(self.updated_at),
        }


def _list_files(directory: Path) -> Iterator[tuple[str, Path, os.stat_result]]:
    """(name, path, stat) of the files in `directory`; files deleted meanwhile (retention) are skipped."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_file():
                yield entry.name, Path(entry.path), entry.stat()
        except FileNotFoundError:
            continue


def scan_replica_generation(root: str | os.PathLike[str], name: str) -> Generation:
    """One generation of a 0.3 replica, names and stat only."""
    path = Path(root) / "generations" / name
    snapshots: list[Snapshot] = []
    segments: list[WalSegment] = []
    unrecognized: list[Path] = []
    for filename, file, st in _list_files(path / "snapshots"):
        if match := _SNAPSHOT.match(filename):
            snapshots.append(Snapshot(name, int(match.group(1), 16), file, st.st_size, st.st_mtime))
        else:
            unrecognized.append(file)
    for filename, file, st in _list_files(path / "wal"):
        if match := _SEGMENT.match(filename):
            index, offset = int(match.group(1), 16), int(match.group(2), 16)
            segments.append(WalSegment(name, index, offset, file, st.st_size, st.st_mtime))
        else:
            unrecognized.append(file)
    snapshots.sort(key=lambda s: s.index)
    segments.sort(key=lambda w: (w.index, w.offset))
    return Generation(name, path, tuple(snapshots), tuple(segments), tuple(sorted(unrecognized)))


def scan_replica_generations(root: str | os.PathLike[str]) -> list[Generation]:
    """Every generation under `<root>/generations/`, by name (the order Litestream lists them).

    Directories whose name is not 16 lower-case hex digits are skipped, as Litestream skips them.
    """
    base = Path(root) / "generations"
    try:
        names = sorted(e.name for e in os.scandir(base) if e.is_dir() and _GENERATION.match(e.name))
    except FileNotFoundError:
        return []
    return [scan_replica_generation(root, name) for name in names]


# --- continuity ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Gap:
    """A hole in a generation's history; `start`/`end` are byte offsets for offset gaps.

    kinds:
      no-snapshot              the generation cannot be restored at all
      missing-index            no segments for an index a restore must replay (restore fails)
      missing-initial-segment  an index whose segments do not start at offset 0 (restore fails)
      offset-gap               segments of an index do not meet: restore silently loses the rest
      offset-overlap           a segment runs past the start of the next one
      unreadable-segment       a segment does not decompress, so its length is unknown
    """

    generation: str
    kind: str
    index: int | None = None
    start: int | None = None
    end: int | None = None
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"generation": self.generation, "kind": self.kind}
        for key in ("index", "start", "end"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.detail:
            out["detail"] = self.detail
        return out


def find_gaps(generation: Generation, *, check_offsets: bool = True) -> list[Gap]:
    """Holes a restore of this generation would hit, from the first snapshot to the last segment.

    Indexes before the oldest snapshot are left alone: retention deletes them on purpose.
    With `check_offsets`, each segment is decompressed (streaming) to learn how many WAL
    bytes it covers, because only that tells whether the next segment starts where it ends.
    """
    gaps: list[Gap] = []
    name = generation.name
    if not generation.snapshots:
        detail = f"{len(generation.wal_segments)} WAL segments but no snapshot to apply them to"
        gaps.append(Gap(name, "no-snapshot", detail=detail))
        return gaps
    first = min(s.index for s in generation.snapshots)
    by_index: dict[int, list[WalSegment]] = {}
    for segment in generation.wal_segments:
        if segment.index >= first:
            by_index.setdefault(segment.index, []).append(segment)
    last = max(by_index, default=first - 1)
    for index in range(first, last + 1):
        segments = by_index.get(index)
        if not segments:
            gaps.append(Gap(name, "missing-index", index, detail=f"no WAL segments for index {index:08x}"))
            continue
        if segments[0].offset != 0:
            gaps.append(
                Gap(
                    name,
                    "missing-initial-segment",
                    index,
                    0,
                    segments[0].offset,
                    f"index {index:08x} starts at offset {segments[0].offset}, not 0",
                )
            )
        if check_offsets:
            gaps.extend(_offset_gaps(name, index, segments))
    return gaps


def _offset_gaps(name: str, index: int, segments: list[WalSegment]) -> list[Gap]:
    gaps: list[Gap] = []
    for segment, following in itertools.pairwise(segments):
        try:
            end = segment.offset + decompressed_size(segment.path)
        except GenerationsError as exc:
            gaps.append(Gap(name, "unreadable-segment", index, segment.offset, None, str(exc)))
            continue
        if end < following.offset:
            detail = f"bytes {end}-{following.offset} of index {index:08x} are in no segment"
            gaps.append(Gap(name, "offset-gap", index, end, following.offset, detail))
        elif end > following.offset:
            detail = f"segment at {segment.offset} ends at {end}, past the next one at {following.offset}"
            gaps.append(Gap(name, "offset-overlap", index, following.offset, end, detail))
    return gaps


def replicated_end(generation: Generation) -> Pos | None:
    """Where the replica's WAL ends: the last segment's offset plus the bytes it holds.

    Compare it with the meta dir's newest shadow WAL (index, size): an index lost whole at
    the end leaves no gap inside the replica, only a replica that ends too early.
    """
    if not generation.wal_segments:
        return None
    last = generation.wal_segments[-1]
    return Pos(generation.name, last.index, last.offset + decompressed_size(last.path))


# --- LZ4 frames ----------------------------------------------------------------------------


def iter_lz4_frame(
    path: str | os.PathLike[str], *, what: str = "file", reader: BinaryIO | None = None
) -> Iterator[bytes]:
    """Decompress one LZ4 frame file in pieces of at most CHUNK_BYTES, reading READ_BYTES at a time.

    Raises GenerationsError when the file is not an LZ4 frame, is damaged, ends before the
    frame's end mark (a torn upload), or has bytes after it.
    """
    decompressor = lz4.frame.LZ4FrameDecompressor()
    total = 0
    with contextlib.nullcontext(reader) if reader is not None else open(path, "rb") as fh:
        head = fh.read(4)
        if head != LZ4_FRAME_MAGIC:
            raise GenerationsError(f"{what} {path} starts with {head.hex() or 'nothing'}, not the LZ4 frame magic")
        data = head
        while True:
            if not data and decompressor.needs_input:
                data = fh.read(READ_BYTES)
                if not data:
                    raise GenerationsError(
                        f"{what} {path} is truncated: its LZ4 frame ends without an end mark "
                        f"after {total} decompressed bytes"
                    )
            try:
                out = decompressor.decompress(data, max_length=CHUNK_BYTES)
            except RuntimeError as exc:
                raise GenerationsError(f"{what} {path} is corrupt: {exc}") from exc
            data = b""
            if out:
                total += len(out)
                yield out
            if decompressor.eof:
                if decompressor.unused_data or fh.read(1):
                    raise GenerationsError(f"{what} {path} has bytes after the end of its LZ4 frame")
                return


def iter_snapshot_chunks(path: str | os.PathLike[str], reader: BinaryIO | None = None) -> Iterator[bytes]:
    """The database file a snapshot holds, in bounded pieces; concatenated, it starts `SQLite format 3\\0`."""
    return iter_lz4_frame(path, what="snapshot", reader=reader)


def iter_wal_segment_chunks(path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Shadow-WAL bytes of one segment, in bounded pieces (offset 0 starts with the WAL header)."""
    return iter_lz4_frame(path, what="WAL segment")


def read_wal_segment(path: str | os.PathLike[str]) -> bytes:
    """A whole WAL segment in memory; segments are one sync's worth of frames, so small."""
    return b"".join(iter_wal_segment_chunks(path))


def decompressed_size(path: str | os.PathLike[str]) -> int:
    """How many bytes an LZ4 frame file decompresses to; 0.3 does not record it in the frame."""
    return sum(len(chunk) for chunk in iter_lz4_frame(path, what="WAL segment"))
