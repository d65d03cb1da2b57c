"""The deployment around the databases: storage that outlives the container, replicas that no two
databases share, and no Litestream (nor another litefix boot) already at work on these files.

Each check returns a `CheckLine`, the same kind of line an inspector gives, with its own one-line
summary, so the checklist, `--json` and boot read them alike.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litefix.codes import CODES
from litefix.config import LitestreamConfig, load_config
from litefix.errors import ConfigError, os_error_sentence
from litefix.gate.report import CheckLine
from litefix.model import JSON, InspectorRun, RunStatus
from litefix.system.mounts import Mount, mount_of, storage_risk
from litefix.system.procfs import (
    Holder,
    find_open_descriptors,
    litestream_processes,
    replicate_command_db,
    restore_target,
)
from litefix.system.procfs import replicate_config_path as process_config_path

if TYPE_CHECKING:
    from litefix.gate.volume import ForeignLock, LockHolder


@dataclass(frozen=True)
class RunningLitestream:
    """A running `litestream` and what it does to the databases of this config."""

    holder: Holder
    verb: str  # replicate, restore, or another subcommand
    config: LitestreamConfig | None
    databases: tuple[str, ...]  # ours that it works on
    how: str

    def to_json(self) -> dict[str, JSON]:
        return {
            "pid": self.holder.pid,
            "command": self.holder.command,
            "databases": list(self.databases),
            "how": self.how,
        }


def find_litestreams(databases: Sequence[str]) -> list[RunningLitestream]:
    """Every running Litestream, with the ones of `databases` it holds, replicates (or waits for: its
    config lists it) or restores into; the others come back with no databases."""
    by_file = {
        p: db for db in databases for real in (db, os.path.realpath(db)) for p in (real, real + "-wal", real + "-shm")
    }
    scan = find_open_descriptors(set(by_file))
    holding: dict[int, set[str]] = {}
    for h in scan.holders:
        for d in h.descriptors:
            if d.target in by_file:
                holding.setdefault(h.pid, set()).add(by_file[d.target])
    out = []
    for holder in litestream_processes():
        verb = _subcommand(holder.cmdline)
        config = _process_config(holder) if verb == "replicate" else None
        ours: dict[str, str] = {}
        for db in databases:
            if db in holding.get(holder.pid, set()):
                ours[db] = "holds its files"
            elif verb == "replicate" and (
                replicate_command_db(holder) == db or (config is not None and config.find_db(db) is not None)
            ):
                ours[db] = f"replicates it ({config.source_path if config else 'its command line'} lists it)"
            elif verb == "restore" and restore_target(holder) == db:
                ours[db] = "restores into it"
        how = "; ".join(sorted(set(ours.values())))
        out.append(RunningLitestream(holder, verb, config, tuple(ours), how))
    return out


def _subcommand(cmdline: Sequence[str]) -> str:
    return next((a for a in cmdline[1:] if not a.startswith("-")), "")


def _process_config(holder: Holder) -> LitestreamConfig | None:
    path = process_config_path(holder)
    if not path:
        return None
    try:
        return load_config(path, cwd=holder.cwd or None, how_found="process")
    except (ConfigError, OSError):
        return None  # a config we cannot read is no evidence either way


# `litestream restore` flags that take a value (both versions).


def other_configs(config: LitestreamConfig) -> list[LitestreamConfig]:
    """Configs a plain `litestream replicate` on this machine would read, besides this one."""
    out = []
    ours = os.path.realpath(config.source_path)
    for path in (os.environ.get("LITESTREAM_CONFIG"), "/etc/litestream.yml"):
        if path and os.path.isfile(path) and os.path.realpath(path) != ours:
            try:
                out.append(load_config(path, how_found="env" if path != "/etc/litestream.yml" else "default"))
            except (ConfigError, OSError):
                continue
    return out


def check_deployment(
    config: LitestreamConfig,
    databases: Sequence[str],
    litestreams: Sequence[RunningLitestream],
    mounts: Sequence[Mount],
    booting: bool = False,
) -> tuple[CheckLine, ...]:
    from litefix.gate.volume import foreign_sqlite_locks, held_by_others

    boots = [] if booting else held_by_others(databases)  # boot holds its own lock while it checks
    foreign = {db: locks for db in databases if (locks := foreign_sqlite_locks(db))}
    lines = (
        _storage_line(config, databases, mounts),
        _replicas_line(config, databases, litestreams),
        _processes_line(litestreams, boots, foreign),
    )
    rails = rails_line(config)
    return (*lines, rails) if rails is not None else lines


def rails_line(config: LitestreamConfig, cwd: str | None = None) -> CheckLine | None:
    """A Rails app's databases (config/database.yml, RAILS_ENV or production) that the Litestream config
    does not replicate; None when there is no Rails app here (the working directory, or the directory
    above the config's, as in `<app>/config/litestream.yml`)."""
    from litefix.config.rails import RailsConfigError, find_rails_root, read_database_yml

    root = find_rails_root(cwd or os.getcwd(), os.path.dirname(os.path.dirname(os.path.abspath(config.source_path))))
    if root is None:
        return None
    try:
        app = read_database_yml(root)
    except (OSError, RailsConfigError) as exc:
        database_yml = os.path.join(root, "config", "database.yml")
        reason = (
            os_error_sentence(exc, database_yml) if isinstance(exc, OSError) else f"cannot read {database_yml}: {exc}"
        )
        return CheckLine(InspectorRun("rails", RunStatus.SKIPPED, reason=reason))
    findings = []
    unknown = []
    for db in app.databases:
        if db.path is None:
            unknown.append(db.raw)
            continue
        if config.find_db(db.path) is None:
            findings.append(
                CODES["database-not-replicated"].finding(
                    f"{db.path} ({app.environment} {db.name} in {app.source}) is not in {config.source_path}: "
                    "it is never backed up, and a redeploy starts it empty",
                    {"database_yml": app.source, "environment": app.environment, **db.to_json()},
                )
            )
    facts: dict[str, JSON] = {
        "database_yml": app.source,
        "environment": app.environment,
        "databases": [d.to_json() for d in app.databases],
    }
    if unknown:
        facts["not_expanded"] = unknown
    summary = f"{len(app.databases)} SQLite databases in {app.environment}, all replicated"
    return CheckLine(InspectorRun("rails", RunStatus.OK, facts, summary=summary), tuple(findings))


def _storage_line(config: LitestreamConfig, databases: Sequence[str], mounts: Sequence[Mount]) -> CheckLine:
    findings = []
    for db in databases:
        risk = storage_risk(db, mounts)
        if risk:
            mount = mount_of(os.path.realpath(db), mounts)
            findings.append(
                CODES["database-not-persistent"].finding(
                    f"{db} is {risk}",
                    {
                        "path": db,
                        "fs_type": mount.fs_type if mount else None,
                        "mount_point": mount.point if mount else None,
                    },
                )
            )
    replicas = {r.path for e in config.dbs for r in e.replicas if r.type == "file" and r.path}
    for path in sorted(replicas):
        risk = storage_risk(path, mounts)
        if risk:
            findings.append(CODES["replica-not-persistent"].finding(f"the replica {path} is {risk}", {"path": path}))
    facts: dict[str, JSON] = {"mounts_read": bool(mounts)}
    filesystems = sorted({m.fs_type for db in databases if (m := mount_of(db, mounts))})
    facts["filesystems"] = filesystems
    summary = "on " + (", ".join(filesystems) or "unknown filesystems") + ", not temporary"
    return CheckLine(InspectorRun("storage", RunStatus.OK, facts, summary=summary), tuple(findings))


def _replicas_line(
    config: LitestreamConfig, databases: Sequence[str], litestreams: Sequence[RunningLitestream]
) -> CheckLine:
    ours = {r.identity: db for db in databases if (e := config.find_db(db)) for r in e.replicas}
    users: dict[str, set[tuple[str, str]]] = {}  # replica identity -> {(db, where configured)}
    sources = [(config, config.source_path)] + [(c, c.source_path) for c in other_configs(config)]
    sources += [(r.config, f"pid {r.holder.pid} ({r.config.source_path})") for r in litestreams if r.config]
    for cfg, where in sources:
        for entry in cfg.dbs:
            for replica in entry.replicas:
                if replica.identity in ours:
                    users.setdefault(replica.identity, set()).add((entry.path, where))
    findings = []
    for location, used in sorted(users.items()):
        dbs = sorted({db for db, _ in used})
        if len(dbs) > 1:
            findings.append(
                CODES["replica-shared"].finding(
                    f"{location} is the replica of {len(dbs)} databases: {', '.join(dbs)}",
                    {"replica": location, "used_by": [{"db": d, "configured_in": w} for d, w in sorted(used)]},
                )
            )
    facts: dict[str, JSON] = {"replicas": len(ours), "configs": sorted({w for _, w in sources})}
    summary = f"{len(ours)} replica locations, none shared"
    return CheckLine(InspectorRun("replicas", RunStatus.OK, facts, summary=summary), tuple(findings))


def _processes_line(
    litestreams: Sequence[RunningLitestream],
    boots: Sequence[LockHolder] = (),
    foreign: Mapping[str, Sequence[ForeignLock]] | None = None,
) -> CheckLine:
    findings = []
    for holder in boots:
        findings.append(
            CODES["litestream-already-running"].finding(
                f"a {holder.describe()}: it replicates these databases, maybe from another container (its "
                "processes are not visible here)",
                holder.to_json(),
                hint="one replicator per volume: stop that container first, or boot this one with --no-replicate",
            )
        )
    for r in litestreams:
        if r.databases:
            findings.append(
                CODES["litestream-already-running"].finding(
                    f"Litestream pid {r.holder.pid} ({r.holder.command[:100]}) is already at work on "
                    f"{', '.join(r.databases)}: it {r.how}",
                    r.to_json(),
                    hint=f"stop it first (`kill {r.holder.pid}`, or stop the old container), then boot",
                )
            )
    facts: dict[str, JSON] = {"litestream_processes": [r.holder.pid for r in litestreams]}
    facts["boot_locks"] = [h.to_json() for h in boots]
    summary = "no Litestream at work on these databases"
    if foreign:
        # Evidence, not a verdict: an app in another container (a job role) holds these too.
        facts["foreign_sqlite_locks"] = {db: [lock.to_json() for lock in locks] for db, locks in foreign.items()}
        names = ", ".join(os.path.basename(db) for db in foreign)
        summary += f"; SQLite locks on {names} held from another PID namespace (another container)"
    return CheckLine(InspectorRun("processes", RunStatus.OK, facts, summary=summary), tuple(findings))


def fold_shared_replicas(lines: Sequence[CheckLine], deployment: Sequence[CheckLine]) -> tuple[CheckLine, ...]:
    """A replica shared by two databases is one deployment finding (`replica-shared`, naming both),
    not also a `litestream-duplicate` on each database's line."""
    shared = {f.evidence.get("replica") for line in deployment for f in line.findings if f.code == "replica-shared"}
    out = []
    for line in lines:
        kept = tuple(
            f
            for f in line.findings
            if not (
                f.code == "litestream-duplicate" and "shared_with" in f.evidence and f.evidence.get("replica") in shared
            )
        )
        out.append(CheckLine(line.run, kept))
    return tuple(out)


def litestream_at_work(databases: Sequence[str]) -> list[RunningLitestream]:
    """The running Litestreams that already work on these databases (boot refuses to start then)."""
    return [r for r in find_litestreams(databases) if r.databases]


def describe_litestreams(found: Sequence[RunningLitestream]) -> str:
    return "; ".join(f"pid {r.holder.pid} ({r.verb}) {r.how} ({', '.join(r.databases)})" for r in found)
