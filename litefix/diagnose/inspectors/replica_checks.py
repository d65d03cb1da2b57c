"""The replica checks: is the backup restorable, and does it hold what the database holds?

Cheap by default: listings and headers give positions, lag, age and gaps. Page
checksums (`--compare`) read every page of both sides once; `--verify-restore`
runs the real `litestream restore` and an integrity check, and on failure searches
for the newest position that restores cleanly.
"""

from __future__ import annotations

import os
import shlex
from typing import TYPE_CHECKING, Any

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report
from litefix.errors import os_error_sentence
from litefix.formats.ltx import scan_ltx_dir
from litefix.model import JSON, Severity
from litefix.replicas.reader import (
    LocalPosition,
    ReplicaTarget,
    ReplicaView,
    gap_05,
    gaps_03,
    local_position,
    newest_clean_point,
    now,
    read_replica,
    replica_position_03,
    replica_targets,
    restore_points,
    restored,
)
from litefix.replicas.storage import StorageError

if TYPE_CHECKING:
    # Page readers and the 0.3 generation reader load when --compare, --verify-restore or a 0.3
    # replica calls for them: every `diagnose` would otherwise pay for their imports (tests/test_startup.py).
    from litefix.formats.generations import Generation
    from litefix.replicas.pages import Comparison, GenerationPages, LtxPages


def inspect_replicas(ctx: Context) -> Report:
    targets = replica_targets(ctx.db, ctx.options.replica, ctx.config, ctx.config_db)
    if not targets:
        raise Skip("no replica to inspect: pass --replica URL, or --config with a config that lists this database")
    report = Report()
    views: list[JSON] = []
    report.facts["replicas"] = views
    for target in targets:
        view = read_replica(target, ctx.binary, ctx.config.source_path if ctx.config else None, ctx.db)
        try:
            # The local state is read after the listing: Litestream writes it before it uploads, so a
            # healthy replica can be ahead of an earlier read of it, never of a later one.
            local = local_position(ctx.meta_dir)
            report.facts["local_position"] = local.describe()
            facts: dict[str, JSON] = view.to_json()
            views.append(facts)
            try:
                _inspect_one(ctx, target, view, local, facts, report)
            except StorageError as exc:  # a fetch failed half-way (the store went away): name it
                facts["error"], facts["reason"] = str(exc), exc.reason
                _unreachable(view, str(exc), exc.reason, exc.detail, report)
        finally:
            view.close()
    return report


def _unreachable(view: ReplicaView, error: str, reason: str | None, detail: str, report: Report) -> None:
    loc = view.target.location
    evidence: dict[str, JSON] = {"replica": loc, "read_by": view.read_by, "reason": reason or "litestream"}
    evidence["stderr" if not view.native else "client_error"] = (detail or error)[-2000:]
    if credentials := getattr(view.storage, "credentials", ""):
        evidence["credentials"] = credentials  # where they came from, never their values
    hint = None
    if view.target.local_path is not None and reason == "access-denied":  # a directory, not a store's policy
        hint = (
            f"litefix runs as uid {os.geteuid()} and may not read {view.target.local_path}: run it as the "
            "replica's owner (or root), or give that user read access; nothing says the replica is damaged"
        )
    report.findings.append(
        CODES["replica-unreachable"].finding(
            f"cannot read the replica {loc}: {error.splitlines()[0][:300]}", evidence, hint=hint
        )
    )


def _source(ctx: Context, target: ReplicaTarget) -> list[str]:
    """How to name this replica to `litestream restore`."""
    if ctx.config is not None and target.via != "--replica":
        return ["-config", ctx.config.source_path, ctx.db]
    return [target.location]


def _replicated_before(ctx: Context, local: LocalPosition) -> bool:
    schema = ctx.schema_view.schema if ctx.header is not None else None
    seq = schema.litestream_seq if schema is not None else None
    return local.format is not None or (seq is not None and seq > 1)


