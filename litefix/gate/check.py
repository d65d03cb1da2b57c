"""The pre-deploy gate: every database of a Litestream config at once, and the deployment around them.

`litefix check` prints the result as a checklist; `litefix boot` runs the same gate before it
starts Litestream (barman's `check`, and `backup`'s silent pre-flight). Each database gets a full
diagnosis in its own thread, through its own `Context`; a diagnosis that crashes is a failed
line, so the report is always complete.

Before a deploy Litestream is *meant* not to run, so the gate reads a few findings differently
from `diagnose` (`litestream-not-running` is a note, not a warning) and adds what only makes
sense for a whole deployment: databases on storage that does not outlive the container, two
databases sharing one replica, and a Litestream already at work on these files (the previous
container, a leftover `replicate`, a background restore) — the incident's precondition.

`fix=True` applies only what needs no human: restore a missing database from its replica, and
let Litestream re-initialise a file whose local state went stale. Everything else fails the gate
with the exact `litefix repair …` command to run.
"""

from __future__ import annotations

import os
import re
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from litefix.codes import CODES
from litefix.config import LitestreamConfig, discover_config, load_config
from litefix.diagnose.context import Context, Options
from litefix.diagnose.runner import diagnose_in
from litefix.errors import ConfigError, LitefixError, UsageError
from litefix.model import JSON, Diagnosis, Finding, InspectorRun, RunStatus, Severity
from litefix.system.procfs import Holder, find_open_descriptors, litestream_processes, replicate_command_db
from litefix.system.procfs import replicate_config_path as process_config_path

if TYPE_CHECKING:
    from litefix.repair.strategies import Situation

# Findings `diagnose` reports that mean something else before boot (see gate_view).
NOT_YET_EXPECTED = "expected before boot: `litefix boot` (or your entrypoint) starts Litestream last"
MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs"})
LAYER_FILESYSTEMS = frozenset({"overlay", "overlayfs", "aufs", "fuse-overlayfs"})
TMP_DIRECTORIES = ("/tmp", "/var/tmp")
MAX_THREADS = 8


# --- the report -------------------------------------------------------------------------------


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


# --- the config and its databases ---------------------------------------------------------------


def gate_options(config: str | None = None, litestream: str | None = None) -> Options:
    """Options for every diagnosis of the gate: the config loaded once (a broken one is exit 2), and
    found the way Litestream finds it when not named."""
    options = Options.from_cli(config=config, litestream=litestream)
    if options.loaded_config is None:
        found = discover_config(None)
        if found is None:
            raise UsageError(
                "no Litestream config found (--config, LITESTREAM_CONFIG, ./litestream.yml, /etc/litestream.yml)",
                "pass --config PATH: the gate checks every database the config lists",
            )
        options = replace(options, config=found.source_path, loaded_config=found)
    return options


def configured_databases(config: LitestreamConfig) -> list[str]:
    """Every database the config replicates: its `dbs:` paths, and the SQLite files a 0.5 `dir:`
    entry matches right now."""
    found: list[str] = []
    for entry in config.dbs:
        if not entry.dir:
            found.append(entry.path)
            continue
        for path in _files_under(entry.path, entry.recursive):
            if config.find_db(path, follow_symlinks=False) is not None and _is_sqlite(path):
                found.append(path)
    if not found:
        raise UsageError(f"{config.source_path} lists no database", "add the databases to `dbs:` in the config")
    return list(dict.fromkeys(found))


def _files_under(directory: str, recursive: bool) -> Iterable[str]:
    for root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith(".")] if recursive else []
        yield from (os.path.join(root, name) for name in sorted(files) if not name.startswith("."))


def _is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\0"
    except OSError:
        return False


# --- one database -------------------------------------------------------------------------------


def diagnose_by_inspector(ctx: Context) -> tuple[CheckLine, ...]:
    """One diagnosis, split into checklist lines: one line per inspector, with the findings it raised."""
    diagnosis = diagnose_in(ctx)
    return tuple(
        CheckLine(run, tuple(f for f in diagnosis.findings if f.inspector == run.name)) for run in diagnosis.inspectors
    )


