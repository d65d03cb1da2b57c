"""Run the inspectors over one database and collect a Diagnosis.

A skipped inspector is data (its reason is reported); one that cannot read what it
needs is a failed run (exit code 3); one that crashes is a failed run naming the
bug. The report is always complete, in the spirit of `barman check`.
"""

from __future__ import annotations

import os
import time
from dataclasses import replace

from litefix.codes import CODES, Auto
from litefix.diagnose.context import Context, Options, Skip
from litefix.diagnose.inspectors import Inspector, registry
from litefix.errors import LitefixError, describe_os_error
from litefix.formats.wal import CONFIRM_PAUSE
from litefix.model import Diagnosis, Finding, InspectorRun, RunStatus, Severity, Strategy


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
        except OSError as exc:  # a file that turned unreadable mid-inspection: the user's to fix, not a bug
            error = describe_os_error(exc)
            runs.append(InspectorRun(name, RunStatus.FAILED, reason=f"{error.message} ({error.hint})"))
            continue
        except Exception as exc:  # a bug in an inspector must not hide the others' findings
            reason = f"internal error in the {name} inspector: {type(exc).__name__}: {exc} (please report it)"
            runs.append(InspectorRun(name, RunStatus.FAILED, reason=reason))
            continue
        runs.append(InspectorRun(name, RunStatus.OK, facts=report.facts, summary=report.summary))
        findings.extend(replace(f, inspector=name) for f in report.findings)
    findings = confirm_destructive(ctx, findings, inspectors or registry())
    findings.sort(key=lambda f: -f.severity.rank)
    return Diagnosis(db=ctx.db, findings=tuple(findings), inspectors=tuple(runs))


def destructive(finding: Finding) -> bool:
    """An error whose repair throws something away (a restore over the file, a quarantine): acting on
    a false one loses the newest writes, so it must be seen twice (codes.py holds the policy)."""
    code = CODES.get(finding.code)
    if code is None or finding.severity is not Severity.ERROR:
        return False
    moves = {Strategy.RESTORE, Strategy.QUARANTINE} & set(finding.strategies or code.strategies)
    return bool(moves) or code.auto in (Auto.RESTORE, Auto.LIVE_FILE)


def confirm_destructive(ctx: Context, findings: list[Finding], inspectors: dict[str, Inspector]) -> list[Finding]:
    """Run each inspector that raised a destructive error once more, on a fresh context (every file read
    again, a moment later); an error it does not raise again was a read that raced a live process
    (SQLite resetting its -wal, Litestream syncing between two listings) and becomes an inconclusive
    note with its evidence."""
    doubtful = {f.inspector for f in findings if destructive(f) and f.inspector in inspectors}
    if not doubtful:
        return findings
    time.sleep(CONFIRM_PAUSE)
    fresh = Context(ctx.db, ctx.options)
    again: dict[str, set[str]] = {}
    for name in doubtful:
        try:
            again[name] = {f.code for f in inspectors[name](fresh).findings if f.severity is Severity.ERROR}
        except Exception:
            again[name] = set()
    out = []
    for found in findings:
        f = found
        if destructive(f) and f.code not in again.get(f.inspector, set()):
            f = replace(
                found,
                severity=Severity.INFO,
                message=f"inconclusive: {f.message} — not found again on a second read a moment later "
                "(a live process changed the files between reads)",
                evidence={**f.evidence, "confirmed": False},
                hint="nothing to repair on one read: rerun `litefix diagnose` to see whether it persists",
            )
        out.append(f)
    return out
