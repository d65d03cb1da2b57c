"""Litestream's bookkeeping tables, as a reader that applies the committed WAL sees them.

Litestream creates `_litestream_seq` and `_litestream_lock` once per process, at
start. Their absence in a file that Litestream already manages (a meta dir exists)
means the file was replaced or its tables dropped under a running replicator: the
exact `no such table: _litestream_seq` of the incident.
"""

from __future__ import annotations

import os

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON, Severity


def _summary(facts: dict[str, JSON]) -> str:
    tables = facts.get("litestream_tables") or []
    assert isinstance(tables, list)
    return ", ".join(tables) + " present" if tables else "no Litestream tables yet"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    read = ctx.schema_view
    report = Report()
    if read.inconclusive:
        report.facts["schema"] = f"inconclusive: {read.inconclusive}"
        return report
    report.facts["read_by"] = read.read_by
    if read.error:
        report.findings.append(
            CODES["integrity-failed"].finding(
                f"SQLite cannot read the schema of {ctx.db} with its -wal applied: {read.error}",
                {"sqlite_error": read.error, "stage": "schema"},
            )
        )
        report.facts["view"] = read.view
    schema = read.schema
    if schema is None:
        return report
    report.facts["tables"] = len(schema.tables)
    report.facts["litestream_tables"] = [t for t in schema.tables if t.startswith("_litestream")]
    if schema.litestream_seq is not None:
        report.facts["litestream_seq"] = schema.litestream_seq
    missing = schema.missing_litestream_tables
    if not missing:
        return report
    managed = os.path.isdir(ctx.meta_dir) or ctx.litestream_running
    evidence: dict[str, object] = {
        "view": read.view,
        "missing": list(missing),
        "tables": list(schema.tables[:20]),
        "meta_dir": ctx.meta_dir if managed else None,
    }
    if managed:
        why = (
            "a Litestream process has it open"
            if ctx.litestream_running
            else (f"Litestream's meta dir {ctx.meta_dir} exists")
        )
        message = (
            f"{ctx.db} has no {' or '.join(missing)} but {why}: "
            "the file was replaced or its tables dropped after Litestream initialised it"
        )
        severity = Severity.ERROR
    else:
        message = f"{ctx.db} has no {' or '.join(missing)}: Litestream has not initialised it yet"
        severity = Severity.WARNING
    report.findings.append(CODES["litestream-tables-missing"].finding(message, evidence, severity=severity))
    return report
