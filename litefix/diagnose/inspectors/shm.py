"""The -shm wal-index: does it describe the -wal that is actually there?

A stale index is harmless once every connection has closed (the next opener
rebuilds it), but an index that disagrees with the WAL while processes hold it
means the WAL was swapped or truncated underneath them.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.formats.shm import MIN_SIZE, ShmError
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
        index = ctx.shm
    except ShmError as exc:
        report.findings.append(
            _stale(
                f"{ctx.shm_path} is {state.size} bytes, too short for a wal-index header",
                {"path": ctx.shm_path, "size": state.size, "minimum": MIN_SIZE, "error": str(exc)},
            )
        )
        return report
    assert index is not None
    report.facts.update(index.to_json())
    head = index.header
    evidence: dict[str, object] = {"path": ctx.shm_path, "mx_frame": head.mx_frame, "n_backfill": index.n_backfill}
    if not head.is_init:
        return report
    if not index.copies_agree:
        report.findings.append(
            _stale(
                f"{ctx.shm_path}: the two copies of the wal-index header differ (a write was interrupted)",
                {**evidence, "second_copy_mx_frame": index.second.mx_frame},
            )
        )
        return report
    if not head.checksum_valid:
        report.findings.append(_stale(f"{ctx.shm_path}: the wal-index header checksum is wrong", evidence))
        return report
    if index.n_backfill > head.mx_frame:
        report.findings.append(
            _stale(f"{ctx.shm_path}: nBackfill {index.n_backfill} is beyond mxFrame {head.mx_frame}", evidence)
        )
        return report
    wal = ctx.wal
    if wal is None or wal.header is None:
        if head.mx_frame:
            report.findings.append(
                _stale(
                    f"{ctx.shm_path} indexes {head.mx_frame} frames but {ctx.wal_path} is "
                    f"{'missing' if wal is None else 'empty or unreadable'}",
                    {**evidence, "wal": "missing" if wal is None else "no valid header"},
                )
            )
        return report
    if ctx.wal_changed_since_scan():
        report.facts["comparison"] = "skipped: the -wal changed while litefix read it (a live writer)"
        return report
    evidence.update(
        wal_salt1=f"0x{wal.header.salt1:08x}",
        wal_salt2=f"0x{wal.header.salt2:08x}",
        shm_salt1=f"0x{head.salts[0]:08x}",
        shm_salt2=f"0x{head.salts[1]:08x}",
        wal_committed_frames=wal.committed_frames,
    )
    if head.salts != wal.header.salts:
        report.findings.append(
            _stale(f"{ctx.shm_path} describes a different -wal (salts differ): the -wal was replaced", evidence)
        )
    elif head.mx_frame > wal.committed_frames:
        report.findings.append(
            _stale(
                f"{ctx.shm_path} claims {head.mx_frame} committed frames but {ctx.wal_path} holds "
                f"{wal.committed_frames}: the -wal was truncated or replaced",
                evidence,
            )
        )
    elif head.mx_frame < wal.committed_frames:
        report.findings.append(
            _stale(
                f"{ctx.shm_path} knows {head.mx_frame} of the {wal.committed_frames} committed frames in "
                f"{ctx.wal_path}: frames were written without this index",
                evidence,
            )
        )
    return report


def _stale(message: str, evidence: dict[str, object]) -> Finding:
    return CODES["shm-stale"].finding(message, evidence)
