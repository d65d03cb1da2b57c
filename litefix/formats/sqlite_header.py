"""The 100-byte SQLite database header (https://sqlite.org/fileformat2.html#database_header)."""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass

from litefix.formats import FormatError

MAGIC = b"SQLite format 3\x00"
HEADER_SIZE = 100


class HeaderError(FormatError):
    """The bytes are not an SQLite database header; the message says which part is wrong."""


@dataclass(frozen=True)
class DatabaseHeader:
    page_size: int
    write_version: int
    read_version: int
    reserved_bytes: int
    change_counter: int
    page_count: int
    freelist_trunk: int
    freelist_pages: int
    schema_cookie: int
    schema_format: int
    text_encoding: int
    user_version: int
    application_id: int
    version_valid_for: int
    sqlite_version_number: int

    @property
    def wal_mode(self) -> bool:
        """Both versions are 2 when the database is in WAL mode (1 = rollback journal)."""
        return self.write_version == 2 and self.read_version == 2

    @property
    def page_count_valid(self) -> bool:
        """The in-header size is only trustworthy when written by a 3.7.0+ writer that kept it current."""
        return self.page_count > 0 and self.change_counter == self.version_valid_for

    @property
    def sqlite_version(self) -> str:
        return format_sqlite_version(self.sqlite_version_number)

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        out["wal_mode"] = self.wal_mode
        out["sqlite_version"] = self.sqlite_version
        return out


def format_sqlite_version(number: int) -> str:
    """3040001 -> '3.40.1'."""
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def valid_page_size(size: int) -> bool:
    return 512 <= size <= 65536 and size & (size - 1) == 0


def parse_header(data: bytes) -> DatabaseHeader:
    if len(data) < HEADER_SIZE:
        if MAGIC.startswith(data[: len(MAGIC)]) and data:
            raise HeaderError(f"header is truncated: {len(data)} of {HEADER_SIZE} bytes")
        raise HeaderError(f"file is {len(data)} bytes, shorter than an SQLite header ({HEADER_SIZE} bytes)")
    if data[:16] != MAGIC:
        raise HeaderError(f"first 16 bytes are {data[:16].hex()}, not the SQLite magic 'SQLite format 3\\0'")
    (raw_page_size,) = struct.unpack_from(">H", data, 16)
    page_size = 65536 if raw_page_size == 1 else raw_page_size
    if not valid_page_size(page_size):
        raise HeaderError(f"page size {raw_page_size} in the header is not a power of two between 512 and 65536")
    write_version, read_version, reserved = data[18], data[19], data[20]
    fields = struct.unpack_from(">IIIIIII", data, 24)
    change_counter, page_count, freelist_trunk, freelist_pages, schema_cookie, schema_format, _cache = fields
    text_encoding, user_version = struct.unpack_from(">II", data, 56)
    (application_id,) = struct.unpack_from(">I", data, 68)
    version_valid_for, sqlite_version_number = struct.unpack_from(">II", data, 92)
    return DatabaseHeader(
        page_size=page_size,
        write_version=write_version,
        read_version=read_version,
        reserved_bytes=reserved,
        change_counter=change_counter,
        page_count=page_count,
        freelist_trunk=freelist_trunk,
        freelist_pages=freelist_pages,
        schema_cookie=schema_cookie,
        schema_format=schema_format,
        text_encoding=text_encoding,
        user_version=user_version,
        application_id=application_id,
        version_valid_for=version_valid_for,
        sqlite_version_number=sqlite_version_number,
    )


def lock_page(page_size: int) -> int:
    """The page holding byte 2**30, never used by SQLite (LTX checksums skip it too)."""
    return (1 << 30) // page_size + 1
