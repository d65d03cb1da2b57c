"""The commands that read and explain: `diagnose`, `explain`, `upgrade-check`. None of them writes."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from litefix.cli.options import (
    ConfigOpt,
    DbArg,
    FailOn,
    FailOnOpt,
    FormatOpt,
    IntegrityMode,
    JsonFlag,
    LitestreamOpt,
    OutputFormat,
    ReplicaOpt,
    VerifyOpt,
)
from litefix.cli.output import nagios_unknown, progress_on_terminal, show
from litefix.errors import EXIT_CANNOT_INSPECT, EXIT_FINDINGS, EXIT_OK


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
    with nagios_unknown(output):
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
        with progress_on_terminal(json_out or output in (OutputFormat.json, OutputFormat.nagios)):
            diagnosis = run(db, options)

    def nagios() -> tuple[str, int]:
        from litefix.render.nagios import nagios_diagnosis  # only --format nagios pays for it

        return nagios_diagnosis(diagnosis, max_lag, critical_lag)

    show(output, json_out, diagnosis.to_json, lambda: diagnosis_text(diagnosis, verbose), nagios)
    failing = diagnosis.at_or_above(Severity(fail_on.value))
    raise typer.Exit(EXIT_FINDINGS if failing else EXIT_OK if diagnosis.inspected else EXIT_CANNOT_INSPECT)


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
