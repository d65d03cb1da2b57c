"""Strings from model objects: the human table and the JSON document. Never prints."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from litefix.model import JSON, Diagnosis, InspectorRun, RepairPlan, RunStatus, Severity

if TYPE_CHECKING:  # annotations only: rendering a diagnosis must not import the signature table
    from litefix.explain import Explanation, Group
    from litefix.gate.check import CheckReport
    from litefix.repair.workflow import RepairReport

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


# --- litefix check: the pre-deploy checklist ---------------------------------------------------
# One line per database and inspector (and per deployment check), a mark for each, the details
# only under what fails, and a last line that says whether the deploy may go on. Kept apart from
# the diagnosis table above: a checklist is read top to bottom for the ✘, not as a table.

MARK_OK, MARK_FAIL, MARK_WARN, MARK_NOTE, MARK_SKIP, MARK_BROKEN = "✔", "✘", "!", "•", "-", "?"


def checklist_text(report: CheckReport) -> str:
    from litefix.gate.check import CheckLine

    names = _subject_names([d.db for d in report.databases])
    width = max([len(n) for n in names.values()] + [len("deployment")])
    rows: list[str] = []

    def emit(mark: str, subject: str, check: str, text: str) -> None:
        rows.append(f"{mark} {subject:<{width}}  {check:<17}  {text}".rstrip())

    def emit_line(subject: str, line: CheckLine) -> None:
        run = line.run
        if run.status is RunStatus.FAILED:
            emit(MARK_BROKEN, subject, run.name, f"could not inspect: {run.reason}")
            return
        if not line.findings:
            mark = MARK_SKIP if run.status is RunStatus.SKIPPED else MARK_OK
            emit(mark, subject, run.name, run.reason if run.status is RunStatus.SKIPPED else check_summary(run))
            return
        for f in line.findings:
            failing = f.severity.rank >= report.fail_on.rank
            mark = MARK_FAIL if failing else MARK_WARN if f.severity is Severity.WARNING else MARK_NOTE
            emit(mark, subject, run.name, f"{f.code}: {f.message}")
            if failing and f.hint:
                rows.append(f"  {'':<{width}}  {'':<17}  fix: {f.hint}")

    for result in report.databases:
        subject = names[result.db]
        if result.fix is not None:
            mark = MARK_OK if result.fix.status == "completed" else MARK_FAIL
            where = f" (quarantine: {result.fix.quarantine})" if result.fix.quarantine else ""
            emit(mark, subject, "fix", f"{result.fix.strategy} {result.fix.status}: {result.fix.detail}{where}")
        for line in result.lines:
            emit_line(subject, line)
        if result.next_step:
            rows.append(f"  {'':<{width}}  {'':<17}  run: {result.next_step}")
    for line in report.deployment:
        emit_line("deployment", line)
    head = (
        f"litefix check: {report.config}, {len(report.databases)} database{'s' if len(report.databases) != 1 else ''}"
    )
    head += f", Litestream {report.litestream}" if report.litestream else ", no litestream binary"
    return "\n".join([head, "", *rows, "", check_verdict(report)])


def check_verdict(report: CheckReport) -> str:
    counts = report.counts()
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in reversed(Severity) if counts[s]]
    summary = ", ".join(parts) if parts else "no findings"
    where = f"{len(report.databases)} database{'s' if len(report.databases) != 1 else ''}, {report.seconds:.1f}s"
    if not report.passed:
        failing = len(report.failing)
        return (
            f"not ready: {failing} finding{'s' if failing != 1 else ''} at or above {report.fail_on.value} "
            f"({summary}; {where})"
        )
    if not report.inspected:
        broken = [d.db for d in report.databases if not d.inspected]
        return f"incomplete: could not inspect {', '.join(broken)} ({summary}; {where})"
    return f"ready: {summary} ({where})"


def check_summary(run: InspectorRun) -> str:
    """A few words for an inspector that found nothing wrong, from its facts."""
    facts = run.facts
    if run.name == "database-file":
        header = facts.get("header") or {}
        if not header:
            return "no database file yet"
        mode = "WAL mode" if header.get("wal_mode") else "rollback journal"
        return f"{header.get('page_count')} pages of {header.get('page_size')} bytes, {mode}"
    if run.name == "wal":
        if facts.get("exists") is False:
            return "no -wal (clean)"
        frames = facts.get("committed_frames", 0)
        return f"{frames} committed frame{'s' if frames != 1 else ''}"
    if run.name == "shm":
        return "no -shm" if facts.get("exists") is False or not facts else f"wal-index at frame {facts.get('mx_frame')}"
    if run.name == "config":
        return f"listed in {facts.get('source')}" if facts.get("database") else str(facts.get("source", ""))
    if run.name == "processes":
        holders = facts.get("holders") or []
        if "litestream_processes" in facts and "holders" not in facts:  # the deployment check
            return "no Litestream at work on these databases"
        return "no process holds it" if not holders else f"held by pid {', '.join(str(h['pid']) for h in holders)}"
    if run.name == "meta-dir":
        if facts.get("exists") is False:
            return "no Litestream state yet"
        where = f", TXID {facts['local_txid']}" if facts.get("local_txid") else ""
        where = f", generation {facts['generation']}" if facts.get("generation") else where
        return f"{facts.get('format')} state{where}"
    if run.name == "litestream-tables":
        tables = facts.get("litestream_tables") or []
        return ", ".join(tables) + " present" if tables else "no Litestream tables yet"
    if run.name == "binary":
        return f"litestream {facts.get('version')}" if facts.get("version") else "checked"
    if run.name == "replica":
        views = facts.get("replicas") or []
        if not views:
            return "no replica configured"
        view = views[0]
        position = view.get("replica_position") or view.get("format")
        return f"{view.get('location')}: {position}"
    if run.name == "repair-journal":
        return "no unfinished repair"
    if run.name == "storage":
        return "on " + (", ".join(facts.get("filesystems") or []) or "unknown filesystems") + ", not temporary"
    if run.name == "replicas":
        return f"{facts.get('replicas')} replica locations, none shared"
    return "ok"


def _subject_names(dbs: Sequence[str]) -> dict[str, str]:
    """Base names, unless two databases share one (then full paths)."""
    import os

    bases = [os.path.basename(db) for db in dbs]
    return {db: base if bases.count(base) == 1 else db for db, base in zip(dbs, bases, strict=True)}
