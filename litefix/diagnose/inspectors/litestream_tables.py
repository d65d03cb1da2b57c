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
from litefix.diagnose.inspectors import Report
from litefix.formats.btree import BtreeError
from litefix.model import Severity
from litefix.system.schema import SchemaError, read_schema, read_schema_from_pages


def inspect(ctx: Context) -> Report:
    header = ctx.require_header()
    report = Report()
    try:
        try:  # the pages themselves: a few reads, where SQLite would first replay the whole -wal
            if ctx.recall("wal_suspect"):
                raise BtreeError("the -wal has findings: let SQLite read it")
            schema = read_schema_from_pages(ctx.real_db, header, ctx.wal_with_pages())
            report.facts["read_by"] = "pages"
        except (BtreeError, OSError):
            schema = read_schema(ctx.db)
            report.facts["read_by"] = "sqlite"
    except SchemaError as exc:
        if ctx.wal_changed_since_scan():
            report.facts["schema"] = f"inconclusive: the -wal changed while it was read ({exc})"
            return report
        ctx.remember("schema_error", str(exc))
        report.findings.append(
            CODES["integrity-failed"].finding(
                f"SQLite cannot read the schema of {ctx.db} with its -wal applied: {exc}",
                {"sqlite_error": str(exc), "stage": "schema"},
            )
        )
        try:  # the file on its own may still say what it is
            schema = read_schema(ctx.db, ignore_wal=True)
        except SchemaError:
            return report
        report.facts["view"] = "database file alone (its -wal cannot be applied)"
    ctx.remember("schema", schema)
    report.facts["tables"] = len(schema.tables)
    report.facts["litestream_tables"] = [t for t in schema.tables if t.startswith("_litestream")]
    if schema.litestream_seq is not None:
        report.facts["litestream_seq"] = schema.litestream_seq
    missing = schema.missing_litestream_tables
    if not missing:
        return report
    managed = os.path.isdir(ctx.meta_dir) or bool(ctx.recall("litestream_running"))
    evidence: dict[str, object] = {
        "view": report.facts.get("view", "database file with its committed -wal frames"),
        "missing": list(missing),
        "tables": list(schema.tables[:20]),
        "meta_dir": ctx.meta_dir if managed else None,
    }
    if managed:
        why = (
            "a Litestream process has it open"
            if ctx.recall("litestream_running")
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
