"""What the steps of one repair share while it runs, and the registry that names each step's action.

Kept apart from the executor so that the steps (steps.py) and the executor (executor.py) both
import it and never each other.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litefix.model import JSON, RepairPlan, Step
from litefix.repair.journal import Journal
from litefix.repair.quarantine import Quarantine, workspace


def crash_point(label: str) -> None:
    """Fault injection for the crash tests: LITEFIX_CRASH_AT=<label> SIGKILLs litefix right here."""
    if os.environ.get("LITEFIX_CRASH_AT") == label:
        os.kill(os.getpid(), signal.SIGKILL)


# --- running steps ------------------------------------------------------------------------------


@dataclass
class Run:
    """What the actions of one repair share: the plan, its quarantine, its scratch directory."""

    plan: RepairPlan
    id: str
    quarantine: Quarantine
    journal: Journal
    step_index: int = 0
    results: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: Callable[[str], None] = lambda _msg: None

    @property
    def scratch(self) -> Path:
        path = workspace(self.plan.db) / "scratch" / self.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def result_of(self, action: str) -> dict[str, Any]:
        for i, step in enumerate(self.plan.steps):
            if step.action == action and i in self.results:
                return self.results[i]
        return {}


Action = Callable[[Run, Step], dict[str, JSON]]
ACTIONS: dict[str, Action] = {}
UNDO: dict[str, Callable[[Run, Step, dict[str, Any]], str]] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register
