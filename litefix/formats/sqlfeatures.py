"""SQL in a schema that an older SQLite cannot parse, found by tokenizing the CREATE statements.

Only syntax that was measured to break an older build is listed: SQLite parses every CREATE
statement of the schema when a connection first reads it, so one of these makes the whole database
unreadable to it (`malformed database schema (NAME) - …`). Functions a release added are not here:
Litestream 0.3.13 (SQLite 3.42.0) loaded and replicated schemas whose index, generated column and
CHECK used concat(), jsonb(), octet_length() and unistr() (measured), because functions are looked
up only when an expression is evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Feature:
    key: str
    description: str
    since: str  # the SQLite release that added it
    released: str  # its release date: builds whose source id is older cannot parse it
    measured: str  # what an older build said, verbatim


ORDERED_AGGREGATE = Feature(
    "ordered-aggregate",
    "ORDER BY inside an aggregate function's arguments",
    "3.44.0",
    "2023-11-01",
    'Litestream 0.3.13 (SQLite 3.42.0): malformed database schema (v) - near "ORDER": syntax error',
)
DIGIT_SEPARATOR = Feature(
    "digit-separator",
    "underscores in a numeric literal",
    "3.46.0",
    "2024-05-23",
    'Litestream 0.3.13 (SQLite 3.42.0): malformed database schema (t) - unrecognized token: "1_000"',
)
FEATURES = (ORDERED_AGGREGATE, DIGIT_SEPARATOR)


@cache
def _token_pattern() -> re.Pattern[str]:
    """Compiled on first use, not at import: its character classes up to U+FFFF take milliseconds to
    compile, and with a current Litestream no schema is ever tokenized."""
    return re.compile(
        r"""
          (?P<space>\s+|--[^\n]*|/\*.*?(?:\*/|\Z))
        | (?P<string>'(?:[^']|'')*'?)
        | (?P<quoted>"(?:[^"]|"")*"?|`(?:[^`]|``)*`?|\[[^\]]*\]?)
        | (?P<number>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?[\d_]+)?)
        | (?P<word>[A-Za-z_\x80-\uffff][\w$\x80-\uffff]*)
        | (?P<other>.)
        """,
        re.VERBOSE | re.DOTALL,
    )


# A parenthesis after one of these opens no function's arguments.
_NOT_A_FUNCTION = {"OVER", "AS", "IN", "EXISTS", "VALUES", "USING", "ON", "TABLE", "INTO", "KEY", "CHECK", "WINDOW"}


def _tokens(sql: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _token_pattern().finditer(sql) if m.lastgroup != "space"]


def features_in(sql: str) -> list[tuple[Feature, str]]:
    """Each listed feature `sql` uses, with the text that uses it (one per feature)."""
    tokens = _tokens(sql)
    found: dict[str, tuple[Feature, str]] = {}
    for kind, text in tokens:
        if kind == "number" and "_" in text and DIGIT_SEPARATOR.key not in found:
            found[DIGIT_SEPARATOR.key] = (DIGIT_SEPARATOR, text)
    # For every open parenthesis: is it a function call, and does ORDER appear at its own depth?
    stack: list[tuple[bool, str]] = []
    for i, (kind, text) in enumerate(tokens):
        if text == "(":
            before = tokens[i - 1] if i else ("other", "")
            call = before[0] in ("word", "quoted") and before[1].upper() not in _NOT_A_FUNCTION
            stack.append((call, before[1]))
        elif text == ")" and stack:
            stack.pop()
        elif (
            kind == "word"
            and text.upper() == "ORDER"
            and stack
            and stack[-1][0]
            and i + 1 < len(tokens)
            and tokens[i + 1][1].upper() == "BY"
            and ORDERED_AGGREGATE.key not in found
        ):
            found[ORDERED_AGGREGATE.key] = (ORDERED_AGGREGATE, f"{stack[-1][1]}(… ORDER BY …)")
    return list(found.values())
