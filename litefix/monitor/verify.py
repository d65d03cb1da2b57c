"""`litefix verify`: prove, end to end, that a write to the database reaches its replica now.

The one command besides `repair` that writes to the database: one row (a random token and
the time) into a small table of litefix's own, in one short transaction under a busy
timeout, older rows pruned. Then it polls the replica natively (listings and headers only)
and, each time the replica's position moves, looks for the row in the few replica pages that
can hold it — page 1, then the table's b-tree, each page taken from the newest replica file
that has it — instead of restoring the whole database. A fixed sleep followed by a full
restore (what other tools do) is slow on a large database and says nothing about *when* the
write arrived; polling measures the replication latency to within one poll interval.

Refusals come first: no Litestream replicating the database, or `diagnose` finding an error
(a round trip through a replica that is already wrong proves nothing, and a file replaced
under Litestream would take the row with it).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from litefix.codes import CODES
from litefix.diagnose.context import Context, Options
from litefix.diagnose.runner import diagnose_in
from litefix.errors import UsageError, os_error_sentence
from litefix.model import JSON, Finding, Severity
from litefix.monitor.replica_pages import (
    READ_ERRORS,
    GenerationPageLookup,
    LtxPageLookup,
    PageLookup,
    Reads,
    find_row,
)
from litefix.monitor.state import LastVerify, save_last_verify
from litefix.replicas.plan import plan_ltx_restore
from litefix.replicas.reader import (
    LocalPosition,
    ReplicaTarget,
    ReplicaView,
    local_position,
    read_replica,
    replica_position_03,
    replica_targets,
)
from litefix.system.files import sqlite_uri
from litefix.system.litestream import Binary, Invocation

DEFAULT_TABLE = "_litefix_verify"
_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# Fast polls first (a healthy Litestream syncs within a second), then slower ones: the latency is
# measured to within one interval, and a long wait does not hammer the replica.
FAST_POLL, SLOW_POLL, FAST_FOR = 0.05, 0.25, 3.0
# A restore started near the end of --timeout still gets this long: a restore killed halfway proves nothing.
MIN_RESTORE_SECONDS = 30.0


@dataclass(frozen=True)
class VerifyOptions:
    table: str = DEFAULT_TABLE
    timeout: float = 60.0  # seconds to wait for the row on the replica
    busy_timeout: float = 5.0  # seconds SQLite waits for the write lock
    keep_rows: int = 16  # sentinel rows kept; older ones are deleted in the same transaction
    restore: bool = False  # prove by a full `litestream restore` instead of reading pages
    max_latency: float = 10.0  # above this a successful round trip is "slow" (a warning for Nagios)

    def __post_init__(self) -> None:
        if not _TABLE_NAME.match(self.table):
            raise UsageError(
                f"--table {self.table!r} is not a plain SQL identifier", "use letters, digits and underscores"
            )
        if self.timeout <= 0 or self.busy_timeout < 0:
            raise UsageError("--timeout must be positive and --busy-timeout not negative")


@dataclass(frozen=True)
class VerifyResult:
    db: str
    status: str  # "ok", "refused" (nothing written) or "failed"
    table: str
    replica: str | None = None
    token: str | None = None
    written_at: float | None = None
    latency: float | None = None  # seconds from commit to the row found on the replica
    position: str | None = None  # the replica's position when the row was found (or at the end)
    local_position: str | None = None
    proof: str | None = None  # "pages" or "restore"
    pages_read: int = 0
    remote_requests: int = 0  # ranged reads of an object store made by the proofs
    remote_bytes: int = 0
    polls: int = 0
    seconds: float = 0.0
    max_latency: float = 10.0
    finding: Finding | None = None
    blocking: tuple[Finding, ...] = ()  # diagnose's findings behind a refusal

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def slow(self) -> bool:
        return self.ok and self.latency is not None and self.latency > self.max_latency

    def to_json(self) -> dict[str, JSON]:
        return {
            "db": self.db,
            "ok": self.ok,
            "status": self.status,
            "replica": self.replica,
            "table": self.table,
            "token": self.token,
            "written_at": self.written_at,
            "latency_seconds": None if self.latency is None else round(self.latency, 4),
            "slow": self.slow,
            "max_latency": self.max_latency,
            "replica_position": self.position,
            "local_position": self.local_position,
            "proof": self.proof,
            "pages_read": self.pages_read,
            "remote_requests": self.remote_requests,
            "remote_bytes": self.remote_bytes,
            "polls": self.polls,
            "seconds": round(self.seconds, 3),
            "finding": self.finding.to_json() if self.finding else None,
            "blocking": [f.to_json() for f in self.blocking],
        }


def verify(
    db: str, options: Options, wanted: VerifyOptions, log: Callable[[str], None] = lambda _: None
) -> VerifyResult:
    """Refuse, or write the sentinel row and wait until the replica provably holds it; record the result."""
    started = time.monotonic()
    ctx = Context(db, options)
    result = _verify(ctx, wanted, started, log)
    if ctx.db_state.kind == "file":  # a refusal is recorded too: the round trip was not proven
        save_last_verify(
            ctx.db,
            LastVerify(
                result.written_at or time.time(),
                result.ok,
                result.latency,
                result.finding.code if result.finding else None,
                result.position,
            ),
        )
    return result


def _verify(ctx: Context, wanted: VerifyOptions, started: float, log: Callable[[str], None]) -> VerifyResult:
    base = VerifyResult(ctx.db, "refused", wanted.table, max_latency=wanted.max_latency)

    def done(status: str, finding: Finding | None = None, **values: Any) -> VerifyResult:
        return replace(base, status=status, finding=finding, seconds=time.monotonic() - started, **values)

    targets = replica_targets(ctx.db, ctx.options.replica, ctx.config, ctx.config_db)
    if ctx.config_db is None or not targets:
        where = ctx.config.source_path if ctx.config else "no Litestream config was found"
        return done(
            "refused",
            CODES["verify-not-replicated"].finding(
                f"{ctx.db} is not replicated: "
                + (f"{where} does not list it" if ctx.config_db is None else f"{where} gives it no replica"),
                {"config": ctx.config.source_path if ctx.config else None},
            ),
        )
    target = targets[0]
    base = VerifyResult(ctx.db, "refused", wanted.table, replica=target.location, max_latency=wanted.max_latency)
    if not ctx.litestream_running:
        return done(
            "refused",
            CODES["verify-not-replicated"].finding(
                f"no running Litestream holds {ctx.db}: a write would reach no replica",
                {"config": ctx.config.source_path if ctx.config else None, "replica": target.location},
            ),
        )
    log(f"diagnosing {ctx.db} before writing")
    diagnosis = diagnose_in(ctx)
    errors = diagnosis.at_or_above(Severity.ERROR)
    unreachable = [f for f in errors if f.code == "replica-unreachable"]
    if unreachable:
        return done(
            "failed",
            CODES["verify-replica-unreachable"].finding(
                f"cannot read the replica {target.location} before writing: {unreachable[0].message}",
                {"replica": target.location, **dict(unreachable[0].evidence)},
            ),
            blocking=tuple(unreachable),
        )
    if errors:
        codes = sorted({f.code for f in errors})
        return done(
            "refused",
            CODES["verify-refused"].finding(
                f"not writing to {ctx.db}: diagnose finds {', '.join(codes)} ({errors[0].message})",
                {"codes": codes},
            ),
            blocking=errors,
        )
    config_path = ctx.config.source_path if ctx.config else None
    before = read_replica(target, ctx.binary, config_path, ctx.db)
    local_before = local_position(ctx.meta_dir)
    try:
        token, written_at = write_sentinel(ctx.db, wanted)
    except sqlite3.Error as exc:
        return done(
            "failed",
            CODES["verify-write-failed"].finding(
                f"could not write the sentinel row into {ctx.db}: {exc}",
                {"error": str(exc), "busy_timeout": wanted.busy_timeout, "table": wanted.table},
            ),
        )
    committed = time.monotonic()
    log(f"wrote token {token} into {wanted.table}; waiting for {target.location}")
    waiter = _Waiter(ctx, target, config_path, wanted, token, _position(before))
    found = waiter.wait(committed)
    local_after = local_position(ctx.meta_dir)
    values: dict[str, Any] = {
        "token": token,
        "written_at": written_at,
        "local_position": local_after.describe(),
        "position": waiter.position,
        "proof": waiter.proof,
        "pages_read": waiter.pages_read,
        "remote_requests": waiter.reads.requests,
        "remote_bytes": waiter.reads.bytes,
        "polls": waiter.polls,
    }
    if found is not None:
        return done("ok", latency=found - committed, **values)
    return done("failed", _timeout_finding(ctx, target, wanted, waiter, local_before, local_after), **values)


def write_sentinel(db: str, wanted: VerifyOptions) -> tuple[str, float]:
    """One short transaction: create the table if needed, insert (token, time), prune old rows.

    BEGIN IMMEDIATE takes the write lock up front (waiting at most the busy timeout), so the lock
    is held for three statements only; wal_autocheckpoint=0 keeps this connection from ever
    checkpointing behind Litestream's back.
    """
    token = secrets.token_hex(16)
    table = wanted.table
    # mode=rw: never create a database that is not there (a plain connect would make an empty one).
    con = sqlite3.connect(sqlite_uri(db, "mode=rw"), uri=True, timeout=wanted.busy_timeout, isolation_level=None)
    try:
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("BEGIN IMMEDIATE")
        try:
            con.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" '
                "(id INTEGER PRIMARY KEY, token TEXT NOT NULL, written_at REAL NOT NULL)"
            )
            written_at = time.time()
            con.execute(f'INSERT INTO "{table}" (token, written_at) VALUES (?, ?)', (token, written_at))
            con.execute(f'DELETE FROM "{table}" WHERE id <= (SELECT max(id) FROM "{table}") - ?', (wanted.keep_rows,))
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return token, written_at


def _position(view: ReplicaView) -> str | None:
    """The replica's position as Litestream would continue from it: 0.5 TXID, 0.3 generation/index/offset."""
    if view.error:
        return None
    if view.ltx:
        return f"TXID {view.max_txid or 0:016x}"
    generation = view.latest_generation()
    if generation is None:
        return None
    pos = replica_position_03(generation, native=view.read_by == "native")
    return str(pos) if pos is not None else f"{generation.name} (no WAL yet)"


