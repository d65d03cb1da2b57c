"""What is on a replica, where the local database stands against it, and whether it restores.

File replicas are read natively (directory listings, LTX headers, 0.3 segment names):
no binary, no download. Other replica types are listed through the real `litestream`
binary (`generations`/`snapshots`/`wal` on 0.3, `ltx -json` on 0.5) and restored with
`restore -o` when page data is needed. Positions are compared the way Litestream
itself would continue: 0.3 by generation/index/offset, 0.5 by TXID.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from litefix.config import DatabaseConfig, LitestreamConfig, ReplicaConfig, parse_replica_url
from litefix.errors import os_error_sentence
from litefix.formats.ltx import LtxFileInfo, scan_ltx_dir
from litefix.model import JSON
from litefix.replicas.backends import open_storage
from litefix.replicas.layout import generation_keys, list_generations, list_ltx, list_objects, ltx_keys
from litefix.replicas.plan import PageError, plan_ltx_restore
from litefix.replicas.progress import growth, reporting
from litefix.replicas.storage import FileStorage, Storage, StorageError
from litefix.system.litestream import Binary, Invocation
from litefix.system.schema import SchemaError, check_integrity

if TYPE_CHECKING:
    # The 0.3 reader is imported where a 0.3 replica or meta dir is met, not by every `diagnose`.
    from litefix.formats.generations import Generation, Pos

# Listing a replica is a few requests; Litestream 0.5 retries an endpoint that does not answer
# for ever (measured), so a listing that takes longer than this is an unreachable replica.
LIST_TIMEOUT = 20.0


@dataclass(frozen=True)
class ReplicaTarget:
    """One place the database is replicated to, and how litefix learnt of it."""

    location: str  # canonical: file:///abs/dir, s3://bucket/prefix, …
    type: str
    local_path: str | None  # the directory of a file replica
    config: ReplicaConfig | None
    via: str  # "<config>:<line>" or "--replica"

    def to_json(self) -> dict[str, JSON]:
        return {"location": self.location, "type": self.type, "via": self.via, "local_path": self.local_path}

    @classmethod
    def from_json(cls, data: dict[str, JSON]) -> ReplicaTarget:
        local = data.get("local_path")
        return cls(str(data["location"]), str(data["type"]), str(local) if local else None, None, str(data["via"]))


def replica_targets(
    db: str, explicit: str | None, config: LitestreamConfig | None, db_config: DatabaseConfig | None
) -> list[ReplicaTarget]:
    """`--replica URL` if given, else every replica the config lists for this database."""
    if explicit:
        replica = parse_replica_url(explicit)
        return [_target(replica, "--replica")]
    if config is None or db_config is None:
        return []
    return [_target(r, f"{config.source_path}:{r.line}") for r in db_config.replicas]


def _target(replica: ReplicaConfig, via: str) -> ReplicaTarget:
    local = replica.path if replica.type == "file" else None
    return ReplicaTarget(replica.location, replica.type, local, replica, via)


# --- what the replica holds -----------------------------------------------------------------


@dataclass
class ReplicaView:
    target: ReplicaTarget
    format: str = "missing"  # "0.3", "0.5", "0.3+0.5", "empty", "missing", "unreadable"
    error: str | None = None  # the replica could not be read (binary or storage failed)
    read_by: str = "native"  # "native" or "litestream <version>"
    ltx: list[LtxFileInfo] = field(default_factory=list)
    generations: list[Generation] = field(default_factory=list)
    reason: str | None = None  # with `error` from a storage: one word (access-denied, timeout, …)
    detail: str = ""  # the client's own error chain
    storage: Storage | None = None  # None when the binary listed it

    @property
    def native(self) -> bool:
        """Read by litefix itself (a directory or an object store): object bytes are available."""
        return self.storage is not None

    def fetch_ltx(self, files: list[LtxFileInfo]) -> None:
        """Bring these files local (a no-op for a directory); raises StorageError."""
        if self.storage is not None:
            self.storage.fetch(ltx_keys(self.storage, files))

    def fetch_generation(self, generation: Generation, *, snapshot: bool = True) -> None:
        if self.storage is not None:
            self.storage.fetch(generation_keys(self.storage, generation, snapshot=snapshot))

    @property
    def remote(self) -> bool:
        """Read natively from an object store, where every object read is a request."""
        return self.storage is not None and not isinstance(self.storage, FileStorage)

    def fetch_wal_end(self, generation: Generation) -> None:
        """The last WAL segment: where the generation's WAL ends (the listing gives only where it starts)."""
        if self.storage is not None and generation.wal_segments:
            from litefix.formats.generations import Generation

            last = Generation(generation.name, generation.path, (), generation.wal_segments[-1:])
            self.storage.fetch(generation_keys(self.storage, last, snapshot=False))

    def close(self) -> None:
        if self.storage is not None:
            self.storage.close()

    @property
    def max_txid(self) -> int | None:
        return max((f.max_txid or 0 for f in self.ltx), default=None)

    @property
    def newest_time(self) -> float | None:
        """When the newest replica object was written (seconds since the epoch)."""
        times = [f.header.timestamp / 1000 if f.header else f.mtime for f in self.ltx]
        times += [g.updated_at for g in self.generations if g.updated_at is not None]
        return max(times, default=None)

    def latest_generation(self) -> Generation | None:
        """The generation a plain 0.3 `restore` picks: the one updated last."""
        with_files = [g for g in self.generations if g.updated_at is not None]
        return max(with_files, key=lambda g: g.updated_at or 0, default=None)

    @property
    def holds_data(self) -> bool:
        """Something a restore would bring back: an LTX file with TXIDs, or a 0.3 snapshot or WAL segment."""
        return any(f.max_txid for f in self.ltx) or any(g.snapshots or g.wal_segments for g in self.generations)

    def holdings(self) -> dict[str, JSON]:
        """Where the replica's newest state is and how much it holds: what a restore would bring back."""
        out: dict[str, JSON] = {"replica": self.target.location, "format": self.format}
        if self.ltx:
            out["position"] = f"TXID {self.max_txid or 0:016x}"
            out["files"] = len(self.ltx)
            out["bytes"] = sum(f.size for f in self.ltx)
            newest = max((f for f in self.ltx if f.header is not None), key=lambda f: f.max_txid or 0, default=None)
            if newest is not None and newest.header is not None:
                out["database_bytes"] = newest.header.commit * newest.header.page_size
        elif (latest := self.latest_generation()) is not None:
            end = replica_position_03(latest, self.read_by == "native")
            out["position"] = str(end) if end else f"generation {latest.name}"
            out["generation"] = latest.name
            out["files"] = len(latest.snapshots) + len(latest.wal_segments)
            out["bytes"] = sum(x.size for x in latest.snapshots) + sum(x.size for x in latest.wal_segments)
        if self.newest_time is not None:
            out["newest"] = _iso(self.newest_time)
        return out

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"location": self.target.location, "format": self.format, "read_by": self.read_by}
        if self.error:
            out["error"] = self.error
        if self.reason:
            out["reason"] = self.reason
        if (credentials := getattr(self.storage, "credentials", "")) != "":
            out["credentials"] = credentials
        if self.ltx:
            out["ltx_files"] = len(self.ltx)
            out["max_txid"] = f"{self.max_txid or 0:016x}"
            out["levels"] = sorted({f.level for f in self.ltx})
        if self.generations:
            out["generations"] = [
                {
                    "name": g.name,
                    "snapshots": len(g.snapshots),
                    "wal_segments": len(g.wal_segments),
                    "updated": _iso(g.updated_at),
                }
                for g in self.generations
            ]
        if self.newest_time is not None:
            out["newest"] = _iso(self.newest_time)
        return out


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def read_replica(target: ReplicaTarget, binary: Binary | None, config_path: str | None, db: str) -> ReplicaView:
    """List the replica: natively for `file` and the object stores (same layout code for both), through
    the binary for the types litefix does not read. The caller closes the view (it may hold fetched objects)."""
    view = ReplicaView(target)
    storage: Storage | None = None
    if target.config is not None:
        try:
            storage = open_storage(target.config)
        except StorageError as exc:
            return _unreadable(view, exc)
    elif target.local_path is not None:  # a target read back from a journal: its directory is enough
        storage = FileStorage(target.local_path, target.location)
    if storage is not None:
        view.storage = storage
        if target.type != "file":
            view.read_by = f"native ({storage.kind}: {getattr(storage, 'endpoint', '') or storage.location})"
        return _read_native(view, storage)
    if binary is None:
        view.error = f"reading a {target.type} replica needs the litestream binary, and none was found"
        view.format = "unreadable"
        return view
    return _read_by_binary(view, binary, config_path, db)


