"""What every command shares: the typer app, the option types and their enums.

An option spelled once here reads the same in every command's --help.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

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
