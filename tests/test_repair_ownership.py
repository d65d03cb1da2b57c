"""A repair run as root leaves every file it puts in place owned and moded like the one it replaced.

The incident this guards against: a restore as root left the database owned by root, mode
0600 (0.3.13's restore), and the app's user then got "attempt to write a readonly
database"; Litestream running as that user could not open its meta dir. Here the site
belongs to uid 1000, litefix runs as root, and afterwards the app and Litestream run as
uid 1000 (through setpriv) and must work.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import skip_outside_ci
from tests.litestream_harness import binary, count_rows, migrate
from tests.test_repair import DB, replicated_site

pytestmark = pytest.mark.litestream  # real repairs with the real binaries

APP_UID = 1000
SETPRIV = ["setpriv", f"--reuid={APP_UID}", f"--regid={APP_UID}", "--clear-groups"]


@pytest.fixture
def shared_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        skip_outside_ci("needs root to own files as another user; CI runs as root")
    if not shutil.which("setpriv"):
        skip_outside_ci("setpriv is missing: cannot run the app and Litestream as uid 1000")
    root = Path(tempfile.mkdtemp(prefix="litefix-owner-"))
    root.chmod(0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _chown_tree(path: Path, uid: int) -> None:
    os.chown(path, uid, uid)
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(dirpath, name), uid, uid)


def _owned_by_app(path: Path) -> list[str]:
    """Everything under `path` (itself included) not owned by the app's uid."""
    wrong = [str(path)] if path.stat().st_uid != APP_UID else []
    for dirpath, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(dirpath, name)
            if os.lstat(full).st_uid != APP_UID:
                wrong.append(full)
    return wrong


APP_WRITE = (
    "import sqlite3, sys\n"
    "con = sqlite3.connect(sys.argv[1], timeout=10)\n"
    "con.executemany('INSERT INTO solid_cable_messages (channel, payload) VALUES (?, ?)', [('app', 'x')] * 5)\n"
    "con.commit()\n"
)


@pytest.mark.parametrize(("strategy", "version"), [("restore", "0.3.13"), ("init", "0.5.17")])
def test_a_repair_as_root_leaves_the_app_user_owning_its_database(
    strategy: str, version: str, shared_root: Path
) -> None:
    app = shared_root / "app"
    app.mkdir()
    app.chmod(0o755)
    site = replicated_site(app, version)
    if strategy == "restore":
        site.db.unlink()
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{site.db}{suffix}").unlink(missing_ok=True)
        migrate(site.db, 6)
    _chown_tree(app, APP_UID)
    if site.db.exists():
        site.db.chmod(0o644)
    repaired = site.litefix("repair", site.db, "--strategy", strategy, "--yes")
    assert repaired.code == 0, repaired.out + repaired.err
    st = site.db.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (APP_UID, APP_UID, 0o644)
    assert not _owned_by_app(app / ".litefix"), _owned_by_app(app / ".litefix")
    for sidecar in (Path(f"{site.db}-wal"), Path(f"{site.db}-shm"), app / f".{DB}-litestream"):
        if sidecar.exists():
            assert not _owned_by_app(sidecar), _owned_by_app(sidecar)

    rows = count_rows(site.db)
    log = app / "as-app.log"
    with open(log, "wb") as out:
        litestream = subprocess.Popen(
            [*SETPRIV, str(binary(version)), "replicate", "-config", str(site.config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        time.sleep(1.0)
        wrote = subprocess.run(
            [*SETPRIV, sys.executable, "-c", APP_WRITE, str(site.db)], capture_output=True, text=True, check=False
        )
        assert wrote.returncode == 0, wrote.stderr  # not "attempt to write a readonly database"
        time.sleep(1.2)
        assert litestream.poll() is None, log.read_text()
    finally:
        os.killpg(litestream.pid, signal.SIGTERM)
        litestream.wait(30)
    errors = [line for line in log.read_text().splitlines() if "level=ERROR" in line or "permission denied" in line]
    assert not errors, errors
    assert count_rows(site.db) == rows + 5
