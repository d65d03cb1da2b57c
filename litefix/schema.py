"""Read what a reader of the database would see, through the read-only VFS.

Only the few facts litefix needs from SQLite itself: table names, Litestream's
sequence row, and integrity checks. Everything else is parsed from bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import apsw

from litefix.readonly import open_readonly

LITESTREAM_TABLES = ("_litestream_seq", "_litestream_lock")


@dataclass(frozen=True)
class Schema:
    tables: tuple[str, ...]
    litestream_seq: int | None  # the `seq` of row id=1, when the table exists

    @property
    def missing_litestream_tables(self) -> tuple[str, ...]:
        return tuple(t for t in LITESTREAM_TABLES if t not in self.tables)


class SchemaError(Exception):
    """SQLite could not read the schema; the message is SQLite's own."""


def read_schema(path: str, *, ignore_wal: bool = False) -> Schema:
    try:
        with open_readonly(path, ignore_wal=ignore_wal) as con:
            tables = tuple(
                row[0] for row in con.execute("SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name")
            )
            seq = None
            if "_litestream_seq" in tables:
                row = con.execute("SELECT seq FROM _litestream_seq WHERE id = 1").fetchone()
                seq = int(row[0]) if row and row[0] is not None else None
            return Schema(tables, seq)
    except apsw.Error as exc:
        raise SchemaError(_sqlite_message(exc)) from exc


def check_integrity(path: str, mode: str, max_errors: int = 100) -> list[str]:
    """PRAGMA quick_check or integrity_check; returns SQLite's messages, ['ok'] when sound."""
    pragma = "quick_check" if mode == "quick" else "integrity_check"
    try:
        with open_readonly(path) as con:
            rows = [str(row[0]) for row in con.execute(f"PRAGMA {pragma}({int(max_errors)})")]
    except apsw.Error as exc:
        raise SchemaError(_sqlite_message(exc)) from exc
    # Each message may start with a "*** in database main ***" banner line.
    lines = [line for row in rows for line in row.splitlines() if not line.startswith("*** in database")]
    return lines or ["ok"]


def _sqlite_message(exc: apsw.Error) -> str:
    text = str(exc)
    # apsw prefixes the class name ("CorruptError: database disk image is malformed").
    return text.split(": ", 1)[1] if ": " in text and text.split(": ", 1)[0].endswith("Error") else text
