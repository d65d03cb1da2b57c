"""The command line: parse, call the library, render, exit. No logic lives here.

One module per group of commands (diagnosis, repairs, deploy, monitoring); this file is their table
of contents, in the order `litefix --help` lists them, and the one place that decides what the user
sees when something goes wrong.
"""

from __future__ import annotations

import os
import sys
from itertools import pairwise
from typing import Annotated, NoReturn

import typer

from litefix import __version__
from litefix.cli import deploy, diagnosis, monitoring, repairs
from litefix.cli.options import PlainUsage, app
from litefix.errors import EXIT_CANNOT_INSPECT, EXIT_INTERRUPTED, EXIT_OK, LitefixError, describe_os_error

__all__ = ["app", "main"]


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


app.command(cls=PlainUsage)(diagnosis.diagnose)
app.command()(diagnosis.explain)
app.command("upgrade-check")(diagnosis.upgrade_check)
app.command(cls=PlainUsage)(repairs.repair)
app.command(cls=PlainUsage)(deploy.check)
app.command(cls=PlainUsage)(deploy.boot)
app.command()(deploy.demo)
app.command()(monitoring.verify)
app.command()(monitoring.metrics)
app.add_typer(repairs.quarantine_app, name="quarantine")
repairs.quarantine_app.command("list")(repairs.quarantine_list)
repairs.quarantine_app.command("restore")(repairs.quarantine_restore)


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