def _unreadable(view: ReplicaView, exc: StorageError) -> ReplicaView:
    view.error = str(exc)
    view.reason = exc.reason
    view.detail = exc.detail
    view.format = "unreadable"
    return view


def _read_native(view: ReplicaView, storage: Storage) -> ReplicaView:
    if isinstance(storage, FileStorage):
        root = storage.root
        if not os.path.exists(root):
            return view
        if not os.path.isdir(root):
            view.error = f"{root} is not a directory"
            view.format = "unreadable"
            return view
    try:
        objects = list_objects(storage)
        view.ltx = list_ltx(storage, objects)
        view.generations = list_generations(storage, objects)
    except StorageError as exc:
        return _unreadable(view, exc)
    except OSError as exc:
        view.error = os_error_sentence(exc, exc.filename or view.target.location)
        view.reason = "access-denied" if isinstance(exc, PermissionError) else "other"
        view.format = "unreadable"
        return view
    view.format = _format(view)
    return view


def _read_by_binary(view: ReplicaView, binary: Binary, config_path: str | None, db: str) -> ReplicaView:
    target = view.target
    view.read_by = f"litestream {binary.version}"
    run = Invocation(binary)
    args = ["-config", config_path, db] if config_path and target.via != "--replica" else [target.location]
    if binary.generation == "0.5":
        result = run.run(["ltx", "-json", "-level", "all", *args], timeout=LIST_TIMEOUT)
        if result.code:
            view.error = result.text or f"litestream ltx exited {result.code}"
            view.format = "unreadable"
            return view
        view.ltx = _ltx_from_json(target, result.out)
    else:
        try:
            with _listable_03(args, db) as listing_args:
                view.generations = _generations_from_cli(run, target, listing_args)
        except ReplicaUnreachable as exc:
            view.error = str(exc)
            view.format = "unreadable"
            return view
    view.format = _format(view)
    return view


