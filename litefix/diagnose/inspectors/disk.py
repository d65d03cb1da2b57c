"""Free space against what the next checkpoint or restore needs, and a meta dir that only grows.

When the replica is unreachable, Litestream 0.3 keeps every shadow WAL file it has not uploaded in
its meta dir (measured with 0.3.13 and an S3 endpoint on a closed port: one file per WAL restart,
none removed), until the disk is full and every write fails. A healthy 0.3.13 keeps at most three
(the current index and the ones before the last replicated one; measured with 1 s checkpoints).
Only metadata is read (statvfs, lstat), so the cost does not depend on the database's size.
"""

from __future__ import annotations

import os
import time

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON, Finding, Severity
from litefix.system.disk import FileAge, Filesystem, files_in, filesystem_of, tree_size

# SQLite checkpoints (and Litestream 0.5's min-checkpoint-page-count) at 1000 pages: the -wal's
# normal size between checkpoints, so the least free space a live database needs.
NORMAL_WAL_PAGES = 1000
# A healthy 0.3.13 keeps at most this many shadow WAL files (measured); more are not uploaded.
SHADOW_WAL_NORMAL = 3
# More may wait legitimately for one sync under heavy writes with a long sync-interval: only files
# older than two sync intervals (and this floor) are overdue.
OVERDUE_FLOOR_SECONDS = 10.0


def _summary(facts: dict[str, JSON]) -> str:
    return f"{int(facts.get('free_bytes') or 0) >> 20} MiB free on {facts.get('path')}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    if ctx.db_state.kind not in ("file", "missing"):
        raise Skip("no database file at the path")
    fs = ctx.filesystem
    if fs is None:
        raise Skip(f"cannot stat the filesystem of {ctx.real_db}")
    report = Report()
    page = ctx.header.page_size if ctx.header is not None else 4096
    db_bytes = ctx.db_state.size
    wal_bytes = ctx.wal_state.size if ctx.wal_state.kind == "file" else 0
    report.facts.update(fs.to_json(), db_bytes=db_bytes, wal_bytes=wal_bytes)
    pending = _shadow_wal(ctx)
    meta_fs = filesystem_of(ctx.meta_dir)
    if pending is not None:
        report.facts["shadow_wal_files"] = len(pending)
    if os.path.isdir(ctx.meta_dir):
        meta_bytes, meta_files = tree_size(ctx.meta_dir)
        report.facts.update(meta_dir=ctx.meta_dir, meta_dir_bytes=meta_bytes, meta_dir_files=meta_files)
        l0 = files_in(os.path.join(ctx.meta_dir, "ltx", "0"), ".ltx")
        if l0:
            report.facts.update(l0_files=len(l0), l0_oldest_age_seconds=round(time.time() - l0[0].mtime, 1))
    else:
        meta_bytes = 0
    if pending is not None and len(pending) > SHADOW_WAL_NORMAL:
        overdue = _overdue_after(ctx)
        report.facts["overdue_after_seconds"] = overdue
        if time.time() - pending[0].mtime > overdue:
            report.findings.append(_growing(ctx, pending, meta_bytes, meta_fs, overdue))
    _check_free(ctx, report, fs, page, db_bytes, wal_bytes, meta_fs, meta_bytes)
    return report