@dataclass
class _Waiter:
    """Polls the replica until the row is on it; keeps what the timeout finding needs."""

    ctx: Context
    target: ReplicaTarget
    config_path: str | None
    wanted: VerifyOptions
    token: str
    baseline: str | None
    position: str | None = None
    proof: str | None = None
    pages_read: int = 0
    reads: Reads = field(default_factory=Reads)
    polls: int = 0
    last_view: ReplicaView | None = None
    read_error: str | None = None  # the last listing failed with this
    unreadable: str | None = None  # the last proof attempt failed with this
    tried: set[str] = field(default_factory=set)
    deadline: float = 0.0

    def wait(self, committed: float) -> float | None:
        """The monotonic time the row was found, or None at the timeout."""
        deadline = self.deadline = committed + self.wanted.timeout
        while True:
            self.polls += 1
            view = read_replica(self.target, self.ctx.binary, self.config_path, self.ctx.db)
            if view.error:
                self.read_error = view.error
            else:
                self.read_error = None
                self.last_view = view
                self.position = _position(view)
                if self.position != self.baseline and self.position not in self.tried and self._prove(view):
                    return time.monotonic()
            now = time.monotonic()
            if now >= deadline:
                return None
            time.sleep(min(FAST_POLL if now - committed < FAST_FOR else SLOW_POLL, max(0.0, deadline - now)))

    def _prove(self, view: ReplicaView) -> bool:
        by_restore = self.wanted.restore or not view.native
        self.proof = "restore" if by_restore else "pages"
        try:
            found = self._restore_and_look() if by_restore else self._read_pages(view)
        except READ_ERRORS as exc:
            # Files come and go under a live Litestream (compaction, retention): try again next poll.
            if isinstance(exc, OSError) and exc.errno is not None:  # not one of the sentences raised below
                self.unreadable = os_error_sentence(exc, doing="read the replica")
            else:
                self.unreadable = f"{type(exc).__name__}: {exc}"
            return False
        self.unreadable = None
        if not found and self.position is not None:
            self.tried.add(self.position)  # another write moved the replica; ours is still on its way
        return found

    def _read_pages(self, view: ReplicaView) -> bool:
        lookup: PageLookup
        storage = view.storage if view.remote else None
        if view.ltx:
            lookup = LtxPageLookup(plan_ltx_restore(view.ltx), storage)
        else:
            generation = view.latest_generation()
            if generation is None:
                return False
            lookup = GenerationPageLookup(generation, storage)
        try:
            return find_row(lookup, self.wanted.table, self.token)
        finally:
            self.pages_read += lookup.pages_read
            self.reads.requests += lookup.reads.requests
            self.reads.bytes += lookup.reads.bytes
            lookup.close()

    def _restore_and_look(self) -> bool:
        """A real `litestream restore` into a private directory, bounded by what is left of --timeout."""
        binary: Binary | None = self.ctx.binary
        if binary is None:
            raise OSError("proving by restore needs the litestream binary, and none was found")
        source = ["-config", self.config_path, self.ctx.db] if self.config_path else [self.target.location]
        workdir = tempfile.mkdtemp(prefix="litefix-verify-")
        try:
            out = os.path.join(workdir, "restored.db")
            left = max(MIN_RESTORE_SECONDS, self.deadline - time.monotonic())
            run = Invocation(binary).run(["restore", "-o", out, *source], timeout=left)
            if run.code or not os.path.exists(out):
                raise OSError(f"litestream restore failed: {run.text.strip()[:300]}")
            con = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
            try:
                row = con.execute(f'SELECT 1 FROM "{self.wanted.table}" WHERE token = ?', (self.token,)).fetchone()
            except sqlite3.Error as exc:
                if "no such table" in str(exc):
                    return False
                raise OSError(f"the restored database cannot be read: {exc}") from exc
            finally:
                con.close()
            return row is not None
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _caught_up(view: ReplicaView | None, local: LocalPosition) -> bool:
    """The replica holds at least what Litestream's local state holds (which then includes the write)."""
    if view is None:
        return False
    if view.ltx:
        return local.txid is not None and (view.max_txid or 0) >= local.txid
    generation = view.latest_generation()
    if generation is None or local.pos is None or generation.name != local.generation:
        return False
    remote = replica_position_03(generation, native=view.read_by == "native")
    return remote is not None and remote >= local.pos