@contextmanager
def _listable_03(args: list[str], db: str) -> Iterator[list[str]]:
    """0.3's `snapshots`/`wal -config C DB` stat the database first and fail when it is missing — just when
    a fresh container needs its replica. Then list through a copy of the config whose database path is an
    empty placeholder (the replica settings, hence the listing, are unchanged)."""
    if args[:1] != ["-config"] or os.path.exists(db):
        yield args
        return
    import tempfile  # here, like every import only some diagnoses need (tests/test_startup.py)

    workdir = tempfile.mkdtemp(prefix="litefix-list-")
    try:
        placeholder = os.path.join(workdir, os.path.basename(db))
        open(placeholder, "wb").close()
        with open(args[1]) as fh:
            text = fh.read()
        config = os.path.join(workdir, "litestream.yml")
        with open(config, "w") as fh:
            fh.write(text.replace(db, placeholder))
        os.chmod(config, 0o600)
        yield ["-config", config, placeholder]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class ReplicaUnreachable(Exception):
    """The binary could not list the replica; the message is its own error output."""


def _format(view: ReplicaView) -> str:
    parts = [f for f, present in (("0.3", view.generations), ("0.5", view.ltx)) if present]
    return "+".join(parts) or "empty"


def _ltx_from_json(target: ReplicaTarget, text: str) -> list[LtxFileInfo]:
    entries = json.loads(text or "[]") or []
    out = []
    for e in entries:
        level, lo, hi = int(e["level"]), int(str(e["min_txid"]), 16), int(str(e["max_txid"]), 16)
        when = _parse_time(str(e.get("timestamp") or e.get("created") or ""))
        path = Path(f"{target.location}/ltx/{level}/{lo:016x}-{hi:016x}.ltx")
        out.append(LtxFileInfo(path, level, lo, hi, int(e.get("size", 0)), when or 0.0, None, None))
    return out


def _parse_time(text: str) -> float | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