def _shadow_wal(ctx: Context) -> list[FileAge] | None:
    """0.3's shadow WAL files, oldest first, in every generation of the meta dir (None: no 0.3 state).

    Every generation counts: on a full disk 0.3 starts a new generation on each failed sync
    (measured: `create generation: initialize shadow wal: … no space left on device`), and the
    old ones stay until a sync succeeds.
    """
    root = os.path.join(ctx.meta_dir, "generations")
    try:
        generations = [e.path for e in os.scandir(root) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return None
    found = [f for g in generations for f in files_in(os.path.join(g, "wal"), ".wal")]
    return sorted(found, key=lambda f: (f.mtime, f.path))


def _overdue_after(ctx: Context) -> float:
    replica = ctx.config_db.replica if ctx.config_db is not None else None
    interval = replica.sync_interval if replica is not None and replica.sync_interval else 1.0
    return max(OVERDUE_FLOOR_SECONDS, 2 * interval)


def _growing(
    ctx: Context, pending: list[FileAge], meta_bytes: int, meta_fs: Filesystem | None, overdue: float
) -> Finding:
    oldest = pending[0]
    age = max(0.0, time.time() - oldest.mtime)
    pending_bytes = sum(f.size for f in pending)
    evidence: dict[str, object] = {
        "meta_dir": ctx.meta_dir,
        "layout": "0.3 shadow WAL",
        "pending_files": len(pending),
        "normal_files": SHADOW_WAL_NORMAL,
        "pending_bytes": pending_bytes,
        "meta_dir_bytes": meta_bytes,
        "oldest_file": oldest.path,
        "oldest_age_seconds": round(age, 1),
        "overdue_after_seconds": overdue,
        "first_index": os.path.basename(oldest.path).split(".")[0],
        "last_index": os.path.basename(pending[-1].path).split(".")[0],
    }
    if meta_fs is not None:
        evidence["free_bytes"] = meta_fs.free
    severity = Severity.ERROR if meta_fs is not None and meta_fs.free < pending_bytes else Severity.WARNING
    return CODES["meta-dir-growing"].finding(
        f"{ctx.meta_dir} holds {len(pending)} shadow WAL files ({_mib(pending_bytes)}; a healthy Litestream 0.3 "
        f"keeps at most {SHADOW_WAL_NORMAL}), the oldest written {age:.0f} s ago: they are not reaching the replica",
        evidence,
        severity=severity,
    )


def _check_free(
    ctx: Context,
    report: Report,
    fs: Filesystem,
    page: int,
    db_bytes: int,
    wal_bytes: int,
    meta_fs: Filesystem | None,
    meta_bytes: int,
) -> None:
    """Three needs, most urgent first:

    - error: not even the -wal's normal size between checkpoints fits (writes fail next);
    - warning: not the -wal as it is now twice: itself and Litestream's local copy of it (0.3's
      shadow WAL is a byte copy, measured; 0.5's L0 files hold the same pages);
    - info: not a restore (a full copy written beside the database, then renamed) or a VACUUM.

    The warning counts the -wal that is there, not its normal size: a small volume that holds a
    small database comfortably is not low on space.
    """
    live = max(wal_bytes, NORMAL_WAL_PAGES * page)
    needs = [
        (Severity.ERROR, live, "the -wal between checkpoints"),
        (Severity.WARNING, 2 * wal_bytes, "the -wal and Litestream's local copy of it"),
        (Severity.INFO, db_bytes + wal_bytes, "a restore or VACUUM (a second copy of database and -wal)"),
    ]
    places = [(fs, ctx.real_db)]
    if meta_fs is not None and meta_fs.device != fs.device:
        places.append((meta_fs, ctx.meta_dir))
    for where, path in places:
        short = [(sev, need, what) for sev, need, what in needs if where.free < need]
        if not short:
            continue
        severity, need, what = short[0]
        evidence: dict[str, object] = {
            "path": path,
            "filesystem": where.path,
            "free_bytes": where.free,
            "total_bytes": where.total,
            "db_bytes": db_bytes,
            "wal_bytes": wal_bytes,
            "needed_bytes": need,
            "needed_for": what,
        }
        if meta_bytes:
            evidence["meta_dir_bytes"] = meta_bytes
        consequence = {
            Severity.ERROR: "writes fail with `database or disk is full` next",
            Severity.WARNING: "Litestream fails with `no space left on device` at its next sync",
            Severity.INFO: "a restore or `litefix repair` would fail here",
        }[severity]
        report.findings.append(
            CODES["disk-low"].finding(
                f"{where.path} has {_mib(where.free)} free of {_mib(where.total)}, less than {what} needs "
                f"({_mib(need)}): {consequence}",
                evidence,
                severity=severity,
            )
        )


def _mib(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB"
