"""Who holds SQLite's locks: a reader pinning the WAL under a running Litestream, a held write lock.

Built with real processes: an app connection that keeps a read transaction (or BEGIN IMMEDIATE)
open, a writer in another process, and the real Litestream replicating. litefix reads /proc/locks
and the -shm; the fingerprint assertions prove it took no lock and changed no byte.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from litefix.system.locks import parse_locks
from tests.helpers import fingerprint, litefix
from tests.litestream_harness import deployment, migrate, wait_for
from tests.scenarios import APP_TABLE, start_app, start_replicating

pytestmark = pytest.mark.litestream

# A writer that commits ~4 KiB rows as fast as it can until killed: the WAL grows when pinned.
BUSY_WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
    print("ready", flush=True)
    while True:
        con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('w', ?)", ("x" * 4000,))
    """
)


def _busy_writer(db: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", BUSY_WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _findings(result_json: dict[str, object], code: str) -> list[dict[str, object]]:
    return [f for f in result_json["findings"] if f["code"] == code]  # type: ignore[index, union-attr]


@pytest.mark.parametrize("version", ["0.3.13", "0.5.17"])
def test_reader_holding_a_transaction_under_litestream_is_checkpoint_blocked(tmp_path: Path, version: str) -> None:
    with deployment(tmp_path, version) as dep:
        db = dep.db()
        migrate(db, 10)
        rep = start_replicating(dep)
        reader = start_app(db, watch=(rep.pid,))
        reader.execute("BEGIN")
        assert reader.execute(f"SELECT count(*) FROM {APP_TABLE}")[0][0] == 10
        writer = _busy_writer(db)
        try:
            wal = Path(f"{db}-wal")
            wait_for(lambda: wal.stat().st_size > 8 << 20, 60, "the -wal to grow past 8 MiB behind the reader")
            writer.kill()
            writer.wait()
            result = litefix("diagnose", db, "--json", "--config", dep.root / "litestream.yml")
            doc = result.json()
            blocked = _findings(doc, "checkpoint-blocked")
            assert len(blocked) == 1, doc["findings"]
            evidence = blocked[0]["evidence"]
            assert evidence["pid"] == reader.pid
            assert "python" in evidence["command"]
            assert evidence["pid"] not in evidence["litestream_pids"] and rep.pid in evidence["litestream_pids"]
            assert evidence["pinned_frame"] < evidence["mx_frame"]
            assert evidence["frames_behind"] >= 1000
            # Litestream itself still writes a frame now and then (its _litestream_seq row).
            assert 8 << 20 < evidence["wal_bytes"] <= wal.stat().st_size
            assert blocked[0]["severity"] == "warning"
            # Once the reader lets go, the same diagnosis has nothing to say about locks.
            reader.execute("COMMIT")
            again = litefix("diagnose", db, "--json", "--config", dep.root / "litestream.yml").json()
            assert not _findings(again, "checkpoint-blocked"), again["findings"]
        finally:
            writer.kill()
            reader.kill()


def test_begin_immediate_held_by_another_process_is_database_locked(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    migrate(db, 5)
    holder = start_app(db)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute(f"INSERT INTO {APP_TABLE} (channel, payload) VALUES ('a', 'b')")
        started = time.monotonic()
        before = fingerprint(tmp_path)
        result = litefix("diagnose", db, "--json")
        # litefix read the lock table: it took no lock and changed no byte.
        assert fingerprint(tmp_path) == before
        doc = result.json()
        locked = _findings(doc, "database-locked")
        assert len(locked) == 1, doc["findings"]
        evidence = locked[0]["evidence"]
        assert evidence["pid"] == holder.pid
        assert evidence["lock"].startswith("WAL write lock")
        assert evidence["held_for_seconds"] >= 1.0
        assert locked[0]["severity"] == "warning"
        assert str(holder.pid) in locked[0]["message"]
        assert time.monotonic() - started < 60
        assert not _findings(doc, "checkpoint-blocked")
    finally:
        holder.kill()


def test_busy_writer_committing_all_the_time_is_not_a_held_lock(tmp_path: Path) -> None:
    """A writer in a tight loop holds the write lock in nearly every sample, but it commits in
    between: no finding (a busy healthy deployment must not raise an alarm)."""
    db = tmp_path / "app.db"
    migrate(db, 5)
    writer = _busy_writer(db)
    try:
        result = litefix("diagnose", db, "--json")
        doc = result.json()
        assert not _findings(doc, "database-locked"), doc["findings"]
        assert not _findings(doc, "checkpoint-blocked"), doc["findings"]
    finally:
        writer.kill()
        writer.wait()


def test_write_transaction_held_in_rollback_mode_is_database_locked_reserved(tmp_path: Path) -> None:
    """Rollback-journal mode locks the database file itself: RESERVED at 0x40000001 from BEGIN IMMEDIATE."""
    db = tmp_path / "app.db"
    con = sqlite3.connect(db)
    con.execute(f"CREATE TABLE {APP_TABLE} (id INTEGER PRIMARY KEY, channel TEXT, payload TEXT)")
    con.commit()
    con.close()
    holder = start_app(db)
    try:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute(f"INSERT INTO {APP_TABLE} (channel, payload) VALUES ('a', 'b')")
        doc = litefix("diagnose", db, "--json").json()
        [locked] = _findings(doc, "database-locked")
        assert locked["evidence"]["pid"] == holder.pid
        assert locked["evidence"]["lock"].startswith("RESERVED")
    finally:
        holder.kill()


STUCK_COMMIT = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('w', 'x')")
    print("committing", flush=True)
    con.execute("COMMIT")  # waits (holding PENDING) until the reader's SHARED lock goes
    """
)


def test_rollback_commit_waiting_for_a_reader_names_the_reader(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    con = sqlite3.connect(db)
    con.execute(f"CREATE TABLE {APP_TABLE} (id INTEGER PRIMARY KEY, channel TEXT, payload TEXT)")
    con.commit()
    con.close()
    reader = start_app(db)
    writer = None
    try:
        reader.execute("BEGIN")
        reader.execute(f"SELECT count(*) FROM {APP_TABLE}")
        writer = subprocess.Popen([sys.executable, "-c", STUCK_COMMIT, str(db)], stdout=subprocess.PIPE, text=True)
        assert writer.stdout is not None and writer.stdout.readline().strip() == "committing"
        doc = litefix("diagnose", db, "--json").json()
        [locked] = _findings(doc, "database-locked")
        assert locked["evidence"]["pid"] == writer.pid
        assert locked["evidence"]["lock"].startswith("PENDING")
        assert locked["evidence"]["blocking_readers"] == [reader.pid]
    finally:
        reader.kill()
        if writer is not None:
            writer.kill()
            writer.wait()


def test_proc_locks_lines_are_parsed() -> None:
    """The lock table's own format, as the kernel prints it (POSIX lines, a waiter, an OFD line)."""
    text = (
        "1: POSIX  ADVISORY  WRITE 4242 fe:00:2149192 1073741825 1073741825\n"
        "1: -> POSIX  ADVISORY  WRITE 4343 fe:00:2149192 1073741825 1073741825\n"
        "2: OFDLCK ADVISORY  READ  -1 00:2b:77 0 EOF\n"
        "3: POSIX  ADVISORY  READ 4242 fe:00:2149194 128 EOF\n"
    )
    records = parse_locks(text)
    assert [(r.pid, r.write, r.blocked, r.end) for r in records] == [
        (4242, True, False, 1073741825),
        (4343, True, True, 1073741825),
        (4242, False, False, None),
    ]
    assert records[0].major == 0xFE and records[0].inode == 2149192
