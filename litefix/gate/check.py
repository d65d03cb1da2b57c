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
import shlex
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from litefix.config import LitestreamConfig, discover_config
from litefix.diagnose.context import Context, Options
from litefix.diagnose.runner import diagnose_in
from litefix.errors import LitefixError, UsageError, describe_os_error
from litefix.gate.deployment import check_deployment, find_litestreams, fold_shared_replicas
from litefix.gate.report import CheckLine, CheckReport, DatabaseResult, Fix
from litefix.model import Diagnosis, Finding, InspectorRun, RunStatus, Severity
from litefix.system.mounts import read_mounts

if TYPE_CHECKING:
    from litefix.repair.strategies import Situation

__all__ = ["CheckLine", "CheckReport", "DatabaseResult", "Fix", "gate_options", "run_check"]

# Findings `diagnose` reports that mean something else before boot (see gate_view).
NOT_YET_EXPECTED = "expected before boot: `litefix boot` (or your entrypoint) starts Litestream last"
MAX_THREADS = 8


# --- the config and its databases ---------------------------------------------------------------


def gate_options(config: str | None = None, litestream: str | None = None) -> Options:
    """Options for every diagnosis of the gate: the config loaded once (a broken one is exit 2), and
    found the way Litestream finds it when not named."""
    options = Options.from_cli(config=config, litestream=litestream)
    if options.loaded_config is None:
        found = discover_config(None)
        if found is None:
            raise UsageError(
                "no Litestream config found (--config, LITESTREAM_CONFIG, ./litestream.yml, ./config/litestream.yml, "
                "/etc/litestream.yml)",
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
    # The skipped restore: the missing tables are then not "expected before the first replicate".
    not_restored = any(f.code == "replica-not-restored" for line in lines for f in line.findings)
    out = []
    for line in lines:
        findings = tuple(_before_boot(f, replica_empty, booting, not_restored) for f in line.findings)
        out.append(CheckLine(line.run, tuple(sorted(findings, key=lambda f: -f.severity.rank))))
    return tuple(out)


def _before_boot(f: Finding, replica_empty: bool, booting: bool, not_restored: bool = False) -> Finding:
    if booting and f.code == "litestream-version-risk" and "AWS_CA_BUNDLE" in f.evidence:
        return replace(f, severity=Severity.INFO, hint="litefix boot starts Litestream without AWS_CA_BUNDLE")
    if f.code == "litestream-not-running":
        return replace(f, severity=Severity.INFO, hint=NOT_YET_EXPECTED)
    if (
        f.code == "litestream-tables-missing"
        and f.severity is Severity.WARNING
        and not f.evidence.get("meta_dir")
        and not not_restored
    ):
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
        deployment = check_deployment(config, databases, litestreams, read_mounts(), booting)
        busy = {db for r in litestreams for db in r.databases}
        if any(f.code == "litestream-already-running" and "lock" in f.evidence for x in deployment for f in x.findings):
            busy |= set(databases)  # a litefix boot replicates them, perhaps from another container
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
                reason = (
                    exc.message
                    if isinstance(exc, LitefixError)
                    else describe_os_error(exc).message
                    if isinstance(exc, OSError)
                    else f"{type(exc).__name__}: {exc}"
                )
                failed = InspectorRun("gate", RunStatus.FAILED, reason=f"--fix or planning failed: {reason}")
                item.lines = (*item.lines, CheckLine(failed))

        list(pool.map(finish, work))
    binary = work[0].ctx.binary if work else None
    version = f"{binary.version or binary.version_text} ({binary.path})" if binary else None
    results = tuple(DatabaseResult(w.db, w.lines, w.fix, w.next_step) for w in work)
    return CheckReport(config.source_path, version, threshold, results, deployment, time.monotonic() - started)
