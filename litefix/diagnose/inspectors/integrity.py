"""PRAGMA quick_check / integrity_check, only when asked (`--integrity quick|full`).

It reads every page, so it is the one inspector whose cost grows with the database.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON
from litefix.system.schema import SchemaError, check_integrity

SHOWN_MESSAGES = 10


def _summary(facts: dict[str, JSON]) -> str:
    return f"{facts.get('mode')}_check: {facts.get('result')}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    mode = ctx.options.integrity
    if not mode:
        raise Skip("not requested (use --integrity quick|full)")
    ctx.require_header()
    if ctx.schema_view.error:
        raise Skip("SQLite cannot even read the schema (reported as integrity-failed)")
    report = Report()
    try:
        messages = check_integrity(ctx.db, mode)
    except SchemaError as exc:
        messages = [str(exc)]
    report.facts["mode"] = mode
    if messages == ["ok"]:
        report.facts["result"] = "ok"
        return report
    if ctx.wal_changed_since_scan():
        report.facts["result"] = "inconclusive: the -wal changed during the check (a live writer)"
        return report
    report.facts["result"] = "failed"
    report.findings.append(
        CODES["integrity-failed"].finding(
            f"{ctx.db} fails {'quick_check' if mode == 'quick' else 'integrity_check'}: {messages[0]}",
            {"mode": mode, "messages": messages[:SHOWN_MESSAGES], "message_count": len(messages)},
        )
    )
    return report
