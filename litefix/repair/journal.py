"""The journal and the lock of a repair: what ran, and who is running.

Kept apart from the executor so that `diagnose` can report an interrupted or running
repair by reading a small file, without importing everything a repair needs.
Every event is a fsynced JSON line in `<db dir>/.litefix/repairs/<db>.journal`; the lock
is an flock on `<db>.lock` beside it, released by the kernel even on SIGKILL.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litefix.errors import LitefixError, Refused, RepairFailed, describe_os_error
from litefix.model import RepairPlan
from litefix.repair.quarantine import fsync_dir, make_dirs, own_workspace, workspace
from litefix.system.files import JOURNAL_LIMIT, read_bytes


def repairs_dir(db: str) -> Path:
    return workspace(db) / "repairs"


def journal_path(db: str) -> Path:
    return repairs_dir(db) / f"{os.path.basename(os.path.realpath(db))}.journal"


# --- the journal --------------------------------------------------------------------------------


@dataclass
class Journal:
    path: Path
    events: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Journal | None:
        try:
            data = read_bytes(path, JOURNAL_LIMIT, "repair journal", RepairFailed)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise describe_os_error(exc, str(path)) from exc
        events = []
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                break  # a torn last line: the event it would have recorded did not happen
            if not isinstance(event, dict):
                break
            events.append(event)
        return cls(path, events)

    def append(self, event: dict[str, Any]) -> None:
        event = {**event, "time": time.time()}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(event, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.events.append(event)

    @property
    def begin(self) -> dict[str, Any]:
        return self.events[0] if self.events else {}

    @property
    def finished(self) -> bool:
        return bool(self.events) and self.events[-1].get("event") == "end"

    @property
    def plan(self) -> RepairPlan:
        return RepairPlan.from_json(self.begin["plan"])

    def readable_plan(self) -> RepairPlan | None:
        """The plan, or None when the journal was damaged (diagnose still reports the repair)."""
        try:
            plan = self.plan
            return plan if all(isinstance(st.action, str) for st in plan.steps) else None
        except (KeyError, ValueError, TypeError, AttributeError):
            return None

    def done_steps(self) -> dict[int, dict[str, Any]]:
        return {
            e["step"]: e["result"] if isinstance(e.get("result"), dict) else {}
            for e in self.events
            if e.get("event") == "done" and isinstance(e.get("step"), int)
        }

    def last_started(self) -> int | None:
        started = [e["step"] for e in self.events if e.get("event") == "start" and isinstance(e.get("step"), int)]
        return started[-1] if started else None

    def describe(self) -> str:
        plan = self.readable_plan()
        if plan is None:
            return f"repair {self.begin.get('id')} stopped; its journal {self.path} is damaged"
        done = self.done_steps()
        nxt = next((i for i in range(len(plan.steps)) if i not in done), None)
        where = f"before step {nxt + 1} ({plan.steps[nxt].action})" if nxt is not None else "after its last step"
        return f"repair {self.begin.get('id')} ({plan.strategy}) stopped {where}, {len(done)}/{len(plan.steps)} done"

    def archive(self) -> None:
        history = self.path.parent / "history"
        history.mkdir(exist_ok=True)
        os.replace(self.path, history / f"{self.begin.get('id', 'repair')}.journal")
        fsync_dir(self.path.parent)


def unfinished(db: str) -> Journal | None:
    journal = Journal.read(journal_path(db))
    return journal if journal is not None and journal.events and not journal.finished else None


def quarantined_by_unfinished(db: str) -> str | None:
    """Where an interrupted repair's quarantine holds the database itself (a restore would lose it)."""
    from litefix.repair.quarantine import load

    try:
        journal = unfinished(db)
        if journal is None:
            return None
        q = load(str(journal.begin.get("quarantine", "")))
    except (LitefixError, OSError):
        return None
    original = os.path.abspath(db)
    for entry in q.entries:
        if entry.kind == "file" and entry.original == original and os.path.lexists(q.files_dir / entry.name):
            return str(q.files_dir / entry.name)
    return None


# --- the lock -----------------------------------------------------------------------------------


def running_repair(db: str) -> int | None:
    """The pid of a litefix repair running on `db` right now (its lock is held), else None."""
    lock = repairs_dir(db) / f"{os.path.basename(os.path.realpath(db))}.lock"
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        return int(holder) if holder.isdigit() else -1
    finally:
        os.close(fd)
    return None


@contextmanager
def repair_lock(db: str) -> Iterator[None]:
    directory = repairs_dir(db)
    make_dirs(directory, os.path.dirname(os.path.realpath(db)))
    lock = directory / f"{os.path.basename(os.path.realpath(db))}.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
            raise Refused(
                f"another litefix repair of {db} is running (pid {holder or '?'})",
                "wait for it to finish; two repairs at once could undo each other",
            ) from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
        except OSError:
            pass  # a full disk: the pid is only shown to a second litefix; the flock is what counts
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                own_workspace(db)
    finally:
        os.close(fd)
