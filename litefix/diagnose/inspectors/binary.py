"""The litestream binary this machine would run: present, which version, known defects.

Runs `litestream version` once (tens of milliseconds); the embedded SQLite is
looked up in a table of measured builds and only scanned for in unknown ones.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON, Severity


def _summary(facts: dict[str, JSON]) -> str:
    return f"litestream {facts.get('version')}" if facts.get("version") else "checked"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    report = Report()
    binary = ctx.binary
    if binary is None:
        listed = ctx.config_db is not None
        report.findings.append(
            CODES["litestream-missing"].finding(
                "no litestream binary found (--litestream, LITEFIX_LITESTREAM, PATH)",
                {"searched": ["--litestream", "LITEFIX_LITESTREAM", "PATH"], "config_lists_db": listed},
                severity=Severity.WARNING if listed else Severity.INFO,
            )
        )
        return report
    report.facts.update(binary.to_json())
    risks = binary.risks()
    if not risks:
        return report
    active = [r for r in risks if r.active]
    shown = active or risks
    report.findings.append(
        CODES["litestream-version-risk"].finding(
            f"Litestream {binary.version} ({binary.path}): " + "; ".join(r.title for r in shown),
            {
                "version": str(binary.version),
                "path": binary.path,
                "embedded_sqlite": binary.embedded_sqlite[0],
                "risks": [{"title": r.title, "detail": r.detail, "reference": r.reference} for r in risks],
            },
            severity=Severity.WARNING if active else Severity.INFO,
        )
    )
    return report
