"""The commands a monitor runs: `verify` (a write's round trip) and `metrics` (Prometheus)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from litefix.cli.options import ConfigOpt, DbArg, FormatOpt, JsonFlag, LitestreamOpt, OutputFormat, ReplicaOpt
from litefix.cli.output import nagios_unknown, progress, quiet, show
from litefix.errors import EXIT_FINDINGS, EXIT_OK


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
    with nagios_unknown(output):
        wanted = VerifyOptions(table, timeout, busy_timeout, restore=restore, max_latency=max_latency)
        result = run(db, default_options(config, litestream, replica), wanted, quiet if nagios else progress)
    from litefix.render.nagios import nagios_verify

    show(output, json_out, result.to_json, lambda: verify_text(result), lambda: nagios_verify(result))
    raise typer.Exit(EXIT_OK if result.ok else EXIT_FINDINGS)


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
        raise typer.Exit(serve(registry, listen, progress))
    data = exposition(registry)
    if textfile:
        write_textfile(textfile, data)
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
