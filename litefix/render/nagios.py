"""Nagios/Icinga plugin output for `diagnose`, `check` and `verify` (`--format nagios`).

The plugin guidelines (nagios-plugins.org/doc/guidelines.html): one status line
`LITEFIX STATE - text|perfdata`, optional further lines of detail, and the exit code carries the
state — 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. Performance data is
`'label'=value[UOM];[warn];[crit];[min];[max]`. Under `--format nagios` these exit codes replace
litefix's own (a finding is 1 or 2 by its severity; "could not inspect" and usage errors are 3).
Each function returns (text, exit code); the CLI prints and exits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litefix.model import Diagnosis, Finding, RunStatus, Severity

if TYPE_CHECKING:
    from litefix.gate.check import CheckReport
    from litefix.monitor.verify import VerifyResult

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATE_NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
MAX_DETAIL_LINES = 20


@dataclass(frozen=True)
class Perf:
    """One performance-data item."""

    label: str
    value: float | int
    uom: str = ""
    warn: float | None = None
    crit: float | None = None
    minimum: float | None = None
    maximum: float | None = None

    def __str__(self) -> str:
        label = self.label if re.fullmatch(r"[A-Za-z0-9_.:-]+", self.label) else "'" + self.label.replace("'", "") + "'"
        tail = [_num(v) for v in (self.warn, self.crit, self.minimum, self.maximum)]
        while tail and not tail[-1]:
            tail.pop()
        return f"{label}={_num(self.value)}{self.uom}" + "".join(f";{t}" for t in tail)


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return f"{value:.3f}".rstrip("0")


def status_line(state: int, summary: str, perf: Sequence[Perf] = (), details: Iterable[str] = ()) -> str:
    line = f"LITEFIX {STATE_NAMES[state]} - {summary.replace('|', '/')}"
    if perf:
        line += "|" + " ".join(str(p) for p in perf)
    rest = [d.replace("|", "/") for d in details][:MAX_DETAIL_LINES]
    return "\n".join([line, *rest])


def unknown(message: str) -> tuple[str, int]:
    """For errors before any result exists (bad config, usage): UNKNOWN, exit 3, as the guidelines ask."""
    return status_line(UNKNOWN, message), UNKNOWN


def _state_of(findings: Sequence[Finding], inspected: bool) -> int:
    worst = max((f.severity.rank for f in findings), default=0)
    if worst >= Severity.ERROR.rank:
        return CRITICAL
    if worst >= Severity.WARNING.rank:
        return WARNING
    return OK if inspected else UNKNOWN


def _finding_line(f: Finding, subject: str = "") -> str:
    where = f"{subject}: " if subject else ""
    return f"{f.severity.value}: {where}{f.code}: {f.message}"


def _lag_seconds(diagnosis: Diagnosis) -> float | None:
    """Seconds the replica is behind: from a replica-behind finding, or the replica inspector's facts."""
    for f in diagnosis.findings:
        if f.code == "replica-behind" and isinstance(f.evidence.get("lag_seconds"), int | float):
            return float(f.evidence["lag_seconds"])
    facts = diagnosis.facts("replica")
    lag = facts.get("lag")
    if isinstance(lag, dict) and isinstance(lag.get("lag_seconds"), int | float):
        return float(lag["lag_seconds"])
    run = next((r for r in diagnosis.inspectors if r.name == "replica"), None)
    return 0.0 if run is not None and run.status is RunStatus.OK else None


def _wal_bytes(diagnosis: Diagnosis) -> int | None:
    sidecars = diagnosis.facts("database-file").get("sidecars")
    if isinstance(sidecars, dict):
        wal = sidecars.get("-wal")
        if isinstance(wal, dict):
            return int(wal.get("size", 0))
        return 0
    return None