def _inspect_one(
    ctx: Context, target: ReplicaTarget, view: ReplicaView, local: LocalPosition, facts: dict[str, JSON], report: Report
) -> None:
    loc = target.location
    if view.error:
        _unreachable(view, view.error, view.reason, view.detail, report)
        return
    if view.format in ("missing", "empty"):
        before = _replicated_before(ctx, local)
        report.findings.append(
            CODES["replica-missing"].finding(
                f"nothing at the replica {loc}"
                + (
                    f", although Litestream replicated {ctx.db} before (local: {local.describe()})"
                    if before
                    else " (a first deploy?)"
                ),
                {
                    "replica": loc,
                    "format": view.format,
                    "local_position": local.describe(),
                    "replicated_before": before,
                },
                severity=Severity.ERROR if before else Severity.WARNING,
            )
        )
        return
    if view.native and (latest := view.latest_generation()) is not None:
        view.fetch_wal_end(latest)  # where its WAL ends needs the last segment's bytes
    _not_restored(ctx, target, view, local, report)
    if view.ltx:
        _inspect_05(ctx, view, local, facts, report)
    elif view.generations:
        _inspect_03(ctx, view, local, facts, report)
    _check_age(ctx, view, report)
    _changed_while_stopped(ctx, view, local, report)
    if ctx.options.verify_restore:
        _verify_restore(ctx, target, view, local, report)


def _has_own_state(ctx: Context, local: LocalPosition) -> bool | None:
    """Did Litestream ever initialise this very file? A meta dir position, or its tables in the file.
    None when the schema cannot be read: then nothing is claimed."""
    if local.format is not None:
        return True
    if ctx.header is None:
        return None
    read = ctx.schema_view
    if read.inconclusive or read.schema is None:
        return None
    schema = read.schema
    return not schema.missing_litestream_tables or schema.litestream_seq is not None


def _not_restored(ctx: Context, target: ReplicaTarget, view: ReplicaView, local: LocalPosition, report: Report) -> None:
    """The skipped restore: a fresh file that Litestream never saw, and a replica that holds data.

    The listing alone proves it: starting Litestream now makes the fresh file the replica's
    newest state (0.3 a new generation, 0.5 a snapshot, measured), so it is an error before that.
    """
    if not view.holds_data or _has_own_state(ctx, local) is not False:
        return
    held = view.holdings()
    size = f", {_human(held['database_bytes'])} database" if isinstance(held.get("database_bytes"), int) else ""
    command = _restore_command(ctx, target)
    evidence: dict[str, JSON] = {
        **held,
        "local_pages": ctx.header.page_count if ctx.header else None,
        "local_bytes": ctx.db_state.size,
        "meta_dir": ctx.meta_dir,
        "meta_dir_exists": os.path.isdir(ctx.meta_dir),
        "command": command,
    }
    report.findings.append(
        CODES["replica-not-restored"].finding(
            f"{ctx.db} has no Litestream state of its own (no meta dir position, no _litestream_seq), but its "
            f"replica {target.location} holds data ({held.get('position')}, {held.get('files')} files, "
            f"{_human(held.get('bytes'))}{size}): the restore was skipped or failed and this is a fresh file",
            evidence,
            hint=f"restore before Litestream starts: `{command}` (the fresh file goes to the quarantine), then run "
            "the migrations again; `litefix boot` orders restore before the app's prepare",
        )
    )


def _restore_command(ctx: Context, target: ReplicaTarget) -> str:
    db = shlex.quote(ctx.db)
    if ctx.config is not None and target.via != "--replica":
        return f"litefix repair {db} --config {shlex.quote(ctx.config.source_path)} --strategy restore"
    return f"litefix repair {db} --replica {shlex.quote(target.location)} --strategy restore"


def _human(n: JSON) -> str:
    if not isinstance(n, int):
        return "? bytes"
    size = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


# --- 0.5 -----------------------------------------------------------------------------------------


