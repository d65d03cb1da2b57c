"""The commands of a deploy: `check` (the gate), `boot` (the entrypoint) and `demo` (the incident, replayed)."""

from __future__ import annotations

from typing import Annotated

import typer

from litefix.cli.options import (
    AppArgv,
    ConfigOpt,
    FailOn,
    FailOnOpt,
    FixFlag,
    FormatOpt,
    JsonFlag,
    LitestreamOpt,
    OutputFormat,
    PrepareOpt,
)
from litefix.cli.output import nagios_unknown, progress, quiet, show
from litefix.errors import EXIT_CANNOT_INSPECT, EXIT_FINDINGS, EXIT_OK


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
    with nagios_unknown(output):
        report = run_check(
            gate_options(config, litestream), fail_on=fail_on.value, fix=fix, log=quiet if nagios else progress
        )
    from litefix.render.nagios import nagios_check

    show(output, json_out, report.to_json, lambda: checklist_text(report, verbose), lambda: nagios_check(report))
    raise typer.Exit(EXIT_FINDINGS if not report.passed else EXIT_OK if report.inspected else EXIT_CANNOT_INSPECT)


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
    raise typer.Exit(booting.boot(options, argv, progress))


def demo(
    litestream: Annotated[
        list[str] | None, typer.Option("--litestream", help="A binary to run it with (repeat).")
    ] = None,
    keep: Annotated[str | None, typer.Option("--keep", help="Work in this directory and keep it.")] = None,
) -> None:
    """Reproduce the incident with the real Litestream, diagnose and repair it, prove the replica restores equal."""
    from litefix.demo import demo_binaries, run_demo

    raise typer.Exit(EXIT_OK if run_demo(demo_binaries(litestream), typer.echo, keep) else EXIT_FINDINGS)