_TABLE_SPLIT = re.compile(r"\s{2,}|\t")


def _table(text: str) -> list[dict[str, str]]:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    head = _TABLE_SPLIT.split(lines[0].strip())
    return [dict(zip(head, _TABLE_SPLIT.split(line.strip()), strict=False)) for line in lines[1:]]


def _generations_from_cli(run: Invocation, target: ReplicaTarget, args: list[str]) -> list[Generation]:
    snaps = run.run(["snapshots", *args], timeout=LIST_TIMEOUT)
    wals = run.run(["wal", *args], timeout=LIST_TIMEOUT)
    for result in (snaps, wals):
        if result.code:
            raise ReplicaUnreachable(result.text or f"litestream exited {result.code}")
    from litefix.formats.generations import Generation, Snapshot, WalSegment

    by_gen: dict[str, tuple[list[Snapshot], list[WalSegment]]] = {}
    for row in _table(snaps.out):
        gen = row.get("generation", "")
        when = _parse_time(row.get("created", "")) or 0.0
        snap = Snapshot(gen, int(row.get("index", "0")), Path(target.location), int(row.get("size", "0")), when)
        by_gen.setdefault(gen, ([], []))[0].append(snap)
    for row in _table(wals.out):
        gen = row.get("generation", "")
        when = _parse_time(row.get("created", "")) or 0.0
        seg = WalSegment(
            gen,
            int(row.get("index", "0")),
            int(row.get("offset", "0")),
            Path(target.location),
            int(row.get("size", "0")),
            when,
        )
        by_gen.setdefault(gen, ([], []))[1].append(seg)
    return [
        Generation(
            name,
            Path(target.location),
            tuple(sorted(s, key=lambda x: x.index)),
            tuple(sorted(w, key=lambda x: (x.index, x.offset))),
        )
        for name, (s, w) in sorted(by_gen.items())
    ]


# --- where the local database stands --------------------------------------------------------


@dataclass(frozen=True)
class LocalPosition:
    """What the meta dir says Litestream last processed for this database."""

    format: str | None  # "0.3", "0.5" or None (no local state)
    generation: str | None = None
    index: int | None = None
    offset: int | None = None
    txid: int | None = None
    time: float | None = None

    @property
    def pos(self) -> Pos | None:
        if self.generation is None or self.index is None or self.offset is None:
            return None
        from litefix.formats.generations import Pos

        return Pos(self.generation, self.index, self.offset)

    def describe(self) -> str:
        if self.format == "0.5" and self.txid is not None:
            return f"TXID {self.txid:016x}"
        if self.pos is not None:
            return str(self.pos)
        return "unknown (no local Litestream state)"


def local_position(meta_dir: str) -> LocalPosition:
    if os.path.isdir(os.path.join(meta_dir, "ltx")):
        files = [f for f in scan_ltx_dir(meta_dir) if f.level == 0 and f.max_txid is not None]
        if files:
            last = max(files, key=lambda f: f.max_txid or 0)
            when = last.header.timestamp / 1000 if last.header else last.mtime
            return LocalPosition("0.5", txid=last.max_txid, time=when)
    from litefix.formats.generations import GenerationsError, list_shadow_wals, read_generation

    try:
        generation = read_generation(meta_dir)
    except GenerationsError:
        generation = None
    if generation:
        shadows = list_shadow_wals(meta_dir, generation)
        if shadows:
            last_shadow = shadows[-1]
            return LocalPosition("0.3", generation, last_shadow.index, last_shadow.size, time=last_shadow.mtime)
        return LocalPosition("0.3", generation)
    return LocalPosition(None)


def replica_position_03(generation: Generation, native: bool) -> Pos | None:
    """Where the replica's WAL ends. Listed through the binary, segments are not readable here:
    the start of the last segment is the best known position (compare indexes, not offsets)."""
    from litefix.formats.generations import GenerationsError, replicated_end

    if native:
        try:
            return replicated_end(generation)
        except (GenerationsError, OSError):
            pass
    last = generation.wal_segments[-1] if generation.wal_segments else None
    return last.pos if last else None


def gaps_03(generation: Generation, native: bool) -> list[str]:
    from litefix.formats.generations import find_gaps

    return [gap.detail or gap.kind for gap in find_gaps(generation, check_offsets=native)]