def _inspect_05(ctx: Context, view: ReplicaView, local: LocalPosition, facts: dict[str, JSON], report: Report) -> None:
    loc = view.target.location
    rtx = view.max_txid or 0
    facts["replica_position"] = f"TXID {rtx:016x}"
    gap = gap_05(view)
    if gap:
        report.findings.append(
            CODES["replica-gap"].finding(
                f"the replica {loc} cannot be restored to its newest TXID {rtx:016x}: {gap}",
                {
                    "replica": loc,
                    "max_txid": f"{rtx:016x}",
                    "problem": gap,
                    "levels": sorted({f.level for f in view.ltx}),
                },
            )
        )
        return
    foreign = _foreign_l0(ctx, view)
    if foreign:
        report.findings.append(
            CODES["replica-diverged"].finding(
                f"the replica {loc} holds {len(foreign)} L0 files whose TXIDs the local state also has, with other "
                f"contents (first: {foreign[0]['file']}): another database or container wrote this replica",
                {"replica": loc, "mismatched_l0": foreign[:5]},
            )
        )
        return
    if local.format == "0.5" and local.txid is not None:
        lag = local.txid - rtx
        facts["lag_txids"] = lag
        if lag < 0:
            report.findings.append(
                CODES["replica-ahead"].finding(
                    f"the replica {loc} is at TXID {rtx:016x}, ahead of the local state at {local.txid:016x} "
                    f"by {-lag} transactions: an older database file is in place, or a restore was skipped",
                    {"replica_txid": f"{rtx:016x}", "local_txid": f"{local.txid:016x}", "ahead_by": -lag},
                )
            )
            return
        if lag > 0:
            _behind(ctx, view, local, f"{lag} transactions (TXID {local.txid:016x} vs {rtx:016x})", report)
            return
    if _unsynced(ctx, view, local, report):
        return
    if ctx.options.compare and view.native:
        from litefix.replicas.pages import LtxPages
        from litefix.replicas.plan import PageError, plan_ltx_restore

        try:
            plan = plan_ltx_restore(view.ltx)
            view.fetch_ltx(list(plan.files))
            remote = LtxPages(plan)
        except PageError as exc:
            facts["comparison"] = f"not possible: {exc}"
            return
        _compare(ctx, view, local, remote, f"TXID {rtx:016x}", facts, report)


def _foreign_l0(ctx: Context, view: ReplicaView) -> list[dict[str, JSON]]:
    """L0 files present locally and on the replica under one name but with different headers.

    Litestream uploads its local L0 files unchanged, so the same TXID range with another
    timestamp, WAL position or size is another lineage, whatever the TXID positions say.
    """
    if not view.native:
        return []
    meta = ctx.meta_dir
    if not os.path.isdir(os.path.join(meta, "ltx", "0")):
        return []
    remote = {(f.min_txid, f.max_txid): f for f in view.ltx if f.level == 0 and f.header is not None}
    out: list[dict[str, JSON]] = []
    for mine in scan_ltx_dir(meta):
        theirs = remote.get((mine.min_txid, mine.max_txid))
        if mine.level != 0 or mine.header is None or theirs is None or theirs.header is None:
            continue
        a, b = mine.header, theirs.header
        if (a.timestamp, a.wal_offset, a.wal_size, a.wal_salts, a.commit) != (
            b.timestamp,
            b.wal_offset,
            b.wal_size,
            b.wal_salts,
            b.commit,
        ):
            out.append({"file": mine.name, "local": a.to_json(), "replica": b.to_json()})
    return out


# --- 0.3 -----------------------------------------------------------------------------------------


