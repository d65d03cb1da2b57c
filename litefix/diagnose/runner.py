"""Run the inspectors over one database and collect a Diagnosis.

A skipped inspector is data (its reason is reported); one that cannot read what it
needs is a failed run (exit code 3); one that crashes is a failed run naming the
bug. The report is always complete, in the spirit of `barman check`.
"""

from __future__ import annotations

import os
from dataclasses import replace

from litefix.diagnose.context import Context, Options, Skip
from litefix.diagnose.inspectors import Inspector, registry
from litefix.errors import LitefixError
from litefix.model import Diagnosis, Finding, InspectorRun, RunStatus


def diagnose(
    db: str | os.PathLike[str], options: Options | None = None, inspectors: dict[str, Inspector] | None = None
) -> Diagnosis:
    return diagnose_in(Context(db, options), inspectors)


def diagnose_in(ctx: Context, inspectors: dict[str, Inspector] | None = None) -> Diagnosis:
    """Diagnose through a caller's context, whose cached reads (processes, config) a repair plan reuses."""
    runs: list[InspectorRun] = []
    findings: list[Finding] = []
    for name, inspect in (inspectors or registry()).items():
        try:
            report = inspect(ctx)
        except Skip as skip:
            runs.append(InspectorRun(name, RunStatus.SKIPPED, reason=skip.reason))
            continue
        except LitefixError as exc:
            reason = exc.message + (f" ({exc.hint})" if exc.hint else "")
            runs.append(InspectorRun(name, RunStatus.FAILED, reason=reason))
            continue
        except Exception as exc:  # a bug in an inspector must not hide the others' findings
            reason = f"internal error in the {name} inspector: {type(exc).__name__}: {exc} (please report it)"
            runs.append(InspectorRun(name, RunStatus.FAILED, reason=reason))
            continue
        runs.append(InspectorRun(name, RunStatus.OK, facts=report.facts, summary=report.summary))
        findings.extend(replace(f, inspector=name) for f in report.findings)
    findings.sort(key=lambda f: -f.severity.rank)
    return Diagnosis(db=ctx.db, findings=tuple(findings), inspectors=tuple(runs))
