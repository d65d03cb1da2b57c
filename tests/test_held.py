"""Reading the two copies of a replaced database: the file at the path and the one a process still holds.

These are the facts `litestream-replaced` words its verdict from (`current_copy`), so each must be
right on real SQLite files: equal pages are equal, one changed page is one, a file too big to compare
says so instead of guessing, a file the user may not read is a sentence, not a traceback. The
end-to-end cases, with the real Litestream binaries, are in test_incidents.py.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from litefix.system.held import compare_pages, read_copy
from tests.helpers import as_nobody
from tests.litestream_harness import migrate


def test_a_byte_for_byte_copy_compares_identical_and_one_changed_row_is_one_page(tmp_path: Path) -> None:
    db, copy = tmp_path / "app.db", tmp_path / "copy.db"
    migrate(db, 100)  # closed: the -wal is checkpointed into the file and removed
    shutil.copyfile(db, copy)
    page_size = read_copy(str(db)).header.page_size  # type: ignore[union-attr]
    same = compare_pages(str(db), str(copy), page_size)
    assert same.compared and same.identical and same.different_pages == 0 and same.equal_pages > 1

    con = sqlite3.connect(copy, isolation_level=None)
    con.execute("PRAGMA journal_mode=DELETE")  # rewrite in place, no -wal, so the file itself changes
    con.execute("UPDATE solid_cable_messages SET payload = 'changed' WHERE id = 100")
    con.close()
    changed = compare_pages(str(db), str(copy), page_size)
    assert changed.compared and not changed.identical
    assert changed.different_pages >= 1 and changed.equal_pages >= 1  # the header page and the row's leaf


def test_files_beyond_the_limit_are_not_compared_and_say_why(tmp_path: Path) -> None:
    db = tmp_path / "app.db"
    migrate(db, 100)
    result = compare_pages(str(db), str(db), 4096, limit=4096)
    assert not result.compared and "not compared" in result.why_not
    assert result.to_json() == {"compared": False, "why_not": result.why_not}


def test_a_new_database_has_no_litestream_tables_and_its_header_is_read(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    migrate(db, 3)
    facts = read_copy(str(db))
    assert facts.error is None and facts.has_litestream_tables is False
    assert facts.to_json()["page_count"] == os.path.getsize(db) // facts.header.page_size  # type: ignore[union-attr]


def test_a_copy_the_user_may_not_read_is_one_sentence(tmp_path: Path) -> None:
    """As an unprivileged user (Litestream runs as another): the verdict becomes "unknown", with why."""
    prefix = as_nobody()
    secret = tmp_path / "secret.db"
    migrate(secret, 1)
    secret.chmod(0o600)
    os.chmod(tmp_path, 0o755)
    code = (
        "import json, sys\n"
        "from litefix.system.held import read_copy\n"
        "print(json.dumps(read_copy(sys.argv[1]).to_json()))\n"
    )
    proc = subprocess.run(
        [*prefix, sys.executable, "-c", code, str(secret)], capture_output=True, text=True, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert f"cannot read {secret}: permission denied" in proc.stdout


def test_a_fifo_at_the_path_is_a_sentence_never_a_hang(tmp_path: Path) -> None:
    """Something put a FIFO where the database was (adversarial, but a plain open would block for
    ever): both reads say what it is and return at once. Run in a child with a timeout, so a
    regression fails instead of hanging the suite."""
    db, fifo = tmp_path / "app.db", tmp_path / "fifo.db"
    migrate(db, 10)
    os.mkfifo(fifo)
    code = (
        "import sys; from litefix.system.held import compare_pages, read_copy; "
        "print(read_copy(sys.argv[1]).error); print(compare_pages(sys.argv[1], sys.argv[2], 4096).why_not)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fifo), str(db)], capture_output=True, text=True, check=False, timeout=30
    )
    assert proc.returncode == 0, proc.stderr
    told, why_not = proc.stdout.splitlines()
    assert told == f"{fifo} is a FIFO, not a database file"
    assert "FIFO" in why_not and "not a regular file" in why_not
