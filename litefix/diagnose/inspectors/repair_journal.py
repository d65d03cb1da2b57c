"""An interrupted litefix repair: the first thing to know, before reading anything else.

A repair killed half-way leaves its journal in `<db dir>/.litefix/repairs/`; the
files it moved are in its quarantine. One stat and a small read.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.errors import RepairFailed
from litefix.model import JSON
from litefix.repair.journal import journal_path, quarantined_by_unfinished, running_repair, unfinished


def _summary(facts: dict[str, JSON]) -> str:
    return "no unfinished repair"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    report = Report()
    running = running_repair(ctx.db)
    if running is not None:
        report.facts["running_repair_pid"] = running  # in progress, not interrupted: nothing to report
        return report
    try:
        journal = unfinished(ctx.db)
    except RepairFailed as exc:  # a FIFO, a device, 16 MiB of garbage where the journal belongs (not EACCES)
        report.findings.append(
            CODES["repair-unfinished"].finding(
                f"a litefix repair journal of {ctx.db} cannot be read: {exc.message}",
                {"journal": str(journal_path(ctx.db)), "error": exc.message},
                hint=f"`litefix quarantine list {ctx.db}` shows what any repair moved; move the journal aside",
            )
        )
        return report
    if journal is None:
        return report
    plan = journal.readable_plan()
    held = quarantined_by_unfinished(ctx.db)
    evidence: dict[str, object] = {
        "journal": str(journal.path),
        "quarantine": journal.begin.get("quarantine"),
        "strategy": plan.strategy if plan else None,
        "steps_done": sorted(journal.done_steps()),
        "steps": [s.action for s in plan.steps] if plan else [],
    }
    if held:
        evidence["database_in_quarantine"] = held
    hint = f"finish it: `litefix repair {ctx.db} --resume`, or undo it: `litefix repair {ctx.db} --rollback`"
    if plan is None:
        hint = f"its journal is damaged: `litefix quarantine list {ctx.db}` shows what it moved, and where from"
    report.findings.append(
        CODES["repair-unfinished"].finding(
            f"a litefix repair of {ctx.db} was interrupted: {journal.describe()}"
            + (f"; the database itself is in its quarantine ({held})" if held else ""),
            evidence,
            hint=hint,
        )
    )
    return report
