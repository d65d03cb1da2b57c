"""What the steps of one repair share while it runs, and the registry that names each step's action.

Kept apart from the executor so that the steps (steps.py) and the executor (executor.py) both
import it and never each other.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litefix.model import JSON, RepairPlan, Step
from litefix.repair.journal import Journal
from litefix.repair.quarantine import Quarantine, make_dirs, workspace

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
    def scratch_path(self) -> Path:
        """Where this repair's private files are (its Litestream config, restores), not created."""
        return workspace(self.plan.db) / "scratch" / self.id

    @property
    def scratch(self) -> Path:
        path = workspace(self.plan.db) / "scratch" / self.id
        make_dirs(path, os.path.dirname(os.path.realpath(self.plan.db)))
        return path

    def result_of(self, action: str) -> dict[str, Any]:
        for i, step in enumerate(self.plan.steps):
            if step.action == action and i in self.results:
                return self.results[i]
        return {}


@dataclass
class Undone:
    """What an undo did (a note for the user) and what it could not put back (the rollback then fails)."""

    note: str = ""
    left: list[str] = field(default_factory=list)


Action = Callable[[Run, Step], dict[str, JSON]]
ACTIONS: dict[str, Action] = {}
UNDO: dict[str, Callable[[Run, Step, dict[str, Any]], Undone]] = {}


def action(name: str) -> Callable[[Action], Action]:
    def register(fn: Action) -> Action:
        ACTIONS[name] = fn
        return fn

    return register