def gate_view(lines: Sequence[CheckLine], booting: bool = False) -> tuple[CheckLine, ...]:
    """What the findings mean before boot, when Litestream is supposed to be stopped (`booting`: litefix
    boot itself starts Litestream next, with the environment `Invocation` gives it)."""
    replica_empty = _replica_format(lines) in ("missing", "empty")
    out = []
    for line in lines:
        findings = tuple(_before_boot(f, replica_empty, booting) for f in line.findings)
        out.append(CheckLine(line.run, tuple(sorted(findings, key=lambda f: -f.severity.rank))))
    return tuple(out)


def _before_boot(f: Finding, replica_empty: bool, booting: bool) -> Finding:
    if booting and f.code == "litestream-version-risk" and "AWS_CA_BUNDLE" in f.evidence:
        return replace(f, severity=Severity.INFO, hint="litefix boot starts Litestream without AWS_CA_BUNDLE")
    if f.code == "litestream-not-running":
        return replace(f, severity=Severity.INFO, hint=NOT_YET_EXPECTED)
    if f.code == "litestream-tables-missing" and f.severity is Severity.WARNING and not f.evidence.get("meta_dir"):
        return replace(
            f,
            severity=Severity.INFO,
            hint="expected before the first `replicate`: Litestream creates them in a file a migration made "
            "(measured on 0.3.13 and 0.5.17)",
        )
    if f.code == "database-missing" and replica_empty:
        return replace(
            f,
            severity=Severity.WARNING,
            message=f.message + ", and nothing at its replica: a first deploy?",
            hint="on a first deploy the app's migrations create it and Litestream then replicates it; otherwise "
            "check the replica settings before the app starts with an empty database",
        )
    if f.code == "litestream-missing":
        return replace(f, severity=Severity.ERROR, hint="without it nothing is replicated: " + f.hint)
    return f


def _replica_format(lines: Sequence[CheckLine]) -> str | None:
    for line in lines:
        if line.name == "replica":
            views = line.run.facts.get("replicas") or []
            return str(views[0].get("format")) if views else None
    return None


def _failing_codes(lines: Sequence[CheckLine], threshold: Severity = Severity.WARNING) -> set[str]:
    return {f.code for line in lines for f in line.findings if f.severity.rank >= threshold.rank}


def choose_fix(ctx: Context, lines: Sequence[CheckLine], blocked: bool) -> str | None:
    """The repair `--fix` may run on its own, or None (then a human decides): auto's choice, when the
    table of codes marks every failing code as safe unattended (repair/policy.py)."""
    from litefix.repair.policy import unattended

    codes = _failing_codes(lines)
    if blocked or not codes:
        return None
    decision = _situation(ctx, lines).decide()
    return decision.strategy.value if decision.strategy and unattended(codes, decision) else None


def _situation(ctx: Context, lines: Sequence[CheckLine]) -> Situation:
    from litefix.repair.strategies import RepairOptions, Situation

    diagnosis = Diagnosis(ctx.db, tuple(f for line in lines for f in line.findings), tuple(x.run for x in lines))
    return Situation(ctx, diagnosis, RepairOptions("auto"))


def apply_fix(ctx: Context, strategy: str, log: Callable[[str], None]) -> Fix:
    """Plan and run one repair through the workflow `litefix repair` uses (journalled, undoable)."""
    from litefix.repair.strategies import RepairOptions
    from litefix.repair.workflow import execute_plan, plan_repair

    name = os.path.basename(ctx.db)
    _, plan = plan_repair(ctx, RepairOptions(strategy))
    if plan.refused:
        return Fix(strategy, "refused", plan.refused)
    if not plan.steps:
        return Fix(strategy, "refused", f"nothing to do: {plan.why}")
    try:
        report = execute_plan(ctx, plan, lambda message: log(f"{name}: {message}"))
    except LitefixError as exc:
        return Fix(strategy, "failed", exc.message + (f" ({exc.hint})" if exc.hint else ""))
    return Fix(strategy, report.outcome.status, plan.why.rsplit("; ", 1)[-1], report.outcome.quarantine)


