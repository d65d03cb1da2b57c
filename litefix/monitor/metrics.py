"""What `litefix metrics` measures for every database of a config, cheaply, and how it is served.

A scrape must stay cheap and must not hammer the replica when many scrapers ask at once: each
collection is the default `diagnose` (headers, the -wal once, /proc, listings — never a page scan:
no `--compare`, `--integrity` or `--verify-restore`), one /proc walk shared by every database, and
the result is cached for `cache_seconds`; concurrent scrapes wait for the one collection under way.
The numbers are plain values here; render/metrics.py turns them into Prometheus metric families.
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import FrameType
from typing import Any

from litefix import __version__
from litefix.diagnose.context import Context, Options
from litefix.diagnose.runner import diagnose_in
from litefix.errors import UsageError, describe_os_error
from litefix.formats.generations import Pos
from litefix.model import Diagnosis, RunStatus
from litefix.monitor.state import LastVerify, load_last_verify
from litefix.replicas.reader import (
    LocalPosition,
    ReplicaView,
    local_position,
    read_replica,
    replica_position_03,
    replica_targets,
)
from litefix.system.procfs import Holder, ProcessScan, find_open_descriptors

MAX_THREADS = 4
# Litestream's own last checkpoint at shutdown touches the file just after its last upload.
CHANGE_SLACK = 1.0


@dataclass(frozen=True)
class ReplicaSample:
    location: str
    up: bool  # the replica could be listed
    format: str
    position: str | None
    lag_seconds: float | None  # seconds since the replica last caught up, while the local side is ahead
    lag_transactions: int | None  # 0.5: local TXID minus the replica's
    lag_wal_indexes: int | None  # 0.3: local shadow WAL index minus the replica's (same generation)
    newest_object_time: float | None  # seconds since the epoch


@dataclass(frozen=True)
class DatabaseSample:
    db: str
    inspected: bool
    findings: tuple[tuple[str, str], ...]  # (code, severity) of every finding
    wal_bytes: int
    inode: int | None
    litestream_running: bool
    litestream_holds_current_inode: bool | None  # None when no Litestream holds it
    unsynced_wal_bytes: int | None
    replicas: tuple[ReplicaSample, ...]
    last_verify: LastVerify | None
    seconds: float


@dataclass(frozen=True)
class Collection:
    config: str
    litefix_version: str
    litestream_version: str | None
    litestream_path: str | None
    databases: tuple[DatabaseSample, ...]
    collected_at: float  # seconds since the epoch
    seconds: float


def collect(options: Options, databases: list[str]) -> Collection:
    """One cheap diagnosis per database (in a few threads), and the numbers a scrape reports."""
    from litefix.system.readonly import _ensure_vfs

    started = time.monotonic()
    _ensure_vfs()  # registered once before the threads need it
    contexts = [Context(db, options) for db in databases]
    shared = _one_proc_walk(contexts)
    for ctx in contexts:
        ctx.__dict__["processes"] = _holding(shared, ctx)  # the cached_property, filled from the one walk
    with ThreadPoolExecutor(max(1, min(MAX_THREADS, len(contexts))), thread_name_prefix="litefix-metrics") as pool:
        samples = tuple(pool.map(sample_database, contexts))
    binary = contexts[0].binary if contexts else None
    config = options.loaded_config
    return Collection(
        config.source_path if config else "",
        __version__,
        str(binary.version or binary.version_text) if binary else None,
        binary.path if binary else None,
        samples,
        time.time(),
        time.monotonic() - started,
    )


def _watched(ctx: Context) -> set[str]:
    return {ctx.db, ctx.real_db, ctx.wal_path, ctx.shm_path}


def _one_proc_walk(contexts: list[Context]) -> ProcessScan:
    paths: set[str] = set()
    for ctx in contexts:
        paths |= _watched(ctx)
    return find_open_descriptors(paths)


def _holding(scan: ProcessScan, ctx: Context) -> ProcessScan:
    watched = _watched(ctx)
    holders = []
    for holder in scan.holders:
        mine = tuple(d for d in holder.descriptors if d.target in watched)
        if mine:
            holders.append(Holder(holder.pid, holder.cmdline, holder.exe, holder.cwd, mine))
    return ProcessScan(holders, scan.unreadable, scan.error)


def sample_database(ctx: Context) -> DatabaseSample:
    started = time.monotonic()
    diagnosis = diagnose_in(ctx)
    wal = ctx.wal_state
    holds_current: bool | None = None
    litestreams = [h for h in ctx.processes.holders if h.is_litestream]
    if litestreams:
        state = ctx.db_state
        holds_current = any(
            d.target in (ctx.db, ctx.real_db) and not d.deleted and (d.inode, d.device) == (state.inode, state.device)
            for h in litestreams
            for d in h.descriptors
        )
    local = local_position(ctx.meta_dir) if ctx.db_state.exists else LocalPosition(None)
    replicas = _sample_replicas(ctx, diagnosis, local) if ctx.config_db is not None else ()
    return DatabaseSample(
        ctx.db,
        diagnosis.inspected,
        tuple((f.code, f.severity.value) for f in diagnosis.findings),
        wal.size if wal.exists else 0,
        ctx.db_state.inode if ctx.db_state.exists else None,
        bool(litestreams),
        holds_current,
        ctx.unsynced_wal_bytes if _meta_dir_ran(diagnosis) else None,
        replicas,
        load_last_verify(ctx.db),
        time.monotonic() - started,
    )


def _meta_dir_ran(diagnosis: Diagnosis) -> bool:
    return any(r.name == "meta-dir" and r.status is RunStatus.OK for r in diagnosis.inspectors)


def _sample_replicas(ctx: Context, diagnosis: Diagnosis, local: LocalPosition) -> tuple[ReplicaSample, ...]:
    config_path = ctx.config.source_path if ctx.config else None
    unsynced = (ctx.unsynced_wal_bytes or 0) if _meta_dir_ran(diagnosis) else 0
    # With no Litestream running nothing can be replicated: a file changed after the replica's newest
    # object is ahead of it, even when the app's last connection checkpointed its -wal away.
    changed = None
    if not ctx.litestream_running:
        changed = max((s.mtime_ns / 1e9 for s in (ctx.db_state, ctx.wal_state) if s.exists), default=None)
    out = []
    for target in replica_targets(ctx.db, ctx.options.replica, ctx.config, ctx.config_db):
        view = read_replica(target, ctx.binary, config_path, ctx.db)
        out.append(replica_sample(view, local, unsynced, changed))
    return tuple(out)


def replica_sample(
    view: ReplicaView,
    local: LocalPosition,
    unsynced_bytes: int,
    changed_unreplicated: float | None = None,
    now: float | None = None,
) -> ReplicaSample:
    """Positions and lag from a listing. Lag in seconds is how long ago the replica last caught up,
    while the local side (Litestream's local state, or committed -wal bytes it has not taken) is
    ahead; 0 when it is not. An upper bound of the true lag that grows for as long as it falls behind."""
    now = time.time() if now is None else now
    if view.error:
        return ReplicaSample(view.target.location, False, view.format, None, None, None, None, None)
    newest = view.newest_time
    lag_tx = lag_idx = None
    position: str | None = None
    ahead = unsynced_bytes > 0
    if view.ltx:
        rtx = view.max_txid or 0
        position = f"TXID {rtx:016x}"
        if local.format == "0.5" and local.txid is not None:
            lag_tx = max(0, local.txid - rtx)
            ahead = ahead or lag_tx > 0
    elif view.generations:
        generation = view.latest_generation()
        rpos: Pos | None = None
        if generation is not None:
            rpos = replica_position_03(generation, native=view.read_by == "native")
            position = str(rpos) if rpos else generation.name
        lpos = local.pos
        if rpos is not None and lpos is not None and lpos.generation == rpos.generation:
            lag_idx = max(0, lpos.index - rpos.index)
            ahead = ahead or lpos > rpos
    if newest is not None and changed_unreplicated is not None and changed_unreplicated > newest + CHANGE_SLACK:
        ahead = True
    lag_s = (max(0.0, now - newest) if ahead else 0.0) if newest is not None else None
    return ReplicaSample(view.target.location, True, view.format, position, lag_s, lag_tx, lag_idx, newest)


class CachedCollection:
    """At most one collection per `cache_seconds`; scrapes that arrive meanwhile share it."""

    def __init__(self, collect_now: Callable[[], Collection], cache_seconds: float) -> None:
        self._collect = collect_now
        self._cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._value: Collection | None = None
        self._at = 0.0

    def __call__(self) -> Collection:
        with self._lock:
            if self._value is None or time.monotonic() - self._at >= self._cache_seconds:
                self._value = self._collect()
                self._at = time.monotonic()
            return self._value


def write_textfile(path: str, data: bytes) -> None:
    """For node_exporter's textfile collector: a temporary file in the same directory, fsynced, then
    renamed over the target, so a reader sees the old file or the new one, never half of one. The
    temporary name does not end in `.prom`, so the collector never reads it."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".litefix-metrics-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def parse_listen(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--listen {text!r} is not HOST:PORT", "for example --listen 127.0.0.1:9436")
    return host.strip("[]"), int(port)


def serve(registry: Any, listen: str, ready: Callable[[str], None]) -> int:
    """Serve /metrics until SIGTERM or SIGINT; returns the exit code."""
    from prometheus_client import start_http_server

    host, port = parse_listen(listen)
    try:
        server, thread = start_http_server(port, host, registry)
    except OSError as exc:
        raise describe_os_error(exc, listen, "listen on", UsageError, "pick a free port") from exc
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    ready(f"serving http://{host}:{port}/metrics")
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        thread.join(5)
    return 0
