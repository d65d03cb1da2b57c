"""Litestream's replica layouts over any storage: 0.5 `ltx/<level>/<min>-<max>.ltx` and 0.3
`generations/<gen>/{snapshots/<index>.snapshot.lz4, wal/<index>_<offset>.wal.lz4}`.

The same functions read a `file` replica and an object store (replicas/storage.py): names give
positions, and the 100-byte LTX header (one ranged read per file, several at once on a remote
store) gives timestamps, page size and commit. Nothing else is read until a check needs pages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from litefix.errors import os_error_sentence
from litefix.formats.ltx import HEADER_SIZE, LtxError, LtxFileInfo, LtxHeader, parse_ltx_header, parse_ltx_name
from litefix.replicas.storage import PARALLEL, ObjectInfo, Storage, StorageError

if TYPE_CHECKING:
    from litefix.formats.generations import Generation

T = TypeVar("T")
R = TypeVar("R")

_GENERATION = re.compile(r"^[0-9a-f]{16}$")
_LEVEL_DIR = re.compile(r"^[0-9a-f]{4}$")
_SNAPSHOT = re.compile(r"^([0-9a-f]{8})\.snapshot\.lz4$")
_SEGMENT = re.compile(r"^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$")


def list_objects(storage: Storage) -> list[ObjectInfo]:
    """One listing of the whole replica root: both layouts come out of it."""
    return storage.list("")


def _ltx_level(parts: list[str]) -> int | None:
    """0.5 keeps levels in `ltx/<n>/` on a file replica and in `<%04x>/` on the object stores (measured)."""
    if len(parts) == 3 and parts[0] == "ltx" and parts[1].isdigit() and len(parts[1]) == 1:
        return int(parts[1])
    if len(parts) == 2 and _LEVEL_DIR.match(parts[0]):
        level = int(parts[0], 16)
        return level if level <= 9 else None
    return None


def list_ltx(storage: Storage, objects: list[ObjectInfo] | None = None) -> list[LtxFileInfo]:
    """Every LTX file of every level, with its header; sorted by level, then TXIDs (as scan_ltx_dir)."""
    listed: list[tuple[int, ObjectInfo]] = []
    for info in list_objects(storage) if objects is None else objects:
        parts = info.key.split("/")
        level = _ltx_level(parts)
        if level is not None and parts[-1].endswith(".ltx"):
            listed.append((level, info))
    objects_by_level = listed
    headers = _map(storage, lambda info: _header(storage, info), [info for _, info in objects_by_level])
    found = []
    for (level, info), (header, error) in zip(objects_by_level, headers, strict=True):
        if error == "gone":
            continue
        name = info.key.rsplit("/", 1)[1]
        txids = parse_ltx_name(name)
        found.append(
            LtxFileInfo(
                path=storage.local_path(info.key),
                level=level,
                min_txid=txids[0] if txids else None,
                max_txid=txids[1] if txids else None,
                size=info.size,
                mtime=info.mtime,
                header=header,
                header_error=error,
            )
        )
    found.sort(key=lambda f: (f.level, f.min_txid or 0, f.max_txid or 0, f.name))
    return found


def _header(storage: Storage, info: ObjectInfo) -> tuple[LtxHeader | None, str | None]:
    try:
        data = storage.read_range(info.key, 0, HEADER_SIZE)
    except FileNotFoundError:
        return None, "gone"  # retention removed it while it was listed
    except StorageError as exc:
        if exc.reason == "not-found":
            return None, "gone"
        raise
    except OSError as exc:
        return None, os_error_sentence(exc, info.key)
    try:
        return parse_ltx_header(data), None
    except LtxError as exc:
        return None, str(exc)


def _map(storage: Storage, fn: Callable[[T], R], items: list[T]) -> list[R]:
    """In order; several requests at once on a remote store, one after another on a disk."""
    if storage.kind == "file" or len(items) < 2:
        return [fn(i) for i in items]
    from concurrent.futures import ThreadPoolExecutor  # imported here: a file replica never gets this far

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items))) as pool:
        return list(pool.map(fn, items))


def list_generations(storage: Storage, objects: list[ObjectInfo] | None = None) -> list[Generation]:
    """Every generation under `generations/`, names and sizes only (as scan_replica_generations)."""
    by_gen: dict[str, tuple[list[tuple[int, Path, ObjectInfo]], list[tuple[int, int, Path, ObjectInfo]], list[Path]]]
    by_gen = {}
    for info in list_objects(storage) if objects is None else objects:
        parts = info.key.split("/")
        if len(parts) != 4 or parts[0] != "generations" or not _GENERATION.match(parts[1]):
            continue
        gen, kind, name = parts[1], parts[2], parts[3]
        snaps, segs, other = by_gen.setdefault(gen, ([], [], []))
        path = storage.local_path(info.key)
        if kind == "snapshots" and (m := _SNAPSHOT.match(name)):
            snaps.append((int(m[1], 16), path, info))
        elif kind == "wal" and (m := _SEGMENT.match(name)):
            segs.append((int(m[1], 16), int(m[2], 16), path, info))
        else:
            other.append(path)
    if not by_gen:
        return []  # a 0.5 replica: the 0.3 reader is not even imported
    from litefix.formats.generations import Generation, Snapshot, WalSegment

    return [
        Generation(
            name,
            storage.local_path(f"generations/{name}"),
            tuple(Snapshot(name, i, p, o.size, o.mtime) for i, p, o in sorted(snaps, key=lambda s: s[0])),
            tuple(WalSegment(name, i, off, p, o.size, o.mtime) for i, off, p, o in sorted(segs, key=lambda w: w[:2])),
            tuple(sorted(other)),
        )
        for name, (snaps, segs, other) in sorted(by_gen.items())
    ]


def generation_keys(storage: Storage, generation: Generation, *, snapshot: bool = True) -> list[str]:
    """The objects a check of this generation reads: its segments, and its newest snapshot."""
    root = storage.local_path("")
    paths = [w.path for w in generation.wal_segments]
    if snapshot and generation.snapshots:
        paths.append(max(generation.snapshots, key=lambda s: s.index).path)
    return [str(p.relative_to(root)) for p in paths]


def ltx_keys(storage: Storage, files: list[LtxFileInfo]) -> list[str]:
    root = storage.local_path("")
    return [str(f.path.relative_to(root)) for f in files]
