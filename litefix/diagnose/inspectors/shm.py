"""The -shm wal-index: does it describe the -wal that is actually there?

A stale index is harmless once every connection has closed (the next opener
rebuilds it), but an index that disagrees with the WAL while processes hold it
means the WAL was swapped or truncated underneath them.
"""

from __future__ import annotations

import os
import time

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.formats.shm import MIN_SIZE, ShmError, WalIndex, read_shm
from litefix.formats.wal import CONFIRM_PAUSE, CONSISTENT_READS
from litefix.model import JSON, Finding


def _summary(facts: dict[str, JSON]) -> str:
    return "no -shm" if facts.get("exists") is False or not facts else f"wal-index at frame {facts.get('mx_frame')}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    report = Report()
    state = ctx.shm_state
    report.facts["path"] = ctx.shm_path
    if not state.exists:
        report.facts["exists"] = False
        return report
    if state.kind != "file" or state.size == 0:
        report.facts["size"] = state.size
        return report
    try:
        index: WalIndex | None = ctx.shm
        first: Finding | None = None
    except ShmError as exc:
        index = None
        first = _too_short(ctx, state.size, exc)
    else:
        assert index is not None
        report.facts.update(index.to_json())
        first = _judge(ctx, index, report)
    if first is not None:
        confirmed = _confirm(ctx, first)
        if confirmed is not None:
            report.findings.append(confirmed)
        else:
            report.facts["comparison"] = (
                f"inconclusive: the -shm or -wal changed between reads (a live process): {first.message}"
            )
    return report


def _confirm(ctx: Context, first: Finding) -> Finding | None:
    """The -shm is shared memory: SQLite updates it after each commit (second header copy first) and
    resets it with the -wal, so one read can catch it mid-update. A finding stands only when a fresh
    read a moment later says the same, with the -wal unchanged since it was scanned."""
    finding = first
    for _ in range(CONSISTENT_READS):
        time.sleep(CONFIRM_PAUSE)
        if ctx.wal_changed_since_scan():
            return None
        try:
            again = _judge(ctx, read_shm(ctx.shm_path), Report())
        except ShmError as exc:
            again = _too_short(ctx, os.path.getsize(ctx.shm_path), exc)
        except OSError:
            return None
        if again is None:
            return None
        if again.message == finding.message:
            return again
        finding = again
    return None


def _too_short(ctx: Context, size: int, exc: ShmError) -> Finding:
    return _stale(
        f"{ctx.shm_path} is {size} bytes, too short for a wal-index header",
        {"path": ctx.shm_path, "size": size, "minimum": MIN_SIZE, "error": str(exc)},
    )


def _judge(ctx: Context, index: WalIndex, report: Report) -> Finding | None:
    """What one read of the wal-index says against the -wal as scanned."""
    head = index.header
    evidence: dict[str, object] = {"path": ctx.shm_path, "mx_frame": head.mx_frame, "n_backfill": index.n_backfill}
    if not head.is_init:
        return None
    if not index.copies_agree:
        return _stale(
            f"{ctx.shm_path}: the two copies of the wal-index header differ (a write was interrupted)",
            {**evidence, "second_copy_mx_frame": index.second.mx_frame},
        )
    if not head.checksum_valid:
        return _stale(f"{ctx.shm_path}: the wal-index header checksum is wrong", evidence)
    if index.n_backfill > head.mx_frame:
        return _stale(f"{ctx.shm_path}: nBackfill {index.n_backfill} is beyond mxFrame {head.mx_frame}", evidence)
    wal = ctx.wal
    if wal is None or wal.header is None:
        if head.mx_frame:
            return _stale(
                f"{ctx.shm_path} indexes {head.mx_frame} frames but {ctx.wal_path} is "
                f"{'missing' if wal is None else 'empty or unreadable'}",
                {**evidence, "wal": "missing" if wal is None else "no valid header"},
            )
        return None
    if wal.inconclusive or ctx.wal_changed_since_scan():
        report.facts["comparison"] = "skipped: the -wal changed while litefix read it (a live writer)"
        return None
    evidence.update(
        wal_salt1=f"0x{wal.header.salt1:08x}",
        wal_salt2=f"0x{wal.header.salt2:08x}",
        shm_salt1=f"0x{head.salts[0]:08x}",
        shm_salt2=f"0x{head.salts[1]:08x}",
        wal_committed_frames=wal.committed_frames,
    )
    if head.salts != wal.header.salts:
        return _stale(f"{ctx.shm_path} describes a different -wal (salts differ): the -wal was replaced", evidence)
    if head.mx_frame > wal.committed_frames:
        return _stale(
            f"{ctx.shm_path} claims {head.mx_frame} committed frames but {ctx.wal_path} holds "
            f"{wal.committed_frames}: the -wal was truncated or replaced",
            evidence,
        )
    if head.mx_frame < wal.committed_frames:
        return _stale(
            f"{ctx.shm_path} knows {head.mx_frame} of the {wal.committed_frames} committed frames in "
            f"{ctx.wal_path}: frames were written without this index",
            evidence,
        )
    return None


def _stale(message: str, evidence: dict[str, object]) -> Finding:
    return CODES["shm-stale"].finding(message, evidence)
