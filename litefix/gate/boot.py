"""The safe entrypoint: restore, prepare, check, and only then the app under Litestream.

The incident's entrypoint restored and migrated its databases partly in the background and
started `litestream replicate` before that was done, so a database could be created or replaced
under a running replicator. `litefix boot` makes the order a guarantee:

1. refuse to start while any Litestream already works on these databases (the old container);
2. restore every missing database that has a replica — in parallel, but all finished before
   anything else — through litefix's restore strategy, which quarantines leftover -wal/-shm
   first (Litestream restores next to a stale -wal and SQLite merges it). No replica means a
   first deploy: skipped;
3. run `--prepare` once through the shell (migrations), and stop with its exit code if it fails;
4. run the pre-deploy gate (`litefix check`) and stop on an error;
5. start `litestream replicate` with the config as the user wrote it, wait until it has opened
   every database, then start the app; signals go to the app; when the app exits, Litestream is
   stopped after its final sync, and litefix exits with the app's own exit code.

Why litefix supervises both processes rather than `litestream replicate -exec APP`:
Litestream exits 1 whatever the child's exit code (litestream-notes §9), so the app's code
would be lost; `-exec` takes one string that Litestream splits by its own rules, not an argv;
SIGHUP kills Litestream (Go's default action, no final sync: measured on 0.3.13 and 0.5.17),
and a SIGTERM that reaches it at the same time as the app can end replication before the app's
shutdown writes. Here the app gets every signal at once and Litestream gets SIGTERM only after
the app has exited. Litestream runs in its own session, so a terminal's Ctrl-C reaches it only
through litefix; both children die with litefix (PR_SET_PDEATHSIG) if litefix is killed; and
as PID 1 of a container litefix reaps the orphans the app leaves.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from litefix.config import LitestreamConfig
from litefix.diagnose.context import Context, Options
from litefix.errors import (
    EXIT_CANNOT_INSPECT,
    EXIT_FINDINGS,
    EXIT_LITESTREAM_STOPPED,
    Refused,
    UsageError,
)
from litefix.gate.check import configured_databases, gate_options, run_check
from litefix.gate.control import ControlServer, Request, socket_path
from litefix.gate.deployment import describe_litestreams, litestream_at_work
from litefix.gate.supervise import (
    POLL,
    BootFailed,
    Log,
    Signals,
    _exit_code,
    reap,
    reap_first,
    run_app,
    start_app,
    stop_litestream,
    wait_until_idle_0_3,
)
from litefix.gate.volume import CHECKING, PAUSED, PREPARING, REPLICATING, RESTORING, VolumeLock, wait_for_replicator
from litefix.model import Severity
from litefix.system.children import signal_group, start_child
from litefix.system.litestream import Binary, Invocation, require_binary

READY_TIMEOUT = 30.0  # Litestream opens local files first; the replica is contacted later
STOP_TIMEOUT = 60.0  # its final sync may upload to a slow remote replica
APP_STOP_TIMEOUT = 30.0  # after Litestream died: how long the app gets to stop before SIGKILL
ROLE_WAIT = 300.0  # how long a role that does not replicate waits for the databases by default


@dataclass(frozen=True)
class BootOptions:
    config: str | None = None
    litestream: str | None = None
    prepare: str | None = None  # a shell command, run once before the gate
    ready_timeout: float = READY_TIMEOUT
    stop_timeout: float = STOP_TIMEOUT
    wait: float | None = None  # seconds to wait for another boot's lock (or, not replicating, for the databases)
    replicate: bool = True  # False: --no-replicate
    replicate_for: str | None = None  # a regex over the app's command line: replicate only when it matches


def replicates(options: BootOptions, app: Sequence[str]) -> bool:
    """Does this boot own replication? Rails 8's own entrypoint prepares the databases only for the
    server; a job role, `kamal app exec` or a console must neither restore nor start a Litestream."""
    if not options.replicate:
        return False
    if options.replicate_for is None:
        return True
    return re.search(options.replicate_for, shlex.join(app)) is not None


def boot(options: BootOptions, app: Sequence[str], output: Log = lambda _m: None) -> int:
    """Run every step in order; return the app's exit code (128+N when a signal N ended it).

    `output` gets one line per step, prefixed `litefix:` (they interleave with Litestream's and the
    app's), and the checklist when the gate fails.
    """

    def log(message: str) -> None:
        output(f"litefix: {message}")

    if not app:
        raise UsageError(
            "no app to run: give its command after `--`",
            "example: litefix boot --prepare 'bin/rails db:prepare' -- bin/rails server",
        )
    if options.replicate_for is not None:
        try:
            re.compile(options.replicate_for)
        except re.error as exc:
            raise UsageError(f"--replicate-for {options.replicate_for!r} is not a regular expression: {exc}") from None
    gate = gate_options(options.config, options.litestream)
    config = gate.loaded_config
    assert config is not None
    databases = configured_databases(config)
    if not replicates(options, app):
        with Signals() as signals:
            log(f"{len(databases)} databases in {config.source_path}; this role does not replicate")
            log(wait_for_replicator(databases, ROLE_WAIT if options.wait is None else options.wait, log))
            signals.stop_if_received("waiting for the databases")
            return run_app(app, signals, log)
    binary = require_binary(options.litestream)
    if config.exec:
        raise UsageError(
            f"{config.source_path} has `exec: {config.exec}`: Litestream would start a second copy of the app",
            "remove `exec:` from the config; litefix boot runs the app itself",
        )
    log(f"{len(databases)} databases in {config.source_path}; Litestream {binary.version or binary.version_text}")
    with Signals() as signals, VolumeLock(databases, shlex.join(app)) as lock:
        lock.acquire(options.wait or 0.0, log)
        refuse_if_litestream_runs(databases)
        lock.set_phase(RESTORING)
        restore_missing(gate, databases, log)
        signals.stop_if_received("restoring")
        if options.prepare:
            lock.set_phase(PREPARING)
            run_prepare(options.prepare, signals, log)
        lock.set_phase(CHECKING)
        report = run_check(gate, fail_on=Severity.ERROR, booting=True, log=log)
        signals.stop_if_received("checking")
        from litefix.render.check import check_verdict, checklist_text, noted_findings

        if not report.passed or not report.inspected:
            output(checklist_text(report))
            raise BootFailed(
                f"the pre-deploy check failed: {check_verdict(report)}",
                "fix what is marked ✘ above (each says how), then boot again; Litestream and the app were not started",
                EXIT_FINDINGS if not report.passed else EXIT_CANNOT_INSPECT,
            )
        log(f"check: {check_verdict(report)}")
        for line in noted_findings(report, Severity.WARNING):
            log(f"  {line}")
        with ControlServer(socket_path(databases)) as control:
            lock.socket = control.path
            return supervise(binary, config, databases, app, signals, options, log, lock, control)


# --- 1. nothing else may be at work ----------------------------------------------------------------


def refuse_if_litestream_runs(databases: Sequence[str]) -> None:
    found = litestream_at_work(databases)
    if found:
        raise Refused(
            f"a Litestream is already at work on these databases: {describe_litestreams(found)}",
            "stop it first (the previous container, or `kill "
            + " ".join(str(r.holder.pid) for r in found)
            + "`); restoring or migrating under it would replace files under a running replicator",
        )


# --- 2. restore what is missing ------------------------------------------------------------------------


def restore_missing(options: Options, databases: Sequence[str], log: Log) -> None:
    """Restore every missing database that has a replica, all at once; return when all are done."""
    missing = [db for db in databases if not os.path.lexists(db)]
    if not missing:
        log("every database is in place: nothing to restore")
        return
    from litefix.system.readonly import _ensure_vfs

    _ensure_vfs()  # once, before the threads (functools.cache is not a lock)
    with ThreadPoolExecutor(min(8, len(missing)), thread_name_prefix="litefix-restore") as pool:
        futures = [pool.submit(restore_one, Context(db, options), log) for db in missing]
    errors = [f.exception() for f in futures if f.exception() is not None]
    if errors:
        raise errors[0]  # type: ignore[misc]  # a LitefixError from the repair (exit 4 or 5)


def restore_one(ctx: Context, log: Log) -> str:
    """Restore one missing database; "first deploy" when its replica is empty. (A -wal left beside a
    database that does not exist yet is harmless then: SQLite discards it when it creates the file.)"""
    from litefix.repair.strategies import RepairOptions
    from litefix.repair.workflow import execute_plan, plan_repair

    name = os.path.basename(ctx.db)
    diagnosis, plan = plan_repair(ctx, RepairOptions("restore"))
    views = diagnosis.facts("replica").get("replicas") or []
    if views and views[0].get("format") in ("missing", "empty"):
        log(f"{name}: no replica yet (a first deploy): --prepare or the app creates it")
        return "first deploy"
    if plan.refused:
        raise Refused(f"cannot restore {ctx.db}: {plan.refused}", "fix that, then boot again; nothing was started")
    log(f"{name}: restoring {plan.why.rsplit('; ', 1)[-1]}")
    execute_plan(ctx, plan, lambda message: log(f"{name}: {message}"))
    log(f"{name}: restored")
    return "restored"


# --- 3. prepare -------------------------------------------------------------------------------------


def run_prepare(command: str, signals: Signals, log: Log) -> None:
    log(f"prepare: {command}")
    proc = start_child([command], shell=True)
    signals.target = proc.pid
    try:
        code = proc.wait()
    finally:
        signals.target = None
    signals.stop_if_received("preparing")
    if code != 0:
        raise BootFailed(
            f"--prepare `{command}` exited {code}; Litestream and the app were not started",
            "fix what it printed above, then boot again",
            _exit_code(code),
        )


# --- 5. the app under Litestream --------------------------------------------------------------------


def supervise(
    binary: Binary,
    config: LitestreamConfig,
    databases: Sequence[str],
    app: Sequence[str],
    signals: Signals,
    options: BootOptions,
    log: Log,
    lock: VolumeLock | None = None,
    control: ControlServer | None = None,
) -> int:
    """Litestream, then the app; until the app exits. A repair may pause both through `control`
    (gate/control.py): the app is stopped, then Litestream after its final sync, and both start again
    when the repair is done — a stop litefix ordered is never blamed on Litestream."""
    resumed: Request | None = None
    while True:
        litestream = _start_litestream(binary, config, log)
        app_proc: subprocess.Popen[bytes] | None = None
        app_code: int | None = None
        pause: Request | None = None
        try:
            wait_until_open(litestream, databases, signals, options.ready_timeout, log)
            app_proc = start_app(app)
            signals.target = app_proc.pid
            if lock is not None:
                lock.set_phase(REPLICATING)
            log(f"Litestream has opened the databases; app started (pid {app_proc.pid}): {' '.join(app)}")
            if resumed is not None:
                resumed.reply(True, f"resumed: Litestream and the app (pid {app_proc.pid}) run again")
                resumed = None
            if signals.received is not None:  # came between the two lines above
                signal_group(app_proc.pid, signals.received)
            procs = {litestream.pid: litestream, app_proc.pid: app_proc}
            while True:
                done = reap(procs, None, until=control.has_request if control else None)
                if done is not None:
                    break
                assert control is not None
                request = control.poll()
                if request is None:
                    continue
                if request.op == "pause" and signals.received is None:
                    pause = request
                    break
                if request.op != "closed":
                    request.reply(False, f"`{request.op}` while running: only `pause` is possible now")
            if pause is not None:
                log(f"{pause.who} asks for a pause: stopping the app (pid {app_proc.pid}), then Litestream")
                signals.target = None
                _stop_app(app_proc)
                if binary.generation == "0.3":
                    wait_until_idle_0_3(config, databases)
                stop_litestream(litestream, options.stop_timeout, log)
                if lock is not None:
                    lock.set_phase(PAUSED)
                pause.reply(True, "paused: the app and Litestream are stopped")
                log("paused for the repair; Litestream and the app start again when it is done")
                resumed = _wait_for_resume(control, signals)
                if resumed is None:  # stopped (docker stop) while paused: nothing is running
                    return 0
                log(f"{resumed.who or 'the repair'} is done: starting Litestream and the app again")
                continue
            assert done is not None
            pid, code = done
            if pid == litestream.pid:
                log(f"Litestream exited ({code}) while the app ran: stopping the app (pid {app_proc.pid})")
                _stop_app(app_proc)
                outside = code in (0, -signal.SIGTERM)
                raise BootFailed(
                    f"Litestream exited with {code} while the app ran, so the app was stopped: its writes would not "
                    "have been backed up",
                    "something outside boot stopped it (a `kill`, or `litefix repair --stop-litestream` from an "
                    "older litefix): to repair under boot, run `litefix repair`, which pauses boot instead"
                    if outside
                    else "Litestream's log above says why; fix it, then boot again",
                    EXIT_LITESTREAM_STOPPED,
                )
            app_code = code
            signals.target = None
            log(f"the app exited with {_exit_code(code)}; stopping Litestream after its final sync")
            if binary.generation == "0.3":
                wait_until_idle_0_3(config, databases)
        finally:
            stop_litestream(litestream, options.stop_timeout, log)
        return _exit_code(app_code)


def _start_litestream(binary: Binary, config: LitestreamConfig, log: Log) -> subprocess.Popen[bytes]:
    argv = [binary.path, "replicate", "-config", config.source_path]
    log(f"starting {' '.join(argv)}")
    return start_child(argv, Invocation(binary).environment(), new_session=True)


def _stop_app(app_proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the app's group; SIGKILL if it has not stopped within APP_STOP_TIMEOUT."""
    signal_group(app_proc.pid, signal.SIGTERM)
    if reap({app_proc.pid: app_proc}, APP_STOP_TIMEOUT) is None:
        signal_group(app_proc.pid, signal.SIGKILL)
        reap_first({app_proc.pid: app_proc})


def _wait_for_resume(control: ControlServer | None, signals: Signals) -> Request | None:
    """While paused: the repair's `resume` (or its connection closing: it died) ends the pause; a stop
    signal to boot ends boot. Orphans are reaped meanwhile."""
    assert control is not None
    while signals.received is None:
        reap({}, POLL)
        request = control.wait(POLL)
        if request is None:
            continue
        if request.op in ("resume", "closed"):
            return request
        request.reply(request.op == "pause", "already paused")
    return None


def wait_until_open(
    litestream: subprocess.Popen[bytes], databases: Sequence[str], signals: Signals, timeout: float, log: Log
) -> None:
    """Until Litestream holds every existing database open: replication has started before the app
    writes, and a Litestream that cannot start stops the boot before the app runs."""
    from litefix.system.procfs import find_open_descriptors

    present = [db for db in databases if os.path.exists(db)]
    paths = {p for db in present for p in (db, os.path.realpath(db))}
    deadline = time.monotonic() + timeout
    while True:
        code = litestream.poll()
        if code is not None:
            raise BootFailed(
                f"litestream replicate exited with {code} before it opened the databases; the app was not started",
                "Litestream's log above says why (config, replica credentials); fix it, then boot again",
                EXIT_LITESTREAM_STOPPED,
            )
        signals.stop_if_received("starting Litestream")
        scan = find_open_descriptors(paths)
        held = {d.target for h in scan.holders if h.pid == litestream.pid for d in h.descriptors}
        if all(db in held or os.path.realpath(db) in held for db in present):
            return
        if time.monotonic() > deadline:
            waiting = [db for db in present if db not in held and os.path.realpath(db) not in held]
            raise BootFailed(
                f"Litestream did not open {', '.join(waiting)} within {timeout:.0f}s; the app was not started",
                "Litestream's log above says why; fix it, then boot again",
                EXIT_LITESTREAM_STOPPED,
            )
        time.sleep(POLL)
