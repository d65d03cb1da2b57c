"""The data litefix passes around: findings, diagnoses, plans. Frozen, no I/O.

Everything the CLI prints, the JSON it emits and the repairs it plans are built
from these values, so the dry run, the report and the executor cannot disagree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

JSON = Any  # a value json.dumps accepts: str, int, float, bool, None, list, dict


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __str__(self) -> str:
        return self.value


_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.ERROR: 3}


class Strategy(StrEnum):
    """The three repairs of the design: re-restore, re-initialise, move aside."""

    RESTORE = "restore"
    INIT = "init"
    QUARANTINE = "quarantine"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Finding:
    """One fact that is wrong (or worth knowing), with the bytes that prove it."""

    code: str
    severity: Severity
    message: str
    evidence: Mapping[str, JSON] = field(default_factory=dict)
    strategies: tuple[Strategy, ...] = ()
    hint: str = ""
    inspector: str = ""  # which inspector read the evidence; set by diagnose

    def to_json(self) -> dict[str, JSON]:
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "evidence": dict(self.evidence),
            "strategies": [s.value for s in self.strategies],
            "hint": self.hint,
            "inspector": self.inspector,
        }


class RunStatus(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class InspectorRun:
    """What one inspector did: the facts it read, or why it did not run."""

    name: str
    status: RunStatus
    facts: Mapping[str, JSON] = field(default_factory=dict)
    reason: str = ""
    summary: str = ""  # a few words for a checklist line when nothing is wrong, said by the inspector itself

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {"name": self.name, "status": self.status.value}
        if self.reason:
            out["reason"] = self.reason
        if self.summary:
            out["summary"] = self.summary
        if self.facts:
            out["facts"] = dict(self.facts)
        return out


@dataclass(frozen=True)
class Diagnosis:
    """Everything litefix learnt about one database path."""

    db: str
    findings: tuple[Finding, ...]
    inspectors: tuple[InspectorRun, ...]

    @property
    def healthy(self) -> bool:
        """No warning and no error: what `litefix check` wants before a deploy."""
        return not any(f.severity.rank >= Severity.WARNING.rank for f in self.findings)

    @property
    def inspected(self) -> bool:
        """False when an inspector could not read what it needed (exit code 3)."""
        return not any(run.status is RunStatus.FAILED for run in self.inspectors)

    def at_or_above(self, threshold: Severity) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity.rank >= threshold.rank)

    def codes(self) -> list[str]:
        return [f.code for f in self.findings]

    def facts(self, inspector: str) -> Mapping[str, JSON]:
        for run in self.inspectors:
            if run.name == inspector:
                return run.facts
        return {}

    def to_json(self) -> dict[str, JSON]:
        return {
            "db": self.db,
            "healthy": self.healthy,
            "inspected": self.inspected,
            "findings": [f.to_json() for f in self.findings],
            "inspectors": [run.to_json() for run in self.inspectors],
        }


@dataclass(frozen=True)
class Step:
    """One action of a repair: what it does, to what, and why. Executed by repair.py."""

    action: str  # a key of repair.run.ACTIONS
    reason: str
    args: Mapping[str, JSON] = field(default_factory=dict)

    def describe(self) -> str:
        target = self.args.get("path") or self.args.get("pid") or self.args.get("point") or ""
        return f"{self.action}{' ' + str(target) if target else ''}: {self.reason}"

    def to_json(self) -> dict[str, JSON]:
        return {"action": self.action, "reason": self.reason, "args": dict(self.args)}


@dataclass(frozen=True)
class RepairPlan:
    """Everything a repair will do, decided before anything is touched.

    The dry run prints it, `--json` emits it, the executor runs it and the journal
    records it: one value, so what was shown is what runs.
    """

    db: str
    strategy: str
    why: str
    steps: tuple[Step, ...] = ()
    findings: tuple[str, ...] = ()  # the codes that called for it
    refused: str | None = None  # set when no safe plan exists; says what to do instead

    def to_json(self) -> dict[str, JSON]:
        return {
            "db": self.db,
            "strategy": self.strategy,
            "why": self.why,
            "findings": list(self.findings),
            "refused": self.refused,
            "steps": [s.to_json() for s in self.steps],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> RepairPlan:
        steps = tuple(Step(s["action"], s["reason"], s.get("args", {})) for s in data.get("steps", []))
        return cls(
            data["db"], data["strategy"], data["why"], steps, tuple(data.get("findings", [])), data.get("refused")
        )
