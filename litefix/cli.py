"""The command line: parse, call the library, render, exit. No logic lives here."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from typer.core import TyperCommand

from litefix import __version__
from litefix.errors import (
    EXIT_CANNOT_INSPECT,
    EXIT_FINDINGS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_REFUSED,
    LitefixError,
    describe_os_error,
)

if TYPE_CHECKING:
    from litefix.model import JSON

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Diagnose and repair SQLite databases replicated with Litestream, from evidence.",
)


class PlainUsage(TyperCommand):
    """Usage lines as a man page writes them (`litefix diagnose [OPTIONS] DB`): typer wraps required
    arguments in braces (`{db}`), which reads like a set to choose from."""

    def collect_usage_pieces(self, ctx: Any) -> list[str]:  # typer's own click Context
        pieces = super().collect_usage_pieces(ctx)
        return [p[1:-1] if p.startswith("{") and p.endswith("}") else p for p in pieces]


class FailOn(StrEnum):
    info = "info"
    warning = "warning"
    error = "error"


class IntegrityMode(StrEnum):
    quick = "quick"
    full = "full"


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    nagios = "nagios"


FormatOpt = Annotated[
    OutputFormat | None,
    typer.Option(
        "--format",
        help="text (default), json (as --json), or nagios: one plugin status line, exit 0 OK, 1 WARNING, "
        "2 CRITICAL, 3 UNKNOWN.",
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of a table.")]
ConfigOpt = Annotated[
    str | None, typer.Option("--config", help="litestream.yml (default: LITESTREAM_CONFIG, ./litestream.yml, /etc).")
]
LitestreamOpt = Annotated[
    str | None, typer.Option("--litestream", help="The litestream binary (default: LITEFIX_LITESTREAM, then PATH).")
]
FailOnOpt = Annotated[FailOn, typer.Option("--fail-on", help="Exit 1 when a finding has this severity or worse.")]
FixFlag = Annotated[bool, typer.Option("--fix", help="Apply the repairs that are safe without a human.")]
DbArg = Annotated[str, typer.Argument(metavar="DB", help="Path to the SQLite database file.", show_default=False)]
ReplicaOpt = Annotated[str | None, typer.Option("--replica", help="Replica URL or path (default: the config's).")]
VerifyOpt = Annotated[bool, typer.Option("--verify-restore", help="Restore-test the replica (temp file, integrity).")]
PrepareOpt = Annotated[str | None, typer.Option("--prepare", help="A shell command run once before the check.")]
AppArgv = Annotated[list[str], typer.Argument(metavar="-- APP [ARGS]...", help="After --: the app and its arguments.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"litefix {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Diagnose and repair SQLite databases replicated with Litestream, from evidence."""


