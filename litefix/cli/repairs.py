"""The commands that change files: `repair`, and `quarantine list|restore` to see and undo what it moved."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from litefix.cli.options import ConfigOpt, DbArg, JsonFlag, LitestreamOpt, ReplicaOpt, VerifyOpt
from litefix.cli.output import progress, progress_on_terminal
from litefix.errors import EXIT_FINDINGS, EXIT_OK, EXIT_REFUSED


class StrategyOption(StrEnum):
    """`--strategy`: `auto` (the policy in codes.py chooses) or one of model.Strategy."""

    auto = "auto"
    restore = "restore"
    init = "init"
    quarantine = "quarantine"


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
        with progress_on_terminal(json_out):
            report = finish_interrupted(ctx, "resume" if resume else "rollback", progress)
    elif not dry_run and held_by_others([ctx.db]):
        # The entrypoint is `litefix boot`: it stops the app and Litestream for us and starts them again.
        with paused_boot([ctx.db]) as said:
            progress(f"litefix boot: {said}")
            ctx = Context(db, options)
            wanted = RepairOptions(strategy.value, force, stop_litestream, timestamp, generation, txid)
            diagnosis, plan = plan_repair(ctx, wanted)
            typer.echo(to_json(plan.to_json()) if json_out else plan_text(plan), err=json_out)
            if plan.refused or not plan.steps:
                raise typer.Exit(EXIT_REFUSED if plan.refused else EXIT_OK if diagnosis.healthy else EXIT_FINDINGS)
            if not (yes or (sys.stdin.isatty() and typer.confirm("Run this plan?", default=False))):
                typer.echo("Not run: pass --yes to run it.", err=True)
                raise typer.Exit(EXIT_REFUSED)
            with progress_on_terminal(json_out):
                report = execute_plan(ctx, plan, progress)
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
        with progress_on_terminal(json_out):
            report = execute_plan(ctx, plan, progress)
    typer.echo(to_json(report.to_json()) if json_out else repair_text(report))
    raise typer.Exit(EXIT_OK if report.healthy else EXIT_FINDINGS)


quarantine_app = typer.Typer(help="List quarantined files, or put them back exactly.", no_args_is_help=True)


def quarantine_list(
    where: Annotated[str, typer.Argument(help="The database (or its directory).")] = ".", json_out: JsonFlag = False
) -> None:
    """List the quarantines beside a database, newest last. Example: litefix quarantine list /data/app.db"""
    from litefix.render import to_json
    from litefix.render.repair import quarantine_table
    from litefix.repair.quarantine import list_quarantines

    items = [q.to_json() for q in list_quarantines(where)]
    typer.echo(to_json(items) if json_out else quarantine_table(items))


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
