"""A repair plan, a repair's outcome and the quarantine listing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from litefix.model import RepairPlan
from litefix.render.diagnosis import findings_table, verdict

if TYPE_CHECKING:
    from litefix.repair.workflow import RepairReport


def plan_text(plan: RepairPlan) -> str:
    head = f"Plan: {plan.strategy} {plan.db}\n  why: {plan.why}"
    if plan.refused:
        return f"{head}\nRefused: {plan.refused}"
    if not plan.steps:
        return f"{head}\nNothing to do."
    lines = [head] + [f"  {i}. {step.action}: {step.reason}" for i, step in enumerate(plan.steps, 1)]
    return "\n".join(lines)


def repair_text(report: RepairReport) -> str:
    outcome = report.outcome
    lines = [f"Repair {outcome.id}: {outcome.status}"]
    if outcome.quarantine:
        lines.append(f"  quarantine: {outcome.quarantine}")
    lines += [f"  note: {note}" for note in outcome.notes]
    lines.append("")
    if report.after.findings:
        lines.append(findings_table(report.after))
        lines.append("")
    if not report.healthy:
        lines.append(verdict(report.after))
    elif any(f.code == "litestream-not-running" for f in report.after.findings):
        lines.append(
            f"repaired: {report.after.db} is sound; start Litestream again now (your supervisor, or "
            "`litestream replicate`)"
        )
    else:
        lines.append(f"repaired: {report.after.db}")
    return "\n".join(lines)


def quarantine_table(items: Sequence[Mapping[str, Any]]) -> str:
    from tabulate import tabulate

    if not items:
        return "no quarantines"
    rows = [(q["id"], q["strategy"], len(q["entries"]), q["reason"][:60]) for q in items]
    return tabulate(rows, headers=("id", "strategy", "entries", "reason"), tablefmt="simple")
