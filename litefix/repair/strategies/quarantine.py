"""Move the database and everything beside it into a quarantine, with a manifest. Nothing else."""

from __future__ import annotations

from litefix.model import RepairPlan, Step
from litefix.repair.strategies import Refusal, Situation, prelude


def plan(s: Situation) -> RepairPlan:
    paths = s.local_paths()
    if not paths:
        raise Refusal(f"nothing to quarantine: no database, -wal, -shm or meta dir at {s.db}")
    steps = prelude(s)
    steps.append(Step("quarantine", "move aside, with sha256 and size of every file in the manifest", {"paths": paths}))
    steps.append(
        Step("verify-quarantine", "every moved byte is in the quarantine and matches its hash", {"paths": paths})
    )
    return RepairPlan(s.db, "quarantine", "the path is left empty: restore it or let the app create it", tuple(steps))
