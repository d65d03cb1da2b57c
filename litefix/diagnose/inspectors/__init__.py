"""Inspectors: one module per thing inspected, run cheap before expensive.

Each inspector is a function `inspect(ctx) -> Report`. It reads through the
context (so every file is read once), returns facts and findings, and never
prints. It raises `Skip` when there is nothing for it to look at; any other
exception becomes a failed run in the diagnosis, never a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from litefix.diagnose.context import Context
from litefix.model import JSON, Finding


@dataclass
class Report:
    facts: dict[str, JSON] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    summary: str = ""  # what a checklist says when nothing is wrong ("12 pages of 4096 bytes, WAL mode")


Inspector = Callable[[Context], Report]


def summarized(summary: Callable[[dict[str, JSON]], str]) -> Callable[[Inspector], Inspector]:
    """Give an inspector's report its one-line summary, from its own facts: each inspector says what
    it saw, so no renderer needs to know any inspector's facts."""

    def wrap(inspect: Inspector) -> Inspector:
        def inspect_and_summarize(ctx: Context) -> Report:
            report = inspect(ctx)
            report.summary = report.summary or summary(report.facts)
            return report

        inspect_and_summarize.__doc__ = inspect.__doc__
        return inspect_and_summarize

    return wrap


def registry() -> dict[str, Inspector]:
    """The inspectors in the order they run. Imported lazily: `--help` stays fast."""
    from litefix.diagnose.inspectors import (
        binary,
        config,
        database_file,
        disk,
        integrity,
        litestream_tables,
        locks,
        meta_dir,
        processes,
        repair_journal,
        replica,
        schema_compat,
        shm,
        wal,
    )

    return {
        "repair-journal": repair_journal.inspect,
        "database-file": database_file.inspect,
        "wal": wal.inspect,
        "shm": shm.inspect,
        "config": config.inspect,
        "processes": processes.inspect,
        "meta-dir": meta_dir.inspect,
        "disk": disk.inspect,
        "litestream-tables": litestream_tables.inspect,
        "binary": binary.inspect,
        "schema-compat": schema_compat.inspect,
        "locks": locks.inspect,
        "replica": replica.inspect,
        "integrity": integrity.inspect,
    }