def next_step(ctx: Context, lines: Sequence[CheckLine], config_path: str) -> str | None:
    """The `litefix repair …` command that fixes this database, or why there is none."""
    db, cfg = shlex.quote(ctx.db), shlex.quote(config_path)
    if "repair-unfinished" in _failing_codes(lines):
        return f"litefix repair {db} --resume   (or --rollback to undo it)"
    situation = _situation(ctx, lines)
    decision = situation.decide()
    if decision.refused:
        return (
            f"no safe automatic repair ({decision.why}); look closer: litefix diagnose {db} --config {cfg} "
            "--verify-restore"
        )
    if decision.strategy is None:
        return None
    stop = " --stop-litestream" if any(h.is_litestream for h in situation.holders) else ""
    return f"litefix repair {db} --config {cfg} --strategy {decision.strategy}{stop}"


# --- the deployment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mount:
    point: str
    fs_type: str
    source: str


def read_mounts(path: str = "/proc/self/mountinfo") -> tuple[Mount, ...]:
    """The mount table as this process sees it (later lines stack over earlier ones)."""
    mounts = []
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return ()
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) > sep + 2:
            mounts.append(Mount(_unescape(fields[4]), fields[sep + 1], _unescape(fields[sep + 2])))
    return tuple(mounts)


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_of(path: str, mounts: Sequence[Mount]) -> Mount | None:
    real = os.path.realpath(path)
    best: Mount | None = None
    for mount in mounts:  # the last mount on the longest matching point is the one in effect
        inside = real == mount.point or real.startswith(mount.point.rstrip("/") + "/")
        if inside and (best is None or len(mount.point) >= len(best.point)):
            best = mount
    return best


def storage_risk(path: str, mounts: Sequence[Mount]) -> str | None:
    """Why `path` does not outlive a reboot or a redeploy (a phrase: "`path` is …"), or None when it does."""
    real = os.path.realpath(path)
    mount = mount_of(real, mounts)
    if mount is not None and mount.fs_type in MEMORY_FILESYSTEMS:
        return f"on {mount.fs_type} (memory, mounted at {mount.point}): gone after a reboot"
    if mount is not None and mount.fs_type in LAYER_FILESYSTEMS:
        return (
            f"in the container's {mount.fs_type} layer (mounted at {mount.point}), not on a volume: gone when the "
            "container is replaced"
        )
    for tmp in TMP_DIRECTORIES:
        if real.startswith(tmp + "/"):
            on = f" on {mount.fs_type}" if mount else ""
            return f"under {tmp}{on}, not on a volume: cleared at boot or by age by the OS's tmp cleaner"
    return None


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
            elif verb == "restore" and _restore_target(holder) == db:
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
_RESTORE_VALUE_FLAGS = {
    "config",
    "o",
    "generation",
    "index",
    "timestamp",
    "txid",
    "parallelism",
    "replica",
    "integrity-check",
    "level",
}


def _restore_target(holder: Holder) -> str | None:
    """The path a `litestream restore` writes: its -o, else the database it names."""
    args = list(holder.cmdline)
    rest = args[args.index("restore") + 1 :] if "restore" in args else []
    output, positional, i = None, [], 0
    while i < len(rest):
        name, eq, value = rest[i].lstrip("-").partition("=")
        if rest[i].startswith("-") and name in _RESTORE_VALUE_FLAGS:
            if not eq and i + 1 < len(rest):
                i += 1
                value = rest[i]
            if name == "o":
                output = value
        elif not rest[i].startswith("-"):
            positional.append(rest[i])
        i += 1
    target = output or (positional[-1] if positional and "://" not in positional[-1] else None)
    if target is None:
        return None
    return target if os.path.isabs(target) else os.path.normpath(os.path.join(holder.cwd or "/", target))


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
) -> tuple[CheckLine, ...]:
    return (
        _storage_line(config, databases, mounts),
        _replicas_line(config, databases, litestreams),
        _processes_line(litestreams),
    )


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
    ours = {r.location: db for db in databases if (e := config.find_db(db)) for r in e.replicas}
    users: dict[str, set[tuple[str, str]]] = {}  # replica location -> {(db, where configured)}
    sources = [(config, config.source_path)] + [(c, c.source_path) for c in other_configs(config)]
    sources += [(r.config, f"pid {r.holder.pid} ({r.config.source_path})") for r in litestreams if r.config]
    for cfg, where in sources:
        for entry in cfg.dbs:
            for replica in entry.replicas:
                if replica.location in ours:
                    users.setdefault(replica.location, set()).add((entry.path, where))
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


