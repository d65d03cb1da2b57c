"""Diagnosing never changes a byte: no checkpoint, no new -shm or -wal, no mtime change.

Measured before litefix existed: a read-write open checkpoints and deletes the
-wal (the evidence is gone), and `mode=ro` creates a -shm and sometimes a 0-byte
-wal that then breaks Litestream 0.3 with `read header: EOF`.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import EXPECTED
from tests.helpers import fingerprint, litefix

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_diagnose_leaves_every_fixture_untouched(name: str, state: Callable[[str], Path]) -> None:
    db = state(name)
    before = fingerprint(db.parent)
    result = litefix("diagnose", db, "--json", "--integrity", "full")
    assert result.code in (0, 1), result.err
    assert fingerprint(db.parent) == before


def test_uncheckpointed_wal_without_shm_stays_byte_identical(state: Callable[[str], Path]) -> None:
    db = state("healthy-uncheckpointed")
    assert not Path(f"{db}-shm").exists()
    before = fingerprint(db.parent)
    result = litefix("diagnose", db, "--json", "--integrity", "full")
    assert result.code == 0, result.out
    facts = {run["name"]: run.get("facts", {}) for run in result.json()["inspectors"]}
    assert facts["wal"]["committed_frames"] > 0
    assert facts["litestream-tables"]["litestream_seq"] == 1
    assert fingerprint(db.parent) == before
    assert not Path(f"{db}-shm").exists()


WRITER = textwrap.dedent(
    """
    import sqlite3, sys
    con = sqlite3.connect(sys.argv[1], isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("CREATE TABLE IF NOT EXISTS _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)")
    con.execute("CREATE TABLE IF NOT EXISTS _litestream_lock (id INTEGER)")
    con.execute("INSERT OR REPLACE INTO _litestream_seq VALUES (1, 1)")
    con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, body TEXT)")
    print("ready", flush=True)
    i = 0
    while True:
        con.execute("BEGIN")
        for _ in range(7):
            con.execute("INSERT INTO events (body) VALUES (?)", ("e" * 700,))
        con.execute("COMMIT")
        i += 1
    """
)


def test_writer_killed_mid_transaction_stream_is_diagnosed_and_left_identical(tmp_path: Path) -> None:
    db = tmp_path / "production.sqlite3"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 30
    while wal.stat().st_size < 2_000_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    Path(f"{db}-shm").unlink()  # the state the issue names: committed frames, no -shm

    before = fingerprint(tmp_path)
    result = litefix("diagnose", db, "--json", "--integrity", "full")
    after = fingerprint(tmp_path)
    assert after == before
    doc = result.json()
    wal_facts = next(run["facts"] for run in doc["inspectors"] if run["name"] == "wal")
    # SQLite's own recovery, on a copy, must agree with litefix about what is committed.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "c.db").write_bytes(db.read_bytes())
    (copy / "c.db-wal").write_bytes(wal.read_bytes())
    con = sqlite3.connect(copy / "c.db")
    rows = con.execute("SELECT count(*) FROM events").fetchone()[0]
    _busy, log_frames, _done = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    con.close()
    assert wal_facts["committed_frames"] == log_frames
    assert rows > 0 and rows % 7 == 0  # whole transactions only
    codes = {f["code"] for f in doc["findings"] if f["severity"] != "info"}
    assert codes <= {"wal-torn-tail"}, doc["findings"]
    assert result.code == 0
