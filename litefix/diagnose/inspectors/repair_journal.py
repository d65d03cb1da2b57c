"""An interrupted litefix repair: the first thing to know, before reading anything else.

A repair killed half-way leaves its journal in `<db dir>/.litefix/repairs/`; the
files it moved are in its quarantine. One stat and a small read.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON
from litefix.repair.journal import running_repair, unfinished


def _summary(facts: dict[str, JSON]) -> str:
    return "no unfinished repair"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    report = Report()
    running = running_repair(ctx.db)
    if running is not None:
        report.facts["running_repair_pid"] = running  # in progress, not interrupted: nothing to report
        return report
    journal = unfinished(ctx.db)
    if journal is None:
        return report
    report.findings.append(
        CODES["repair-unfinished"].finding(
            f"a litefix repair of {ctx.db} was interrupted: {journal.describe()}",
            {
                "journal": str(journal.path),
                "quarantine": journal.begin.get("quarantine"),
                "strategy": journal.plan.strategy,
                "steps_done": sorted(journal.done_steps()),
                "steps": [s.action for s in journal.plan.steps],
            },
            hint=f"finish it: `litefix repair {ctx.db} --resume`, or undo it: `litefix repair {ctx.db} --rollback`",
        )
    )
    return report