def _db_perf(diagnosis: Diagnosis, max_lag: float, prefix: str = "", critical_lag: float | None = None) -> list[Perf]:
    perf = []
    lag = _lag_seconds(diagnosis)
    if lag is not None:
        perf.append(Perf(f"{prefix}lag_seconds", round(lag, 3), "s", max_lag, critical_lag, 0))
    wal = _wal_bytes(diagnosis)
    if wal is not None:
        perf.append(Perf(f"{prefix}wal_bytes", wal, "B", None, None, 0))
    counts = {s: sum(1 for f in diagnosis.findings if f.severity is s) for s in (Severity.ERROR, Severity.WARNING)}
    perf.append(Perf(f"{prefix}errors", counts[Severity.ERROR], "", None, 1, 0))
    perf.append(Perf(f"{prefix}warnings", counts[Severity.WARNING], "", 1, None, 0))
    return perf


def nagios_diagnosis(diagnosis: Diagnosis, max_lag: float, critical_lag: float | None = None) -> tuple[str, int]:
    """`critical_lag`: replica lag (seconds) above which the state is CRITICAL whatever the findings say
    (litefix's own `replica-behind` is a warning at `--max-lag`)."""
    state = _state_of(diagnosis.findings, diagnosis.inspected)
    lag = _lag_seconds(diagnosis)
    lagging = critical_lag is not None and lag is not None and lag > critical_lag
    if lagging:
        state = CRITICAL
    failed = [r for r in diagnosis.inspectors if r.status is RunStatus.FAILED]
    shown = [f for f in diagnosis.findings if f.severity.rank >= Severity.WARNING.rank]
    if lagging:
        summary = f"{diagnosis.db}: the replica is {lag:.0f}s behind (critical above {critical_lag:g}s)"
    elif shown:
        summary = f"{diagnosis.db}: " + "; ".join(f"{f.code}: {f.message}" for f in shown[:2])
        if len(shown) > 2:
            summary += f" (+{len(shown) - 2} more)"
    elif failed:
        summary = f"{diagnosis.db}: could not inspect: {failed[0].name}: {failed[0].reason}"
    else:
        summary = f"{diagnosis.db} healthy" + (f", replica lag {lag:.1f}s" if lag is not None else "")
    details = [_finding_line(f) for f in diagnosis.findings]
    details += [f"could not inspect: {r.name}: {r.reason}" for r in failed]
    return status_line(state, summary, _db_perf(diagnosis, max_lag, critical_lag=critical_lag), details), state


def nagios_check(report: CheckReport, max_lag: float = 60.0) -> tuple[str, int]:
    findings = [f for _, f in report.all_findings()]
    state = _state_of(findings, report.inspected)
    shown = [(s, f) for s, f in report.all_findings() if f.severity.rank >= Severity.WARNING.rank]
    n = len(report.databases)
    if shown:
        summary = "; ".join(f"{_short(s)}: {f.code}" for s, f in shown[:3])
        if len(shown) > 3:
            summary += f" (+{len(shown) - 3} more)"
    elif not report.inspected:
        summary = f"could not inspect every database of {report.config}"
    else:
        summary = f"{n} database{'s' if n != 1 else ''} healthy ({report.config})"
    perf: list[Perf] = []
    for result in report.databases:
        perf += _db_perf(result.diagnosis, max_lag, f"{_short(result.db)}_")
    details = [_finding_line(f, _short(s)) for s, f in report.all_findings()]
    return status_line(state, summary, perf, details), state


def nagios_verify(result: VerifyResult) -> tuple[str, int]:
    perf = [Perf("latency_seconds", round(result.latency or 0.0, 3), "s", result.max_latency, None, 0)]
    perf.append(Perf("pages_read", result.pages_read, "", None, None, 0))
    if result.ok:
        state = WARNING if result.slow else OK
        summary = f"{result.db}: row reached {result.replica} in {result.latency or 0:.2f}s at {result.position}" + (
            f" (slower than {result.max_latency:g}s)" if result.slow else ""
        )
        return status_line(state, summary, perf), state
    finding = result.finding
    summary = f"{result.db}: {finding.code}: {finding.message}" if finding else f"{result.db}: verify {result.status}"
    details = [_finding_line(f) for f in result.blocking]
    return status_line(CRITICAL, summary, perf if result.token else (), details), CRITICAL


def _short(path: str) -> str:
    return os.path.basename(path) or path
