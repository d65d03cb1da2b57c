"""A diagnosis as a findings table and a verdict line."""

from __future__ import annotations

from collections.abc import Sequence

from litefix.model import Diagnosis, InspectorRun, RunStatus, Severity

MESSAGE_WIDTH = 70
HINT_WIDTH = 50


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


def _inspector_lines(runs: Sequence[InspectorRun]) -> list[str]:
    out = []
    for run in runs:
        detail = run.reason or ", ".join(f"{k}={v}" for k, v in list(run.facts.items())[:6])
        out.append(f"  {run.status.value:<8} {run.name:<20} {detail}")
    return out