def _inspect_03(ctx: Context, view: ReplicaView, local: LocalPosition, facts: dict[str, JSON], report: Report) -> None:
    loc = view.target.location
    names = {g.name: g for g in view.generations}
    latest = view.latest_generation()
    ours = names.get(local.generation or "")
    chosen = ours or latest
    if chosen is None:
        return
    facts["generation"] = chosen.name
    # Offsets inside an index need every segment's length: free on a disk, a request per segment on an
    # object store (a day of 1 s syncs is 86,400 of them), so there the check is by name; --compare and
    # --verify-restore read the segments anyway.
    view.fetch_wal_end(chosen)
    gaps = gaps_03(chosen, native=view.native and not view.remote)
    if gaps:
        report.findings.append(
            CODES["replica-gap"].finding(
                f"generation {chosen.name} of the replica {loc} cannot be restored: {gaps[0]}",
                {
                    "replica": loc,
                    "generation": chosen.name,
                    "gaps": gaps[:10],
                    "snapshots": len(chosen.snapshots),
                    "wal_segments": len(chosen.wal_segments),
                },
            )
        )
        return
    if local.generation and latest is not None and latest.name != local.generation:
        where = "is not on the replica" if ours is None else f"is not the newest there ({latest.name} is)"
        report.findings.append(
            CODES["replica-diverged"].finding(
                f"the local generation {local.generation} {where}: a plain restore from {loc} would bring back "
                f"generation {latest.name}, written by another Litestream or another database",
                {
                    "local_generation": local.generation,
                    "replica_generations": sorted(names),
                    "restore_would_pick": latest.name,
                },
            )
        )
        return
    native = view.native
    rpos = replica_position_03(chosen, native)
    facts["replica_position"] = str(rpos) if rpos else None
    lpos = local.pos
    if rpos is not None and lpos is not None and not native:  # offsets unknown: compare indexes only
        from litefix.formats.generations import Pos

        lpos = Pos(lpos.generation, lpos.index, 0)
        rpos = Pos(rpos.generation, rpos.index, 0)
    if rpos is not None and lpos is not None and lpos.generation == rpos.generation:
        if rpos > lpos:
            report.findings.append(
                CODES["replica-ahead"].finding(
                    f"the replica {loc} is at {rpos}, ahead of the local state at {lpos}: an older database file "
                    "is in place, or another process replicated to this path",
                    {"replica_position": str(rpos), "local_position": str(lpos)},
                )
            )
            return
        if lpos > rpos:
            what = (
                f"{lpos.offset - rpos.offset} bytes"
                if lpos.index == rpos.index
                else f"{lpos.index - rpos.index} WAL indexes"
            )
            _behind(ctx, view, local, f"{what} ({lpos} vs {rpos})", report)
            return
    if _unsynced(ctx, view, local, report):
        return
    if ctx.options.compare and view.native:
        from litefix.replicas.pages import GenerationPages
        from litefix.replicas.plan import PageError

        try:
            view.fetch_generation(chosen)
            remote = GenerationPages(chosen)
        except PageError as exc:
            facts["comparison"] = f"not possible: {exc}"
            return
        try:
            _compare(ctx, view, local, remote, str(rpos), facts, report, chosen)
        finally:
            remote.close()


# --- shared --------------------------------------------------------------------------------------


def _behind(ctx: Context, view: ReplicaView, local: LocalPosition, what: str, report: Report) -> None:
    newest = view.newest_time
    lag_s = max(0.0, (local.time or now()) - newest) if newest else None
    evidence: dict[str, Any] = {
        "replica": view.target.location,
        "behind_by": what,
        "lag_seconds": lag_s,
        "max_lag": ctx.options.max_lag,
    }
    if lag_s is not None and lag_s > ctx.options.max_lag:
        report.findings.append(
            CODES["replica-behind"].finding(
                f"the replica {view.target.location} is {what} behind, {lag_s:.0f}s older than the local state",
                evidence,
            )
        )
    else:
        report.facts["lag"] = evidence


def _unsynced(ctx: Context, view: ReplicaView, local: LocalPosition, report: Report) -> bool:
    """Committed -wal bytes that Litestream has not seen yet (it is stopped, or behind): local is ahead."""
    pending = ctx.unsynced_wal_bytes or 0
    if pending <= 0:
        return False
    wal_time = ctx.wal_state.mtime_ns / 1e9 if ctx.wal_state.exists else None
    later = LocalPosition(local.format, local.generation, local.index, local.offset, local.txid, wal_time)
    _behind(ctx, view, later, f"{pending} bytes of committed WAL not yet synced", report)
    return True