@app.command(cls=PlainUsage)
def diagnose(
    db: DbArg,
    json_out: JsonFlag = False,
    fail_on: FailOnOpt = FailOn.error,
    integrity: Annotated[
        IntegrityMode | None,
        typer.Option("--integrity", help="Also run PRAGMA quick_check or integrity_check (reads every page)."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every inspector and its facts.")] = False,
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    replica: ReplicaOpt = None,
    compare: Annotated[bool, typer.Option("--compare", help="Compare page checksums with the replica.")] = False,
    verify_restore: VerifyOpt = False,
    max_lag: Annotated[float, typer.Option("--max-lag", help="Seconds of replica lag before a warning.")] = 60.0,
    max_age: Annotated[float, typer.Option("--max-age", help="Seconds since the newest replica object.")] = 86400.0,
    critical_lag: Annotated[
        float | None,
        typer.Option("--critical-lag", help="--format nagios: replica lag in seconds that is CRITICAL."),
    ] = None,
    output: FormatOpt = None,
) -> None:
    """Read the real state of a database and its replica and say what is wrong, without changing a byte.

    Example: litefix diagnose /data/production_cable.sqlite3 --config /etc/litestream.yml --compare
    """
    from litefix.diagnose.context import Options
    from litefix.diagnose.runner import diagnose as run
    from litefix.model import Severity
    from litefix.render.diagnosis import diagnosis_text

    mode = integrity.value if integrity else None
    with _nagios_unknown(output):
        options = Options.from_cli(
            integrity=mode,
            config=config,
            litestream=litestream,
            replica=replica,
            compare=compare,
            verify_restore=verify_restore,
            max_lag=max_lag,
            max_age=max_age,
        )
        with _progress_on_terminal(json_out or output in (OutputFormat.json, OutputFormat.nagios)):
            diagnosis = run(db, options)

    def nagios() -> tuple[str, int]:
        from litefix.render.nagios import nagios_diagnosis  # only --format nagios pays for it

        return nagios_diagnosis(diagnosis, max_lag, critical_lag)

    _show(output, json_out, diagnosis.to_json, lambda: diagnosis_text(diagnosis, verbose), nagios)
    failing = diagnosis.at_or_above(Severity(fail_on.value))
    raise typer.Exit(EXIT_FINDINGS if failing else EXIT_OK if diagnosis.inspected else EXIT_CANNOT_INSPECT)


@app.command()
def explain(
    source: Annotated[
        str, typer.Argument(metavar="[FILE|-]", help="A file of Litestream log lines; - (the default) reads stdin.")
    ] = "-",
    json_out: JsonFlag = False,
) -> None:
    """Explain pasted Litestream log lines: what each known one means, its cause and its fix.

    Knows every message Litestream 0.3.0 to 0.5.x logs, infers the release range from the log
    and never gives a cause that range rules out. Repeats are grouped; lines litefix does not
    know are listed as unknown. Exits 1 when any ERROR-level line (known or not) or a known
    error signature is found, 0 for routine and warning lines. Reads a stream: lines are cut
    at 64 KiB, and a device or 64 MiB without a line break is refused (exit 3).

    Example: docker logs litestream 2>&1 | litefix explain -
    """
    from litefix.explain import explain as run
    from litefix.explain import read_log
    from litefix.render import to_json
    from litefix.render.explain import explanation_text

    if source == "-" and sys.stdin.isatty():
        typer.echo("Paste Litestream log lines, then press Ctrl-D.", err=True)
    explanation = run(read_log(source, sys.stdin.buffer))
    typer.echo(to_json(explanation.to_json()) if json_out else explanation_text(explanation))
    raise typer.Exit(EXIT_FINDINGS if explanation.has_errors else EXIT_OK)


@app.command("upgrade-check")
def upgrade_check(
    to: Annotated[str, typer.Option("--to", help="The Litestream release to upgrade to, e.g. 0.5.17.")],
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    target_litestream: Annotated[
        str | None,
        typer.Option("--target-litestream", help="The binary of that release, to try the config and a restore."),
    ] = None,
    write_config: Annotated[
        str | None, typer.Option("--write-config", help="Write the converted config here (a new file).")
    ] = None,
    entrypoint: Annotated[
        str | None, typer.Option("--entrypoint", help="A script whose litestream commands to check.")
    ] = None,
    json_out: JsonFlag = False,
) -> None:
    """Say what an upgrade of Litestream will do with this config, replica, schema and entrypoint.

    Converts the config (0.3 `replicas:` to 0.5 `replica:`), restores each replica with the target
    binary into a temporary directory, checks the entrypoint's flags and the release's known defects.
    Never writes over the config, the databases or the replica.
    Example: litefix upgrade-check --to 0.5.17 --config /etc/litestream.yml --write-config /tmp/ls-0.5.yml
    """
    from litefix.gate.check import gate_options
    from litefix.gate.upgrade import find_target
    from litefix.gate.upgrade import upgrade_check as run
    from litefix.render import to_json
    from litefix.render.upgrade import upgrade_text
    from litefix.system.litestream import find_binary

    loaded = gate_options(config, litestream).loaded_config  # found as the gate finds it; none is exit 2
    assert loaded is not None
    report = run(
        loaded,
        to,
        current=find_binary(litestream),
        target=find_target(target_litestream, to),
        write_config=write_config,
        entrypoint=entrypoint,
    )
    typer.echo(to_json(report.to_json()) if json_out else upgrade_text(report))
    raise typer.Exit(EXIT_OK if report.ready else EXIT_FINDINGS)


class StrategyOption(StrEnum):
    """`--strategy`: `auto` (the policy in codes.py chooses) or one of model.Strategy."""

    auto = "auto"
    restore = "restore"
    init = "init"
    quarantine = "quarantine"


@app.command(cls=PlainUsage)
def repair(
    db: DbArg,
    strategy: Annotated[
        StrategyOption, typer.Option("--strategy", help="How to repair; auto picks from the findings.")
    ] = (StrategyOption.auto),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the plan that would run, change nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run the plan without asking.")] = False,
    json_out: JsonFlag = False,
    force: Annotated[bool, typer.Option("--force", help="Repair even though another process holds it.")] = False,
    stop_litestream: Annotated[
        bool, typer.Option("--stop-litestream", help="SIGTERM the Litestream holding the database, and wait.")
    ] = False,
    timestamp: Annotated[str | None, typer.Option("--timestamp", help="restore: this point in time.")] = None,
    generation: Annotated[str | None, typer.Option("--generation", help="restore: this 0.3 generation.")] = None,
    txid: Annotated[str | None, typer.Option("--txid", help="restore: this 0.5 TXID (hex).")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Finish an interrupted repair.")] = False,
    rollback: Annotated[bool, typer.Option("--rollback", help="Undo an interrupted repair.")] = False,
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    replica: ReplicaOpt = None,
    verify_restore: VerifyOpt = False,
) -> None:
    """Plan a repair from the evidence, show it, run it (journalled, undoable), and diagnose again.

    Nothing is deleted: replaced files go to <db dir>/.litefix/quarantine/ with a manifest.
    Under a running `litefix boot`, it pauses that boot (app, then Litestream) and resumes it afterwards.
    Example: litefix repair /data/production_cable.sqlite3 --strategy auto --stop-litestream --yes
    """
    from litefix.diagnose.context import Context, Options
    from litefix.gate.control import paused_boot
    from litefix.gate.volume import held_by_others
    from litefix.render import to_json
    from litefix.render.repair import plan_text, repair_text
    from litefix.repair.strategies import RepairOptions
    from litefix.repair.workflow import execute_plan, finish_interrupted, plan_repair

    options = Options.from_cli(config=config, litestream=litestream, replica=replica, verify_restore=verify_restore)
    ctx = Context(db, options)
    if resume or rollback:
        report = finish_interrupted(ctx, "resume" if resume else "rollback", _progress)
    elif not dry_run and held_by_others([ctx.db]):
        # The entrypoint is `litefix boot`: it stops the app and Litestream for us and starts them again.
        with paused_boot([ctx.db]) as said:
            _progress(f"litefix boot: {said}")
            ctx = Context(db, options)
            wanted = RepairOptions(strategy.value, force, stop_litestream, timestamp, generation, txid)
            diagnosis, plan = plan_repair(ctx, wanted)
            typer.echo(to_json(plan.to_json()) if json_out else plan_text(plan), err=json_out)
            if plan.refused or not plan.steps:
                raise typer.Exit(EXIT_REFUSED if plan.refused else EXIT_OK if diagnosis.healthy else EXIT_FINDINGS)
            if not (yes or (sys.stdin.isatty() and typer.confirm("Run this plan?", default=False))):
                typer.echo("Not run: pass --yes to run it.", err=True)
                raise typer.Exit(EXIT_REFUSED)
            report = execute_plan(ctx, plan, _progress)
    else:
        wanted = RepairOptions(strategy.value, force, stop_litestream, timestamp, generation, txid)
        diagnosis, plan = plan_repair(ctx, wanted)
        typer.echo(to_json(plan.to_json()) if json_out else plan_text(plan), err=json_out and not dry_run)
        if plan.refused:
            raise typer.Exit(EXIT_REFUSED)
        if dry_run or not plan.steps:
            raise typer.Exit(EXIT_OK if dry_run or diagnosis.healthy else EXIT_FINDINGS)
        if not (yes or (sys.stdin.isatty() and typer.confirm("Run this plan?", default=False))):
            typer.echo("Not run: pass --yes to run it.", err=True)
            raise typer.Exit(EXIT_REFUSED)
        report = execute_plan(ctx, plan, _progress)
    typer.echo(to_json(report.to_json()) if json_out else repair_text(report))
    raise typer.Exit(EXIT_OK if report.healthy else EXIT_FINDINGS)


@app.command(cls=PlainUsage)
def check(
    config: ConfigOpt = None,
    json_out: JsonFlag = False,
    fail_on: FailOnOpt = FailOn.error,
    fix: FixFlag = False,
    litestream: LitestreamOpt = None,
    output: FormatOpt = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Every inspector's line, not one line per healthy database.")
    ] = False,
) -> None:
    """Pre-deploy gate: all databases of the config at once, and the deployment. Example: litefix check --fix"""
    from litefix.gate.check import gate_options, run_check
    from litefix.render.check import checklist_text

    nagios = output is OutputFormat.nagios
    with _nagios_unknown(output):
        report = run_check(
            gate_options(config, litestream), fail_on=fail_on.value, fix=fix, log=_quiet if nagios else _progress
        )
    from litefix.render.nagios import nagios_check

    _show(output, json_out, report.to_json, lambda: checklist_text(report, verbose), lambda: nagios_check(report))
    raise typer.Exit(EXIT_FINDINGS if not report.passed else EXIT_OK if report.inspected else EXIT_CANNOT_INSPECT)


@app.command(cls=PlainUsage)
def boot(
    argv: AppArgv,
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    prepare: PrepareOpt = None,
    wait: Annotated[
        float | None,
        typer.Option(
            "--wait",
            metavar="SECONDS",
            help="Wait this long for another boot's volume lock (replicating) or for the databases (not).",
        ),
    ] = None,
    no_replicate: Annotated[
        bool,
        typer.Option("--no-replicate", help="This role does not replicate: wait for the databases, run the app."),
    ] = False,
    replicate_for: Annotated[
        str | None,
        typer.Option(
            "--replicate-for",
            metavar="PATTERN",
            help="Replicate only when the app's command line matches this regex (e.g. 'rails server').",
        ),
    ] = None,
) -> None:
    """Safe entrypoint: restore, prepare, check, app under Litestream. Example: litefix boot --prepare CMD -- APP

    One replicator per volume: boot holds <db dir>/.litefix/boot.lock while it lives; a second boot on
    the same volume (another container) refuses (exit 4) or waits (--wait). Roles that do not
    replicate (--no-replicate, or a command --replicate-for does not match) wait until the databases
    are in place and run the app without a Litestream of their own.
    """
    from litefix.gate import boot as booting

    options = booting.BootOptions(
        config, litestream, prepare, wait=wait, replicate=not no_replicate, replicate_for=replicate_for
    )
    raise typer.Exit(booting.boot(options, argv, _progress))


@app.command()
def demo(
    litestream: Annotated[
        list[str] | None, typer.Option("--litestream", help="A binary to run it with (repeat).")
    ] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Work in this directory and keep it.")] = None,
) -> None:
    """Reproduce the incident with the real Litestream, diagnose and repair it, prove the replica restores equal."""
    from litefix.demo import demo_binaries, run_demo

    raise typer.Exit(EXIT_OK if run_demo(demo_binaries(litestream), typer.echo, keep) else EXIT_FINDINGS)


@app.command()
def verify(
    db: DbArg,
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    replica: ReplicaOpt = None,
    table: Annotated[str, typer.Option("--table", help="The sentinel table litefix writes to.")] = "_litefix_verify",
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for the row on the replica.")] = 60.0,
    busy_timeout: Annotated[
        float, typer.Option("--busy-timeout", help="Seconds to wait for SQLite's write lock.")
    ] = 5.0,
    max_latency: Annotated[
        float, typer.Option("--max-latency", help="Seconds above which a round trip is slow (Nagios WARNING).")
    ] = 10.0,
    restore: Annotated[
        bool, typer.Option("--restore", help="Prove it by a full `litestream restore` instead of reading pages.")
    ] = False,
    json_out: JsonFlag = False,
    output: FormatOpt = None,
) -> None:
    """Prove that a write reaches the replica now: write one row, wait for it on the replica, read it back.

    The one command besides `repair` that writes to the database: one row (a random token and the
    time) into its own table `_litefix_verify` (older rows pruned), in one short transaction.
    Refuses when no Litestream replicates the database or `diagnose` finds an error.
    Example: litefix verify /data/production.sqlite3 --config /etc/litestream.yml --timeout 30
    """
    from litefix.monitor.verify import VerifyOptions, default_options
    from litefix.monitor.verify import verify as run
    from litefix.render.verify import verify_text

    nagios = output is OutputFormat.nagios
    with _nagios_unknown(output):
        wanted = VerifyOptions(table, timeout, busy_timeout, restore=restore, max_latency=max_latency)
        result = run(db, default_options(config, litestream, replica), wanted, _quiet if nagios else _progress)
    from litefix.render.nagios import nagios_verify

    _show(output, json_out, result.to_json, lambda: verify_text(result), lambda: nagios_verify(result))
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


@app.command()
def metrics(
    config: ConfigOpt = None,
    litestream: LitestreamOpt = None,
    listen: Annotated[
        str | None, typer.Option("--listen", help="Serve /metrics on HOST:PORT for Prometheus to scrape.")
    ] = None,
    textfile: Annotated[
        str | None,
        typer.Option("--textfile", help="Write the metrics to this .prom file atomically (node_exporter)."),
    ] = None,
    cache_seconds: Annotated[
        float, typer.Option("--cache-seconds", help="Reuse a collection this long: scrapes stay cheap.")
    ] = 15.0,
) -> None:
    """Prometheus metrics for every database of the config: findings, replica lag, -wal size, Litestream, verify.

    Without --listen or --textfile, prints the exposition once.
    Example: litefix metrics --config /etc/litestream.yml --listen 127.0.0.1:9436
    """
    from litefix.errors import UsageError
    from litefix.gate.check import configured_databases, gate_options
    from litefix.monitor.metrics import CachedCollection, collect, serve, write_textfile
    from litefix.render.metrics import exposition, registry_for

    if listen and textfile:
        raise UsageError("--listen and --textfile are two ways to run it: pick one")
    options = gate_options(config, litestream)
    assert options.loaded_config is not None
    databases = configured_databases(options.loaded_config)
    registry = registry_for(CachedCollection(lambda: collect(options, databases), cache_seconds))
    if listen:
        raise typer.Exit(serve(registry, listen, _progress))
    data = exposition(registry)
    if textfile:
        write_textfile(textfile, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()


@contextmanager
def _nagios_unknown(output: OutputFormat | None) -> Iterator[None]:
    """Under --format nagios an expected error is the plugin state UNKNOWN (exit 3), on stdout."""
    try:
        yield
    except LitefixError as exc:
        if output is not OutputFormat.nagios:
            raise
        from litefix.render.nagios import unknown

        _exit_nagios(unknown(exc.message + (f" ({exc.hint})" if exc.hint else "")))


def _show(
    output: OutputFormat | None,
    json_out: bool,
    document: Callable[[], JSON],
    text: Callable[[], str],
    nagios: Callable[[], tuple[str, int]],
) -> None:
    """Print a result in the format asked for; under --format nagios that is also the exit (0-3)."""
    from litefix.render import to_json

    if output is OutputFormat.nagios:
        _exit_nagios(nagios())
    typer.echo(to_json(document()) if json_out or output is OutputFormat.json else text())


def _exit_nagios(rendered: tuple[str, int]) -> NoReturn:
    text, code = rendered
    typer.echo(text)
    raise typer.Exit(code)


def _quiet(message: str) -> None:
    """A Nagios plugin prints its status and nothing else."""


def _progress(message: str) -> None:
    typer.echo(message, err=True)


quarantine_app = typer.Typer(help="List quarantined files, or put them back exactly.", no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def quarantine_list(
    where: Annotated[str, typer.Argument(help="The database (or its directory).")] = ".", json_out: JsonFlag = False
) -> None:
    """List the quarantines beside a database, newest last. Example: litefix quarantine list /data/app.db"""
    from litefix.render import to_json
    from litefix.render.repair import quarantine_table
    from litefix.repair.quarantine import list_quarantines

    items = [q.to_json() for q in list_quarantines(where)]
    typer.echo(to_json(items) if json_out else quarantine_table(items))


@quarantine_app.command("restore")
def quarantine_restore(
    qid: Annotated[str, typer.Argument(help="The id from `litefix quarantine list`.")],
    where: Annotated[str, typer.Option("--db", help="The database (or its directory) it belongs to.")] = ".",
) -> None:
    """Put quarantined files back where they came from, byte for byte; never overwrites.

    Example: litefix quarantine restore 20261126T221500Z-production_cable.sqlite3-restore --db /data
    """
    from litefix.repair.quarantine import find, restore_quarantine

    for path in restore_quarantine(find(where, qid)):
        typer.echo(f"restored {path}")


@contextmanager
def _progress_on_terminal(json_out: bool) -> Iterator[None]:
    """Progress bars for long remote reads on stderr, only when it is a terminal and the output is text."""
    if json_out or not sys.stderr.isatty():
        yield
        return
    from litefix.render.progress import RichReporter
    from litefix.replicas.progress import REPORTER

    reporter = RichReporter()
    token = REPORTER.set(reporter)
    try:
        yield
    finally:
        REPORTER.reset(token)
        reporter.close()


def main(argv: list[str] | None = None) -> NoReturn:
    """Entry point: one place decides what the user sees when something goes wrong."""
    try:
        # Without standalone mode click returns typer.Exit's code instead of raising it.
        code = app(args=argv, prog_name="litefix", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except LitefixError as exc:
        _error(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except OSError as exc:  # a full disk, a permission, an I/O error met outside a repair step
        error = describe_os_error(exc)
        _error(error.message, error.hint)
        sys.exit(error.exit_code)
    except Exception as exc:
        if _nagios_requested(argv) and getattr(exc, "exit_code", None) is not None:
            typer.echo(f"LITEFIX UNKNOWN - usage error: {exc}")
            sys.exit(3)
        if _click_usage_error(exc):
            sys.exit(2)
        if os.environ.get("LITEFIX_DEBUG"):
            raise
        _error(
            f"litefix crashed: {type(exc).__name__}: {exc}",
            "this is a bug in litefix; rerun with LITEFIX_DEBUG=1 for the traceback and report it",
        )
        sys.exit(EXIT_CANNOT_INSPECT)
    sys.exit(code if isinstance(code, int) else EXIT_OK)


def _nagios_requested(argv: list[str] | None) -> bool:
    """Usage errors come before any command runs: look for --format nagios ourselves."""
    args = sys.argv[1:] if argv is None else argv
    return "--format=nagios" in args or any(a == "--format" and b == "nagios" for a, b in pairwise(args))


def _click_usage_error(exc: Exception) -> bool:
    """Typer/click usage errors (bad option, missing argument): show them like click does."""
    show = getattr(exc, "show", None)
    exit_code = getattr(exc, "exit_code", None)
    if callable(show) and exit_code is not None:
        show()
        return True
    return False


def _error(message: str, hint: str = "") -> None:
    typer.echo(f"Error: {message}", err=True)
    if hint:
        typer.echo(f"Hint: {hint}", err=True)