def _timeout_finding(
    ctx: Context,
    target: ReplicaTarget,
    wanted: VerifyOptions,
    waiter: _Waiter,
    before: LocalPosition,
    after: LocalPosition,
) -> Finding:
    evidence: dict[str, JSON] = {
        "replica": target.location,
        "timeout": wanted.timeout,
        "token": waiter.token,
        "table": wanted.table,
        "replica_position_before": waiter.baseline,
        "replica_position": waiter.position,
        "local_position_before": before.describe(),
        "local_position": after.describe(),
        "polls": waiter.polls,
    }
    if waiter.read_error:
        evidence["error"] = waiter.read_error[-2000:]
        return CODES["verify-replica-unreachable"].finding(
            f"the replica {target.location} could not be read while waiting for the row: "
            f"{waiter.read_error.splitlines()[0][:200] if waiter.read_error.strip() else 'no output'}",
            evidence,
        )
    local_moved = after.describe() != before.describe()
    if waiter.unreadable or (local_moved and _caught_up(waiter.last_view, after)):
        evidence["problem"] = waiter.unreadable or "the table's b-tree on the replica does not hold the row"
        return CODES["verify-unreadable"].finding(
            f"the replica {target.location} reached {waiter.position} but the row written into {ctx.db} cannot be "
            f"read from it: {evidence['problem']}",
            evidence,
        )
    taken = (
        f"Litestream took the write locally ({before.describe()} -> {after.describe()}) but did not upload it"
        if local_moved
        else f"Litestream did not take the write (its local position stayed at {after.describe()})"
    )
    return CODES["verify-not-syncing"].finding(
        f"the row written into {ctx.db} did not reach {target.location} within {wanted.timeout:g}s: {taken}",
        evidence,
    )


def default_options(config: str | None, litestream: str | None, replica: str | None) -> Options:
    """Options for verify: an explicit config is loaded now, so that a broken one is a usage error (exit 2)."""
    return Options.from_cli(config=config, litestream=litestream, replica=replica)