def gap_05(view: ReplicaView) -> str | None:
    try:
        plan_ltx_restore(view.ltx)
    except PageError as exc:
        return str(exc)
    return None


# --- restoring, to look at page data or test a point in time --------------------------------


@dataclass(frozen=True)
class RestorePoint:
    """A replica position a restore can be asked for, newest first when listed."""

    label: str  # "generation 4161720b3d217178", "TXID 0000000000000007"
    args: tuple[str, ...]  # extra `litestream restore` flags selecting it
    time: float | None = None

    def to_json(self) -> dict[str, object]:
        return {"position": self.label, "restore_args": list(self.args), "time": _iso(self.time)}


def restore_points(view: ReplicaView) -> list[RestorePoint]:
    """Every distinct position worth testing, newest first."""
    if view.ltx:
        ends = sorted({f.max_txid or 0 for f in view.ltx if f.max_txid}, reverse=True)
        times: dict[int | None, float] = {}
        for f in view.ltx:
            t = f.header.timestamp / 1000 if f.header else f.mtime
            times[f.max_txid] = max(times.get(f.max_txid, 0), t)
        return [RestorePoint(f"TXID {t:016x}", ("-txid", f"{t:016x}"), times.get(t)) for t in ends]
    gens = sorted((g for g in view.generations if g.snapshots), key=lambda g: g.updated_at or 0, reverse=True)
    return [RestorePoint(f"generation {g.name}", ("-generation", g.name), g.updated_at) for g in gens]


@dataclass
class RestoreCheck:
    point: RestorePoint | None
    ok: bool
    detail: str  # "ok", the integrity messages, or litestream's error
    path: str | None = None


@contextmanager
def restored(
    binary: Binary, source: list[str], extra: tuple[str, ...] = (), expected_bytes: int | None = None
) -> Iterator[tuple[str | None, str]]:
    """Restore into a private temporary directory; yield (path or None, litestream's output). Always cleaned.

    On a terminal the restore's progress is the growth of what it writes there, against
    `expected_bytes` (the replica's database size, when its listing knows it)."""
    import tempfile

    workdir = tempfile.mkdtemp(prefix="litefix-restore-")
    out = os.path.join(workdir, "restored.db")
    try:
        with reporting("litestream restore", expected_bytes) as advance, growth(workdir, advance):
            result = Invocation(binary).run(["restore", *extra, "-o", out, *source], timeout=1800)
        yield (out if result.code == 0 and os.path.exists(out) else None), result.text
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def check_restore(binary: Binary, source: list[str], point: RestorePoint | None, mode: str = "quick") -> RestoreCheck:
    with restored(binary, source, point.args if point else ()) as (path, text):
        if path is None:
            return RestoreCheck(point, False, f"restore failed: {text}")
        try:
            messages = check_integrity(path, mode)
        except SchemaError as exc:
            messages = [str(exc)]
        return RestoreCheck(point, messages == ["ok"], "ok" if messages == ["ok"] else "; ".join(messages[:3]))


def newest_clean_point(
    binary: Binary, source: list[str], points: list[RestorePoint], mode: str = "quick"
) -> tuple[RestorePoint | None, list[RestoreCheck]]:
    """Binary-search the newest position that restores to a sound database.

    Damage from a replacement under a running Litestream starts at one position and
    stays until a later full snapshot; so below the newest point the positions are
    "clean then corrupt", and a binary search over them needs log2(n) restores.
    The newest point is tested first: after a restart's snapshot it may be clean again.
    """
    checks: list[RestoreCheck] = []
    if not points:
        return None, checks
    first = check_restore(binary, source, points[0], mode)
    checks.append(first)
    if first.ok:
        return points[0], checks
    lo, hi = 1, len(points) - 1  # points are newest first; find the smallest index that is clean
    found: RestorePoint | None = None
    while lo <= hi:
        mid = (lo + hi) // 2
        check = check_restore(binary, source, points[mid], mode)
        checks.append(check)
        if check.ok:
            found, hi = points[mid], mid - 1
        else:
            lo = mid + 1
    return found, checks


def now() -> float:
    return time.time()
