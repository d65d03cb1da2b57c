"""Strings from model objects: the human table and the JSON document. Never prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from litefix.model import JSON, Diagnosis, InspectorRun, RepairPlan, RunStatus, Severity

if TYPE_CHECKING:  # annotations only: rendering a diagnosis must not import the signature table
    from litefix.explain import Explanation, Group
    from litefix.workflow import RepairReport

MESSAGE_WIDTH = 70
HINT_WIDTH = 50


def to_json(value: JSON) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)


def findings_table(diagnosis: Diagnosis) -> str:
    from tabulate import tabulate

    rows = [(f.severity.value, f.code, f.message, f.hint) for f in diagnosis.findings]
    return tabulate(
        rows,
        headers=("severity", "code", "message", "hint"),
        tablefmt="simple",
        maxcolwidths=[None, None, MESSAGE_WIDTH, HINT_WIDTH],
    )


def verdict(diagnosis: Diagnosis) -> str:
    counts = {s: sum(1 for f in diagnosis.findings if f.severity is s) for s in Severity}
    failed = [run for run in diagnosis.inspectors if run.status is RunStatus.FAILED]
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in reversed(Severity) if counts[s]]
    summary = ", ".join(parts) if parts else "no findings"
    if failed:
        more = f" (and {len(failed) - 1} more inspectors)" if len(failed) > 1 else ""
        return f"incomplete: {failed[0].reason}{more}; {summary} in {diagnosis.db}"
    if diagnosis.healthy:
        return f"healthy: {diagnosis.db} ({summary})"
    return f"unhealthy: {diagnosis.db} ({summary})"


def diagnosis_text(diagnosis: Diagnosis, verbose: bool = False) -> str:
    lines: list[str] = []
    if diagnosis.findings:
        lines.append(findings_table(diagnosis))
        lines.append("")
    if verbose:
        lines.extend(_inspector_lines(diagnosis.inspectors))
        lines.append("")
    lines.append(verdict(diagnosis))
    return "\n".join(lines)


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


def _inspector_lines(runs: Sequence[InspectorRun]) -> list[str]:
    out = []
    for run in runs:
        detail = run.reason or ", ".join(f"{k}={v}" for k, v in list(run.facts.items())[:6])
        out.append(f"  {run.status.value:<8} {run.name:<20} {detail}")
    return out


# --- litefix explain: pasted Litestream log lines ------------------------------------------------
# Kept apart from the diagnosis renderers above: the input is a log, not a database, and the
# output is one block per signature rather than a table (meaning, cause and fix are paragraphs).


EXPLAIN_WIDTH = 100
EXAMPLE_WIDTH = 240


def explanation_text(explanation: Explanation) -> str:
    """One block per known signature (worst first), then the unknown lines, then a summary line.

    A fix already printed for an earlier signature is referred to, not repeated: the replaced-file
    signatures share one long fix and usually come together.
    """
    blocks: list[str] = []
    fixes: dict[str, str] = {}
    for group in explanation.known:
        blocks.append(_signature_block(group, fixes))
    if explanation.unknown:
        blocks.append(_unknown_block(explanation.unknown))
    blocks.append(explanation_verdict(explanation))
    return "\n\n".join(blocks)


def explanation_verdict(explanation: Explanation) -> str:
    if not explanation.records:
        return "no log lines to explain (empty input)"
    counts = {s: sum(1 for g in explanation.known if g.signature and g.signature.severity is s) for s in Severity}
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in reversed(Severity) if counts[s]]
    known = ", ".join(parts) if parts else "no known signature"
    unknown = sum(g.count for g in explanation.unknown)
    lines = f"{explanation.lines} line{'s' if explanation.lines != 1 else ''}"
    tail = f"; {unknown} unknown line{'s' if unknown != 1 else ''}" if unknown else ""
    return f"{lines}: {known}{tail}"


def _signature_block(group: Group, fixes: dict[str, str]) -> str:
    import textwrap

    signature = group.signature
    assert signature is not None
    head = f"{signature.severity.value.upper():<7} {signature.id} ×{group.count}: {signature.title}"
    seen = f"line {group.first_line}"
    if group.first_time:
        seen += f", {group.first_time}" + (f" … {group.last_time}" if group.last_time != group.first_time else "")
    fix = signature.fix
    if fix and fix in fixes:
        fix = f"as for {fixes[fix]} above."
    elif fix:
        fixes[fix] = signature.id
    fields = [("seen", seen), ("db", ", ".join(group.dbs)), ("meaning", signature.meaning)]
    if group.max_consecutive_errors and group.max_consecutive_errors > 1:
        fields.append(("failures", f"up to {group.max_consecutive_errors} in a row behind these lines"))
    if signature.cause or signature.fix:  # routine lines need no more than what they are
        fields += [
            ("versions", ", ".join(signature.versions)),
            ("cause", signature.cause),
            ("fix", fix),
            ("run", group.command),
            ("codes", ", ".join(signature.codes)),
            ("example", _clip(group.example)),
        ]
    lines = [head]
    for label, value in fields:
        if not value:
            continue
        prefix = f"  {label + ':':<10}"
        if label == "example":
            lines.append(prefix + value)
        else:
            lines.append(textwrap.fill(value, EXPLAIN_WIDTH, initial_indent=prefix, subsequent_indent=" " * 12))
    return "\n".join(lines)


def _unknown_block(groups: Sequence[Group]) -> str:
    total = sum(g.count for g in groups)
    lines = [
        f"UNKNOWN {len(groups)} kind{'s' if len(groups) != 1 else ''} of line ({total} line{'s' if total != 1 else ''})"
    ]
    lines += [f"  ×{g.count:<4} line {g.first_line}: {_clip(g.example)}" for g in groups]
    return "\n".join(lines)


def _clip(text: str) -> str:
    return text if len(text) <= EXAMPLE_WIDTH else text[: EXAMPLE_WIDTH - 1] + "…"
