"""`litefix check`: the pre-deploy checklist."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from litefix.model import InspectorRun, RunStatus, Severity

if TYPE_CHECKING:
    from litefix.gate.check import CheckReport


# --- litefix check: the pre-deploy checklist ---------------------------------------------------
# One line per database and inspector (and per deployment check), a mark for each, the details
# only under what fails, and a last line that says whether the deploy may go on. Kept apart from
# the diagnosis table: a checklist is read top to bottom for the ✘, not as a table.

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
    """A few words for an inspector that found nothing wrong: what it said it saw."""
    return run.summary or "ok"


def _subject_names(dbs: Sequence[str]) -> dict[str, str]:
    """Base names, unless two databases share one (then full paths)."""
    import os

    bases = [os.path.basename(db) for db in dbs]
    return {db: base if bases.count(base) == 1 else db for db, base in zip(dbs, bases, strict=True)}
