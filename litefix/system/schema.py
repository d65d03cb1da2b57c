"""Read what a reader of the database would see, through the read-only VFS.

Only the few facts litefix needs from SQLite itself: table names, Litestream's
sequence row, and integrity checks. Everything else is parsed from bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from litefix.formats.btree import BtreeError, Layout, record, rows, schema
from litefix.formats.sqlite_header import DatabaseHeader
from litefix.formats.wal import FRAME_HEADER_SIZE, WalScan

if TYPE_CHECKING:
    import apsw

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


def read_schema_from_pages(path: str, header: DatabaseHeader, wal: WalScan | None) -> Schema:
    """The schema straight from the pages a reader would use: the file, overlaid with the -wal's newest
    committed frames. Raises BtreeError on anything unexpected (then ask SQLite: `read_schema`)."""
    layout = Layout(header.page_size, header.reserved_bytes, header.text_encoding or 1)
    frames = wal.page_frames if wal is not None and wal.committed_frames and wal.page_frames else {}
    limit = (wal.db_pages if frames and wal is not None and wal.db_pages else 0) or header.page_count or 1 << 31
    with open(path, "rb") as db, open(path + "-wal", "rb") if frames else _NoFile() as wal_fh:

        def read(pgno: int) -> bytes:
            if not 1 <= pgno <= limit:
                raise BtreeError(f"page {pgno} is outside the database ({limit} pages)")
            frame = frames.get(pgno)
            if frame is not None and wal is not None:
                wal_fh.seek(wal.frame_offset(frame) + FRAME_HEADER_SIZE)
            else:
                db.seek((pgno - 1) * header.page_size)
            data = (wal_fh if frame is not None else db).read(header.page_size)
            if len(data) != header.page_size:
                raise BtreeError(f"page {pgno} is cut short")
            return data

        try:
            objects = schema(layout, read)
            tables = tuple(sorted(name for kind, name, _root in objects if kind == "table"))
            seq = None
            root = next((r for kind, name, r in objects if kind == "table" and name == "_litestream_seq"), None)
            if root:
                for rowid, data in rows(layout, root, read):
                    if rowid == 1:
                        values = record(layout, data)
                        value = values[1] if len(values) > 1 else None
                        seq = int(value) if isinstance(value, int) else None
        except (IndexError, struct.error) as exc:
            raise BtreeError(f"malformed page: {exc}") from exc
    return Schema(tables, seq)


class _NoFile:
    def __enter__(self) -> _NoFile:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def seek(self, _offset: int) -> None:
        raise BtreeError("no -wal")

    def read(self, _n: int) -> bytes:
        raise BtreeError("no -wal")


def read_schema(path: str, *, ignore_wal: bool = False) -> Schema:
    # SQLite (apsw) loads on the first open: a diagnosis reads the schema from the b-tree pages.
    import apsw

    from litefix.system.readonly import open_readonly

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
    import apsw

    from litefix.system.readonly import open_readonly

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
