"""A repair from start to end: diagnose, plan, execute (or resume, or roll back), diagnose again.

The CLI shows each stage; these functions do the work and return values.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from litefix.diagnose.context import Context
from litefix.diagnose.runner import diagnose_in
from litefix.errors import Refused
from litefix.model import JSON, Diagnosis, RepairPlan
from litefix.repair import executor as repair
from litefix.repair.strategies import RepairOptions, healthy_after, prepare


@dataclass
class RepairReport:
    outcome: repair.Outcome
    after: Diagnosis

    @property
    def healthy(self) -> bool:
        if self.outcome.plan.strategy == "quarantine" and self.outcome.status == "completed":
            return True  # the path is empty by design; the manifest check already passed
        return healthy_after(self.after)

    def to_json(self) -> dict[str, JSON]:
        return {"repair": self.outcome.to_json(), "healthy_after": self.healthy, "after": self.after.to_json()}


def plan_repair(ctx: Context, wanted: RepairOptions) -> tuple[Diagnosis, RepairPlan]:
    running = repair.running_repair(ctx.db)
    if running is not None:
        raise Refused(
            f"another litefix repair of {ctx.db} is running (pid {running})",
            "wait for it to finish; two repairs at once could undo each other",
        )
    pending = repair.unfinished(ctx.db)
    diagnosis, _situation, plan = prepare(ctx, wanted)
    if pending is not None:
        plan = RepairPlan(
            plan.db,
            plan.strategy,
            plan.why,
            plan.steps,
            plan.findings,
            refused=f"an earlier repair did not finish: {pending.describe()}; run with --resume or --rollback first",
        )
    return diagnosis, plan


def execute_plan(ctx: Context, plan: RepairPlan, log: Callable[[str], None]) -> RepairReport:
    version = str(ctx.binary.version) if ctx.binary and ctx.binary.version else None
    outcome = repair.execute(plan, version, log)
    return RepairReport(outcome, _fresh_diagnosis(ctx))


def finish_interrupted(ctx: Context, how: str, log: Callable[[str], None]) -> RepairReport:
    outcome = repair.resume(ctx.db, log) if how == "resume" else repair.rollback(ctx.db, log)
    return RepairReport(outcome, _fresh_diagnosis(ctx))


def _fresh_diagnosis(ctx: Context) -> Diagnosis:
    """Files changed: read everything again (a new context), with the same options."""
    return diagnose_in(Context(os.fspath(ctx.db), ctx.options))