def _processes_line(litestreams: Sequence[RunningLitestream]) -> CheckLine:
    findings = []
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
    summary = "no Litestream at work on these databases"
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


# --- the gate -----------------------------------------------------------------------------------


@dataclass
class _Work:
    """One database on its way through the gate (mutable while the threads run)."""

    db: str
    ctx: Context
    lines: tuple[CheckLine, ...] = ()
    fix: Fix | None = None
    next_step: str | None = None


def run_check(
    options: Options,
    *,
    fail_on: Severity | str = Severity.ERROR,
    fix: bool = False,
    booting: bool = False,
    log: Callable[[str], None] = lambda _message: None,
) -> CheckReport:
    """Diagnose every database of the config in parallel, check the deployment, optionally apply the
    safe fixes, and return the whole report. Never raises for what it finds. `booting`: the caller
    (litefix boot) starts Litestream itself right after, through `Invocation`."""
    from litefix.system.readonly import _ensure_vfs

    started = time.monotonic()
    threshold = Severity(fail_on)
    config = options.loaded_config
    if config is None:
        options = gate_options(options.config, options.litestream)
        config = options.loaded_config
    assert config is not None
    databases = configured_databases(config)
    _ensure_vfs()  # registered once here: functools.cache is not a lock, and the threads all need it
    work = [_Work(db, Context(db, options)) for db in databases]
    with ThreadPoolExecutor(min(MAX_THREADS, len(work)), thread_name_prefix="litefix-check") as pool:
        for item, lines in zip(
            work, pool.map(lambda w: gate_view(diagnose_by_inspector(w.ctx), booting), work), strict=True
        ):
            item.lines = lines
        litestreams = find_litestreams(databases)
        deployment = check_deployment(config, databases, litestreams, read_mounts())
        busy = {db for r in litestreams for db in r.databases}
        shared = {
            str(entry.get("db"))
            for line in deployment
            for f in line.findings
            if f.code == "replica-shared"
            for entry in f.evidence.get("used_by", [])
        }

        def finish(item: _Work) -> None:
            try:
                strategy = choose_fix(item.ctx, item.lines, blocked=item.db in (busy | shared)) if fix else None
                if strategy is not None:
                    log(f"{os.path.basename(item.db)}: --fix runs `{strategy}`")
                    item.fix = apply_fix(item.ctx, strategy, log)
                    item.ctx = Context(item.db, options)
                    item.lines = gate_view(diagnose_by_inspector(item.ctx), booting)
                item.lines = fold_shared_replicas(item.lines, deployment)
                if _failing_codes(item.lines, threshold):
                    item.next_step = next_step(item.ctx, item.lines, config.source_path)
            except Exception as exc:  # a crash is a failed line (exit 3), never a missing report
                reason = exc.message if isinstance(exc, LitefixError) else f"{type(exc).__name__}: {exc}"
                failed = InspectorRun("gate", RunStatus.FAILED, reason=f"--fix or planning failed: {reason}")
                item.lines = (*item.lines, CheckLine(failed))

        list(pool.map(finish, work))
    binary = work[0].ctx.binary if work else None
    version = f"{binary.version or binary.version_text} ({binary.path})" if binary else None
    results = tuple(DatabaseResult(w.db, w.lines, w.fix, w.next_step) for w in work)
    return CheckReport(config.source_path, version, threshold, results, deployment, time.monotonic() - started)


def litestream_at_work(databases: Sequence[str]) -> list[RunningLitestream]:
    """The running Litestreams that already work on these databases (boot refuses to start then)."""
    return [r for r in find_litestreams(databases) if r.databases]


def describe_litestreams(found: Sequence[RunningLitestream]) -> str:
    return "; ".join(f"pid {r.holder.pid} ({r.verb}) {r.how} ({', '.join(r.databases)})" for r in found)
