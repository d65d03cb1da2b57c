"""What the pre-deploy gate reports: one line per inspector or deployment check, per database, and
the whole report. Plain values: `check`, `boot`, `--json` and every renderer read the same ones."""

from __future__ import annotations

from dataclasses import dataclass

from litefix.model import JSON, Diagnosis, Finding, InspectorRun, RunStatus, Severity


@dataclass(frozen=True)
class CheckLine:
    """One line of the checklist: one inspector (or deployment check) and what it found."""

    run: InspectorRun
    findings: tuple[Finding, ...] = ()

    @property
    def name(self) -> str:
        return self.run.name


@dataclass(frozen=True)
class Fix:
    """What `--fix` did to one database."""

    strategy: str
    status: str  # "completed", "refused" or "failed"
    detail: str
    quarantine: str | None = None

    def to_json(self) -> dict[str, JSON]:
        return {"strategy": self.strategy, "status": self.status, "detail": self.detail, "quarantine": self.quarantine}


@dataclass(frozen=True)
class DatabaseResult:
    db: str
    lines: tuple[CheckLine, ...]
    fix: Fix | None = None
    next_step: str | None = None  # the `litefix repair …` command, or what to do instead

    @property
    def findings(self) -> tuple[Finding, ...]:
        found = [f for line in self.lines for f in line.findings]
        return tuple(sorted(found, key=lambda f: -f.severity.rank))

    @property
    def inspected(self) -> bool:
        return all(line.run.status is not RunStatus.FAILED for line in self.lines)

    @property
    def diagnosis(self) -> Diagnosis:
        """The gate's view as a Diagnosis (same JSON shape as `litefix diagnose --json`)."""
        return Diagnosis(self.db, self.findings, tuple(line.run for line in self.lines))

    def to_json(self) -> dict[str, JSON]:
        out = self.diagnosis.to_json()
        out["fix"] = self.fix.to_json() if self.fix else None
        out["next_step"] = self.next_step
        return out


@dataclass(frozen=True)
class CheckReport:
    config: str
    litestream: str | None  # "0.5.17 (/usr/local/bin/litestream)", or None when there is none
    fail_on: Severity
    databases: tuple[DatabaseResult, ...]
    deployment: tuple[CheckLine, ...]
    seconds: float = 0.0

    def all_findings(self) -> list[tuple[str, Finding]]:
        """(subject, finding): the database path, or "deployment"."""
        out = [(d.db, f) for d in self.databases for f in d.findings]
        return out + [("deployment", f) for line in self.deployment for f in line.findings]

    @property
    def failing(self) -> list[tuple[str, Finding]]:
        return [(s, f) for s, f in self.all_findings() if f.severity.rank >= self.fail_on.rank]

    @property
    def passed(self) -> bool:
        return not self.failing

    @property
    def inspected(self) -> bool:
        return all(d.inspected for d in self.databases)

    def counts(self) -> dict[Severity, int]:
        found = self.all_findings()
        return {s: sum(1 for _, f in found if f.severity is s) for s in Severity}

    def to_json(self) -> dict[str, JSON]:
        return {
            "config": self.config,
            "litestream": self.litestream,
            "fail_on": self.fail_on.value,
            "passed": self.passed,
            "inspected": self.inspected,
            "seconds": round(self.seconds, 3),
            "counts": {s.value: n for s, n in self.counts().items()},
            "databases": [d.to_json() for d in self.databases],
            "deployment": [
                {**line.run.to_json(), "findings": [f.to_json() for f in line.findings]} for line in self.deployment
            ],
        }
