"""Repair strategies: each turns a diagnosis into a plan of steps, or refuses and says why.

The three of the design — `restore` (delete and re-restore), `init` (initialise
through Litestream), `quarantine` (move the files aside) — plus `auto`, which picks
one from the findings. Planning never touches a file; `repair.execute` runs plans.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from litefix.diagnose.context import Context
from litefix.model import Diagnosis, RepairPlan, Severity, Step
from litefix.repair.args import CopyHeldArgs, StopLitestreamArgs
from litefix.repair.policy import Decision, choose, narrowed_rules
from litefix.replicas.reader import ReplicaTarget, replica_targets
from litefix.system.procfs import Holder
from litefix.system.schema import SchemaError, check_integrity


@dataclass(frozen=True)
class RepairOptions:
    strategy: str = "auto"
    force: bool = False  # modify a database that another process holds
    stop_litestream: bool = False  # SIGTERM the Litestream that holds it, and wait
    timestamp: str | None = None
    generation: str | None = None
    txid: str | None = None


@dataclass
class Situation:
    """What the planners need, read once by the diagnosis that preceded them."""

    ctx: Context
    diagnosis: Diagnosis
    options: RepairOptions

    @property
    def db(self) -> str:
        return self.ctx.db

    @property
    def codes(self) -> set[str]:
        return {f.code for f in self.diagnosis.at_or_above(Severity.WARNING)}

    @property
    def holders(self) -> list[Holder]:
        return [] if self.ctx.processes.error else list(self.ctx.processes.holders)

    @property
    def replica(self) -> ReplicaTarget | None:
        targets = replica_targets(self.db, self.ctx.options.replica, self.ctx.config, self.ctx.config_db)
        return targets[0] if targets else None

    @property
    def replica_format(self) -> str | None:
        views = self.diagnosis.facts("replica").get("replicas") or []
        found = views[0].get("format") if views and isinstance(views[0], dict) else None
        return str(found) if found is not None else None

    @property
    def replica_unreadable(self) -> str | None:
        """Why the replica could not be read (`replica-unreachable`'s message), or None: a restore from it
        would fail the same way, after the local files were already moved aside."""
        found = [f for f in self.diagnosis.findings if f.code == "replica-unreachable"]
        return found[0].message if found else None

    @property
    def meta_dir(self) -> str:
        return self.ctx.meta_dir

    @property
    def has_replica(self) -> bool:
        """A replica with something on it to restore from."""
        return (
            self.replica is not None
            and self.replica_format not in (None, "missing", "empty")
            and self.replica_unreadable is None
        )

    def decide(self) -> Decision:
        """What `--strategy auto` runs for these findings (repair/policy.py reads the table of codes)."""
        rules = narrowed_rules(self.diagnosis.at_or_above(Severity.WARNING))
        return choose(self.codes, self.has_replica, self.live_file_sound, rules)

    def live_file_sound(self) -> bool:
        if self.ctx.header is None:
            return False
        try:
            return check_integrity(self.ctx.db, "quick") == ["ok"]
        except SchemaError:
            return False

    def local_paths(self) -> list[str]:
        """The database and everything SQLite or Litestream keeps beside it, that exists."""
        paths = [self.ctx.real_db if os.path.lexists(self.ctx.real_db) else self.db]
        paths += [p for p in self.ctx.sidecar_paths().values()]
        paths.append(self.meta_dir)
        return [p for p in dict.fromkeys(paths) if os.path.lexists(p)]

    def source(self) -> list[str]:
        """How to name the replica to `litestream restore`."""
        replica = self.replica
        if (
            self.ctx.config is not None
            and self.ctx.config_db is not None
            and replica is not None
            and replica.via != "--replica"
        ):
            return ["-config", self.ctx.config.source_path, self.db]
        return [replica.location] if replica else []


class Refusal(Exception):
    """A planning outcome, turned into RepairPlan.refused."""


def prelude(s: Situation, *, stop: bool = True) -> list[Step]:
    """Save what processes hold of replaced files; stop Litestream when allowed; refuse the rest."""
    steps: list[Step] = []
    seen: set[tuple[int, int]] = set()  # one copy per file, however many descriptors point at it
    for holder in s.holders:
        for d in holder.descriptors:
            if (d.device, d.inode) in seen:
                continue
            current = {"db": s.ctx.db_state, "wal": s.ctx.wal_state, "shm": s.ctx.shm_state}
            role = "wal" if d.target.endswith("-wal") else "shm" if d.target.endswith("-shm") else "db"
            state = current[role]
            if d.deleted or not state.exists or (state.inode, state.device) != (d.inode, d.device):
                seen.add((d.device, d.inode))
                steps.append(
                    CopyHeldArgs(holder.pid, d.fd, d.target, role).step(
                        f"pid {holder.pid} still holds the replaced {role} file; copy it before the process stops, "
                        "so writes that went to it are not lost"
                    )
                )
    litestreams = [h for h in s.holders if h.is_litestream]
    others = [h for h in s.holders if not h.is_litestream]
    if others and not s.options.force:
        names = ", ".join(f"pid {h.pid} ({h.command[:60]})" for h in others)
        raise Refusal(f"{s.db} is open in {names}; stop it first, or pass --force if you are sure")
    if litestreams and stop:
        if not s.options.stop_litestream:
            pids = ", ".join(str(h.pid) for h in litestreams)
            raise Refusal(f"Litestream (pid {pids}) holds {s.db}; stop it first, or pass --stop-litestream")
        steps += [
            StopLitestreamArgs(h.pid, " ".join(h.cmdline)).step(
                "it holds the database; it must not run while the files change"
            )
            for h in litestreams
        ]
    return steps


Planner = Callable[[Situation], RepairPlan]


def planners() -> dict[str, Planner]:
    from litefix.repair.strategies import init, quarantine, restore

    return {"restore": restore.plan, "init": init.plan, "quarantine": quarantine.plan}


def plan(s: Situation) -> RepairPlan:
    """The plan for the requested strategy (`auto` first chooses one and says why)."""
    strategy = s.options.strategy
    why = f"requested with --strategy {strategy}"
    if strategy == "auto":
        decision = s.decide()
        why = decision.why
        if decision.strategy is None:
            return RepairPlan(
                s.db, "auto", why, findings=tuple(sorted(s.codes)), refused=why if decision.refused else None
            )
        strategy = decision.strategy.value
    try:
        made = planners()[strategy](s)
    except Refusal as exc:
        return RepairPlan(s.db, strategy, why, findings=tuple(sorted(s.codes)), refused=str(exc))
    return RepairPlan(made.db, made.strategy, f"{why}; {made.why}", made.steps, tuple(sorted(s.codes)))


def prepare(ctx: Context, options: RepairOptions) -> tuple[Diagnosis, Situation, RepairPlan]:
    """Diagnose, then plan. Nothing is changed."""
    from litefix.diagnose.runner import diagnose_in

    diagnosis = diagnose_in(ctx)
    situation = Situation(ctx, diagnosis, options)
    return diagnosis, situation, plan(situation)


# After a repair Litestream is deliberately not running (litefix stopped it, or it is the
# user's supervisor's job to start it), so its absence is expected, not a failure.
EXPECTED_AFTER_REPAIR = {"litestream-not-running"}


def healthy_after(diagnosis: Diagnosis) -> bool:
    return not [f for f in diagnosis.at_or_above(Severity.WARNING) if f.code not in EXPECTED_AFTER_REPAIR]
