"""Execute a repair plan step by step, journalled, so that a kill at any point is recoverable.

Every step is written to `<db dir>/.litefix/repairs/<db>.journal` before it starts
and after it ends (fsynced JSON lines). A second litefix sees an unfinished journal
and refuses to start another repair; `--resume` re-runs the remaining steps (each
is safe to run twice) and `--rollback` undoes the completed ones in reverse. A
per-database lock (flock, released by the kernel even on SIGKILL) keeps two
repairs apart.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from litefix.errors import LitefixError, NoSpace, Refused, RepairFailed, describe_os_error, os_error_sentence
from litefix.model import JSON, RepairPlan
from litefix.repair import quarantine as qmod
from litefix.repair.children import stop_leftovers
from litefix.repair.faults import crash_point
from litefix.repair.journal import Journal, journal_path, repair_lock, repairs_dir, running_repair, unfinished
from litefix.repair.quarantine import make_dirs, workspace
from litefix.repair.run import ACTIONS, UNDO, Run

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
    db_dir = os.path.dirname(os.path.realpath(plan.db))
    try:
        make_dirs(repairs_dir(plan.db), db_dir)
    except OSError as exc:
        raise describe_os_error(
            exc,
            str(workspace(plan.db)),
            "create litefix's workspace",
            RepairFailed,
            "run as the user that owns the database directory; nothing was changed",
        ) from exc
    with repair_lock(plan.db):
        pending = unfinished(plan.db)
        if pending is not None:
            raise Refused(
                f"an earlier repair did not finish: {pending.describe()}",
                f"run `litefix repair {plan.db} --resume` to finish it, or `--rollback` to undo it",
            )
        q: qmod.Quarantine | None = None
        try:
            _clear_journal(plan.db)
            q = qmod.create(plan.db, plan.strategy, plan.why, [{"code": c} for c in plan.findings], litestream_version)
            journal = Journal(journal_path(plan.db))
            journal.append({"event": "begin", "id": q.id, "plan": plan.to_json(), "quarantine": str(q.path)})
        except OSError as exc:
            if q is not None:
                shutil.rmtree(q.path, ignore_errors=True)  # litefix's own, empty: nothing was moved yet
            journal_path(plan.db).unlink(missing_ok=True)
            raise _nothing_changed(exc, str(workspace(plan.db))) from None
        run = Run(plan, q.id, q, journal, log=log)
        return _run_steps(run)


def _clear_journal(db: str) -> None:
    """Before a new repair: a finished journal a kill kept from its archive goes there; one without a
    whole event (a begin torn by a kill or a full disk: nothing ran) is removed."""
    previous = Journal.read(journal_path(db))
    if previous is None:
        return
    if previous.finished:
        previous.archive()
    else:
        previous.path.unlink(missing_ok=True)


def _nothing_changed(exc: OSError, where: str) -> LitefixError:
    error = describe_os_error(exc, where, doing="write")
    error.message = f"{error.message}; the repair did not start and nothing was changed"
    return error


def resume(db: str, log: Callable[[str], None] = lambda _m: None) -> Outcome:
    with repair_lock(db):
        run = _reopen(db, "resume", log)
        run.journal.append({"event": "resume"})
        return _run_steps(run)


def _reopen(db: str, what: str, log: Callable[[str], None]) -> Run:
    """The unfinished repair, its leftovers stopped and its manifest settled from what is on disk."""
    journal = unfinished(db)
    if journal is None:
        raise Refused(f"no unfinished repair of {db}", f"nothing to {what}")
    try:
        plan = journal.plan
        qpath = str(journal.begin["quarantine"])
        rid = str(journal.begin["id"])
        unknown = [st.action for st in plan.steps if st.action not in ACTIONS]
        if unknown:
            raise ValueError(f"it names the unknown action {unknown[0]!r}")
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise RepairFailed(
            f"the journal {journal.path} is damaged ({exc}); litefix cannot tell what the repair did",
            "its quarantine (under .litefix/quarantine/) holds every moved file: `litefix quarantine list`",
        ) from None
    q = qmod.load(qpath)
    run = Run(plan, rid, q, journal, results=journal.done_steps(), log=log)
    for pid in stop_leftovers(run.scratch_path):
        log(f"stopped pid {pid}, a Litestream an earlier run of this repair left behind")
    for name in q.reconcile():
        log(f"the manifest now records {name} as moved: it was found in {q.files_dir}")
    return run


def _run_steps(run: Run) -> Outcome:
    plan = run.plan
    i = -1
    try:
        for i, step in enumerate(plan.steps):
            if i in run.results:
                continue
            run.step_index = i
            run.journal.append({"event": "start", "step": i, "action": step.action})
            crash_point(f"start-{i + 1}")
            run.log(f"[{i + 1}/{len(plan.steps)}] {step.describe()}")
            result = ACTIONS[step.action](run, step)
            run.results[i] = dict(result)
            run.journal.append({"event": "done", "step": i, "result": result})
            crash_point(f"after-{i + 1}")
        run.journal.append({"event": "end", "status": "completed"})
        run.journal.archive()
    except (LitefixError, OSError) as exc:
        message = exc.message if isinstance(exc, LitefixError) else os_error_sentence(exc, doing="write")
        with contextlib.suppress(OSError):  # the disk may be full: the journal still says the step started
            run.journal.append({"event": "failed", "step": i, "error": message})
        failed: LitefixError = RepairFailed(
            f"step {i + 1} ({plan.steps[i].action}) failed: {message}" if i >= 0 else message,
            f"nothing was lost (moved files are in {run.quarantine.path}); fix the cause and run "
            f"`litefix repair {plan.db} --resume`, or `--rollback` to undo the {len(run.results)} steps done",
        )
        if isinstance(exc, NoSpace) or (isinstance(exc, OSError) and isinstance(describe_os_error(exc), NoSpace)):
            failed = NoSpace(failed.message, failed.hint)
        raise failed from exc
    shutil.rmtree(run.scratch_path, ignore_errors=True)
    return Outcome(plan, run.id, "completed", [run.results[i] for i in sorted(run.results)], str(run.quarantine.path))


def rollback(db: str, log: Callable[[str], None] = lambda _m: None) -> Outcome:
    """Undo the started steps of an unfinished repair, newest first, each from what is on disk now.

    Every undo is safe to run again, so a rollback that is itself interrupted, or that could
    not put something back, is finished by running `--rollback` again.
    """
    with repair_lock(db):
        run = _reopen(db, "roll back", log)
        journal = run.journal
        notes: list[str] = []
        left: list[str] = []
        started = journal.last_started()
        todo = sorted(set(run.results) | ({started} if started is not None else set()), reverse=True)
        try:
            journal.append({"event": "rollback"})
            for i in todo:
                step = run.plan.steps[i]
                undo = UNDO.get(step.action)
                crash_point(f"undo-{i + 1}")
                if undo is None:
                    continue
                done = undo(run, step, run.results.get(i, {}))
                if done.note:
                    notes.append(done.note)
                    log(done.note)
                left += done.left
        except OSError as exc:
            left.append(os_error_sentence(exc, doing="move back"))
        if left:
            with contextlib.suppress(OSError):
                journal.append({"event": "rollback-incomplete", "left": left, "notes": notes})
            raise RepairFailed(
                f"the rollback could not put everything back: {'; '.join(left)}",
                f"nothing was lost (every moved byte is in {run.quarantine.path}); fix that, then run "
                f"`litefix repair {db} --rollback` again",
            )
        journal.append({"event": "end", "status": "rolled-back", "notes": notes})
        journal.archive()
        shutil.rmtree(run.scratch_path, ignore_errors=True)
        return Outcome(run.plan, run.id, "rolled-back", quarantine=str(run.quarantine.path), notes=notes)


# The actions live in steps.py; importing it registers them.
from litefix.repair import steps as _steps  # noqa: E402,F401
