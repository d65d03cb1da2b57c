"""The WAL reader agrees with SQLite itself about which frames count."""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from litefix.formats import walsum
from litefix.formats.btree import BtreeError
from litefix.formats.shm import read_shm
from litefix.formats.sqlite_header import HeaderError, parse_header
from litefix.formats.wal import WalHeaderError, parse_wal_header, scan_wal
from litefix.system.schema import SchemaError, read_schema, read_schema_from_pages
from tests.conftest import EXPECTED
from tests.helpers import FIXTURES

WAL_STATES = [
    "healthy-uncheckpointed",
    "wal-torn-tail",
    "wal-uncommitted-tail",
    "wal-damaged-middle",
    "wal-garbage-frames",
    "shm-stale",
]


def sqlite_committed_frames(db: Path, tmp: Path) -> int:
    """Ask SQLite's own WAL recovery, on a copy, how many frames it accepts."""
    copy = tmp / "oracle"
    copy.mkdir(exist_ok=True)
    shutil.copy(db, copy / "o.db")
    shutil.copy(f"{db}-wal", copy / "o.db-wal")
    con = sqlite3.connect(copy / "o.db")
    try:
        return int(con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        con.close()


@pytest.mark.parametrize("name", WAL_STATES)
def test_committed_frames_match_sqlite_recovery(name: str, state: Callable[[str], Path], tmp_path: Path) -> None:
    db = state(name)
    scan = scan_wal(f"{db}-wal")
    assert scan.committed_frames == sqlite_committed_frames(db, tmp_path)


def test_native_and_python_checksums_agree() -> None:
    rng = random.Random(7)
    for big_endian in (False, True):
        data = bytes(rng.getrandbits(8) for _ in range(4096 + 8))
        assert walsum.checksum(data, 1, 2, big_endian) == walsum.py_checksum(data, 1, 2, big_endian)


def test_native_and_python_frame_scans_agree(state: Callable[[str], Path]) -> None:
    for name in ("healthy-uncheckpointed", "wal-damaged-middle", "wal-uncommitted-tail"):
        data = Path(f"{state(name)}-wal").read_bytes()
        header = parse_wal_header(data[:32])
        args = (
            data[32:],
            header.page_size,
            header.salt1,
            header.salt2,
            header.checksum1,
            header.checksum2,
            header.big_endian,
        )
        assert walsum.scan_frames(*args) == walsum.py_scan_frames(*args)
    assert walsum.NATIVE, "the C checksum loop was not built; diagnose would be 100x slower"


def test_page_map_holds_the_newest_committed_frame_per_page(state: Callable[[str], Path]) -> None:
    db = state("healthy-uncheckpointed")
    scan = scan_wal(f"{db}-wal", collect_pages=True)
    assert scan.page_frames
    assert max(scan.page_frames.values()) <= scan.committed_frames
    assert scan.db_pages is not None and max(scan.page_frames) <= scan.db_pages


def test_header_errors_name_the_problem() -> None:
    with pytest.raises(WalHeaderError, match="shorter than its 32-byte header"):
        parse_wal_header(b"\x37\x7f\x06")
    with pytest.raises(WalHeaderError, match="bad magic"):
        parse_wal_header(bytes(32))


def test_shm_of_a_live_connection_matches_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE t (x)")
    for i in range(5):
        con.execute("INSERT INTO t VALUES (?)", (i,))
    index = read_shm(f"{db}-shm")
    scan = scan_wal(f"{db}-wal")
    assert index.copies_agree and index.header.checksum_valid
    assert index.header.mx_frame == scan.committed_frames
    assert scan.header is not None and index.header.salts == scan.header.salts
    assert index.header.page_size == scan.header.page_size
    con.close()


def _has_header(name: str) -> bool:
    path = FIXTURES / name / "app.db"
    try:
        parse_header(path.read_bytes()[:100])
    except (HeaderError, OSError):
        return False
    return True


@pytest.mark.parametrize("name", [n for n in sorted(EXPECTED) if _has_header(n)])
def test_schema_read_from_pages_agrees_with_sqlite(name: str, state: Callable[[str], Path]) -> None:
    """The fast path (b-tree pages + WAL page map) and SQLite itself see the same tables and seq."""
    db = state(name)
    header = parse_header(db.read_bytes()[:100])
    wal = Path(f"{db}-wal")
    scan = scan_wal(wal, collect_pages=True) if wal.is_file() else None
    try:
        sqlite_view = read_schema(str(db))
    except SchemaError:
        sqlite_view = None
    try:
        fast_view = read_schema_from_pages(str(db), header, scan)
    except BtreeError:
        fast_view = None
    if sqlite_view is not None and fast_view is not None:
        assert fast_view == sqlite_view
    if name.startswith("healthy") or name == "migrated-before-litestream":
        assert fast_view is not None and fast_view == sqlite_view
