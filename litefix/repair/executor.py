"""Execute a repair plan step by step, journalled, so that a kill at any point is recoverable.

Every step is written to `<db dir>/.litefix/repairs/<db>.journal` before it starts
and after it ends (fsynced JSON lines). A second litefix sees an unfinished journal
and refuses to start another repair; `--resume` re-runs the remaining steps (each
is safe to run twice) and `--rollback` undoes the completed ones in reverse. A
per-database lock (flock, released by the kernel even on SIGKILL) keeps two
repairs apart.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litefix.errors import LitefixError, Refused, RepairFailed
from litefix.model import JSON, RepairPlan
from litefix.repair import quarantine as qmod
from litefix.repair.journal import Journal, journal_path, repair_lock, repairs_dir, running_repair, unfinished
from litefix.repair.quarantine import workspace
from litefix.repair.run import ACTIONS, UNDO, Run, crash_point

__all__ = ["Journal", "journal_path", "repair_lock", "repairs_dir", "running_repair", "unfinished"]


@dataclass
class Outcome:
    plan: RepairPlan
    id: str
    status: str  # "completed", "failed", "rolled-back", "dry-run", "nothing-to-do"
    results: list[dict[str, Any]] = field(default_factory=list)
    quarantine: str | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "status": self.status,
            "plan": self.plan.to_json(),
            "results": self.results,
            "quarantine": self.quarantine,
            "error": self.error,
            "notes": self.notes,
        }


def execute(
    plan: RepairPlan, litestream_version: str | None = None, log: Callable[[str], None] = lambda _m: None
) -> Outcome:
    """Run a fresh plan under the lock, journalled from the first byte."""
    if plan.refused:
        raise Refused(plan.refused)
    try:
        repairs_dir(plan.db).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RepairFailed(
            f"cannot create litefix's workspace {workspace(plan.db)}: {_os_message(exc)}",
            "run as the user that owns the database directory; nothing was changed",
        ) from exc
    with repair_lock(plan.db):
        pending = unfinished(plan.db)
        if pending is not None:
            raise Refused(
                f"an earlier repair did not finish: {pending.describe()}",
                f"run `litefix repair {plan.db} --resume` to finish it, or `--rollback` to undo it",
            )
        repairs_dir(plan.db).mkdir(parents=True, exist_ok=True)
        q = qmod.create(plan.db, plan.strategy, plan.why, [{"code": c} for c in plan.findings], litestream_version)
        journal = Journal(journal_path(plan.db))
        journal.append({"event": "begin", "id": q.id, "plan": plan.to_json(), "quarantine": str(q.path)})
        run = Run(plan, q.id, q, journal, log=log)
        return _run_steps(run)


def resume(db: str, log: Callable[[str], None] = lambda _m: None) -> Outcome:
    with repair_lock(db):
        journal = unfinished(db)
        if journal is None:
            raise Refused(f"no unfinished repair of {db}", "nothing to resume")
        q = qmod.load(journal.begin["quarantine"])
        run = Run(journal.plan, str(journal.begin["id"]), q, journal, results=journal.done_steps(), log=log)
        journal.append({"event": "resume"})
        return _run_steps(run)


def _run_steps(run: Run) -> Outcome:
    plan = run.plan
    for i, step in enumerate(plan.steps):
        if i in run.results:
            continue
        run.step_index = i
        run.journal.append({"event": "start", "step": i, "action": step.action})
        crash_point(f"start-{i + 1}")
        run.log(f"[{i + 1}/{len(plan.steps)}] {step.describe()}")
        try:
            result = ACTIONS[step.action](run, step)
        except (LitefixError, OSError) as exc:
            message = exc.message if isinstance(exc, LitefixError) else _os_message(exc)
            run.journal.append({"event": "failed", "step": i, "error": message})
            raise RepairFailed(
                f"step {i + 1} ({step.action}) failed: {message}",
                f"nothing was lost (moved files are in {run.quarantine.path}); fix the cause and run "
                f"`litefix repair {plan.db} --resume`, or `--rollback` to undo the {len(run.results)} steps done",
            ) from exc
        run.results[i] = dict(result)
        run.journal.append({"event": "done", "step": i, "result": result})
        crash_point(f"after-{i + 1}")
    run.journal.append({"event": "end", "status": "completed"})
    run.journal.archive()
    shutil.rmtree(workspace(plan.db) / "scratch" / run.id, ignore_errors=True)
    return Outcome(plan, run.id, "completed", [run.results[i] for i in sorted(run.results)], str(run.quarantine.path))


def rollback(db: str, log: Callable[[str], None] = lambda _m: None) -> Outcome:
    """Undo the completed steps of an unfinished repair, newest first."""
    with repair_lock(db):
        journal = unfinished(db)
        if journal is None:
            raise Refused(f"no unfinished repair of {db}", "nothing to roll back")
        q = qmod.load(journal.begin["quarantine"])
        run = Run(journal.plan, str(journal.begin["id"]), q, journal, results=journal.done_steps(), log=log)
        notes = []
        started = journal.last_started()
        todo = sorted(set(run.results) | ({started} if started is not None else set()), reverse=True)
        for i in todo:
            step = run.plan.steps[i]
            undo = UNDO.get(step.action)
            if undo is not None:
                note = undo(run, step, run.results.get(i, {}))
                if note:
                    notes.append(note)
                    log(note)
        journal.append({"event": "end", "status": "rolled-back", "notes": notes})
        journal.archive()
        shutil.rmtree(workspace(db) / "scratch" / run.id, ignore_errors=True)
        return Outcome(run.plan, run.id, "rolled-back", quarantine=str(q.path), notes=notes)


def _os_message(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"the disk is full ({exc.filename or 'writing'})"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied: {exc.filename}"
    return f"{exc.strerror or exc}{': ' + str(exc.filename) if exc.filename else ''}"


# The actions live in steps.py; importing it registers them.
from litefix.repair import steps as _steps  # noqa: E402,F401