def _check_age(ctx: Context, view: ReplicaView, report: Report) -> None:
    newest = view.newest_time
    if newest is None:
        return
    age = now() - newest
    changed = max((s.mtime_ns / 1e9 for s in (ctx.db_state, ctx.wal_state) if s.exists), default=0.0)
    if age > ctx.options.max_age and changed > newest:
        report.findings.append(
            CODES["replica-stale"].finding(
                f"the newest object in the replica {view.target.location} is {age / 3600:.1f} h old, but "
                f"{ctx.db} changed after it",
                {"replica": view.target.location, "newest_age_seconds": round(age), "max_age": ctx.options.max_age},
            )
        )


# A clean stop's last checkpoint lands a moment after Litestream's last local write.
CLOCK_SLACK_SECONDS = 2.0


def _changed_while_stopped(ctx: Context, view: ReplicaView, local: LocalPosition, report: Report) -> None:
    """No Litestream runs, and the file changed after Litestream's own last local write (its newest L0
    file or shadow WAL): the app went on writing after Litestream stopped, and its last connection
    checkpointed the -wal into the file and removed it, so no -wal bytes are pending and the positions
    still agree. Only the times show it, so the finding names `--compare`, which can tell new writes
    from a late checkpoint of pages Litestream had already sent.

    Litestream's local state is the reference, not the replica's newest object: a file restored from
    the replica is new (its mtime is the restore's) while an idle replica's newest object can be days
    old, and a restore leaves no local state (litefix's own restores quarantine it), so a restored
    file is never called behind."""
    if ctx.litestream_running or local.time is None:
        return
    if any(f.code in ("replica-behind", "replica-stale") for f in report.findings):
        return
    changed = max((s.mtime_ns / 1e9 for s in (ctx.db_state, ctx.wal_state) if s.exists), default=0.0)
    gap = changed - local.time
    if gap <= max(CLOCK_SLACK_SECONDS, ctx.options.max_lag):
        return
    report.findings.append(
        CODES["replica-behind"].finding(
            f"no Litestream runs, and {ctx.db} changed {gap:.0f}s after Litestream's last local write "
            f"({local.describe()}): what was written since is on no replica ({view.target.location}), unless it "
            "only checkpointed pages Litestream had already sent (`--compare` shows the pages that differ)",
            {
                "replica": view.target.location,
                "lag_seconds": round(gap, 1),
                "max_lag": ctx.options.max_lag,
                "changed_at": changed,
                "local_state_at": local.time,
                "local_position": local.describe(),
                "litestream_running": False,
            },
        )
    )


def _compare(
    ctx: Context,
    view: ReplicaView,
    local: LocalPosition,
    remote: LtxPages | GenerationPages,
    position: str,
    facts: dict[str, JSON],
    report: Report,
    generation: Generation | None = None,
) -> None:
    if ctx.header is None:
        facts["comparison"] = "not possible: no local database"
        return
    before = (ctx.db_state.size, ctx.db_state.mtime_ns)

    def moved() -> bool:
        """The database or its -wal changed since litefix first read them: no verdict is honest."""
        try:
            st = os.stat(ctx.db)
        except OSError:
            return True
        return ctx.wal_changed_since_scan() or (st.st_size, st.st_mtime_ns) != before

    inconclusive = "inconclusive: the database changed while it was compared (a live writer); rerun when quiet"
    if moved():
        facts["comparison"] = inconclusive
        return
    from litefix.replicas.pages import LocalPages, compare
    from litefix.replicas.plan import PageError

    try:
        mine = LocalPages.open(ctx.db, ctx.wal_with_pages())
        result = compare(mine, remote)
    except (PageError, OSError, ValueError) as exc:
        why = os_error_sentence(exc, ctx.db) if isinstance(exc, OSError) else str(exc)
        facts["comparison"] = inconclusive if moved() else f"not possible: {why}"
        return
    if moved():
        facts["comparison"] = inconclusive
        return
    facts["comparison"] = result.to_json()
    if result.equal:
        return
    _diverged(ctx, view, local, position, result, report)


def _reported(report: Report, view: ReplicaView, *codes: str) -> bool:
    loc = view.target.location
    return any(f.code in codes and loc in f.message for f in report.findings)


