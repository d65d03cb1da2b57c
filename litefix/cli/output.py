"""How a command's result reaches the user: text, JSON or a Nagios status, and progress on stderr.

Nothing here decides anything; the commands hand over a result and the format asked for.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, NoReturn

import typer

from litefix.cli.options import OutputFormat
from litefix.errors import LitefixError

if TYPE_CHECKING:
    from litefix.model import JSON


@contextmanager
def nagios_unknown(output: OutputFormat | None) -> Iterator[None]:
    """Under --format nagios an expected error is the plugin state UNKNOWN (exit 3), on stdout."""
    try:
        yield
    except LitefixError as exc:
        if output is not OutputFormat.nagios:
            raise
        from litefix.render.nagios import unknown

        exit_nagios(unknown(exc.message + (f" ({exc.hint})" if exc.hint else "")))


def show(
    output: OutputFormat | None,
    json_out: bool,
    document: Callable[[], JSON],
    text: Callable[[], str],
    nagios: Callable[[], tuple[str, int]],
) -> None:
    """Print a result in the format asked for; under --format nagios that is also the exit (0-3)."""
    from litefix.render import to_json

    if output is OutputFormat.nagios:
        exit_nagios(nagios())
    typer.echo(to_json(document()) if json_out or output is OutputFormat.json else text())


def exit_nagios(rendered: tuple[str, int]) -> NoReturn:
    text, code = rendered
    typer.echo(text)
    raise typer.Exit(code)


def quiet(message: str) -> None:
    """A Nagios plugin prints its status and nothing else."""


def progress(message: str) -> None:
    typer.echo(message, err=True)


@contextmanager
def progress_on_terminal(json_out: bool) -> Iterator[None]:
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