def _restore_differs(ctx: Context, view: ReplicaView, local: LocalPosition, result: Comparison, report: Report) -> None:
    """A measured difference between the restored replica and the local file is always a finding: the
    replica is ahead when nothing local links them (restore skipped), else the two diverged."""
    if _reported(report, view, "replica-diverged", "replica-ahead"):
        return
    evidence: dict[str, JSON] = {"replica": view.target.location, "local_position": local.describe()}
    evidence.update(result.to_json())
    pages = f"{result.differing_pages} pages differ (first: {', '.join(map(str, result.first_differences[:5]))})"
    if local.format is None:
        report.findings.append(
            CODES["replica-ahead"].finding(
                f"the replica {view.target.location} restores to another database than {ctx.db}: {pages}, and no "
                "local Litestream state links them (a restore was skipped, or the file was made locally)",
                evidence,
            )
        )
        return
    report.findings.append(
        CODES["replica-diverged"].finding(
            f"the replica {view.target.location} restores to another database than {ctx.db} at the same "
            f"position ({local.describe()}): {pages}",
            evidence,
        )
    )


def _diverged(
    ctx: Context, view: ReplicaView, local: LocalPosition, position: str, result: Comparison, report: Report
) -> None:
    if _reported(report, view, "replica-not-restored"):
        return  # the skipped restore explains every differing page; its repair is the restore
    if local.format is None:
        why = (
            "no local Litestream state links them, so a restore was skipped or the file was created or replaced locally"
        )
    else:
        why = "at the same position, so one side was changed behind Litestream's back"
    report.findings.append(
        CODES["replica-diverged"].finding(
            f"{ctx.db} differs from the replica {view.target.location} at {position} in "
            f"{result.differing_pages} pages (first: {', '.join(map(str, result.first_differences[:5]))}): {why}",
            {"position": position, "local_position": local.describe(), **result.to_json()},
        )
    )


def _verify_restore(
    ctx: Context, target: ReplicaTarget, view: ReplicaView, local: LocalPosition, report: Report
) -> None:
    """Restore the latest state once: integrity-check it and compare it with the local database."""
    from litefix.replicas.pages import LocalPages, compare
    from litefix.system.schema import SchemaError, check_integrity

    binary = ctx.binary
    loc = target.location
    if binary is None:
        report.facts["verify_restore"] = "skipped: no litestream binary"
        return
    source = _source(ctx, target)
    problem: str | None
    expected = view.holdings().get("database_bytes")
    with restored(binary, source, expected_bytes=expected if isinstance(expected, int) else None) as (path, text):
        if path is None:
            problem = f"restore failed: {text}"
        else:
            try:
                messages = check_integrity(path, "full")
            except SchemaError as exc:
                messages = [str(exc)]
            problem = None if messages == ["ok"] else "; ".join(messages[:3])
            if problem is None:
                report.facts["verify_restore"] = "ok: the latest state restores and passes integrity_check"
                if ctx.header is not None:
                    result = compare(LocalPages.open(ctx.db, ctx.wal_with_pages()), LocalPages.open(path))
                    report.facts["restore_checksum"] = result.to_json()
                    if not result.equal:
                        _restore_differs(ctx, view, local, result, report)
                return
    clean, checks = newest_clean_point(binary, source, restore_points(view)[1:], "quick")
    report.findings.append(
        CODES["replica-corrupt"].finding(
            f"the replica {loc} restores to a broken database ({(problem or '')[:160]})"
            + (f"; the newest clean position is {clean.label}" if clean else "; no clean position was found"),
            {
                "replica": loc,
                "latest": (problem or "")[:1000],
                "newest_clean": clean.to_json() if clean else None,
                "tested": [
                    {"position": c.point.label if c.point else "latest", "ok": c.ok, "detail": c.detail[:200]}
                    for c in checks
                ],
            },
            hint=(
                f"restore {clean.label}: `litefix repair DB --strategy restore {' '.join(clean.args)}`"
                if clean
                else CODES["replica-corrupt"].fix
            ),
        )
    )
