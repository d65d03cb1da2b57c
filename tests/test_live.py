"""A busy, healthy deployment under `check` and `diagnose` in a loop: not one false error.

Four databases shaped like Rails 8's (primary, cache, queue, cable), one writer touching all four
every few milliseconds (single rows, multi-page transactions, checkpoints of every kind, so the
-wal is reset under the readers), and the real Litestream replicating with short intervals. Every
reader of a file these processes write must get a consistent view or say "inconclusive"; a finding
whose repair is destructive must be confirmed by a second read. Measured before the fix: 2-4 false
errors in 15 runs (`wal-corrupt`, `replica-ahead`).

The in-suite size is small (LITEFIX_STRESS_RUNS, default 8 per version and command); `make stress`
runs 300 of each per version and prints the counts the README quotes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from litefix.diagnose.context import Options
from litefix.diagnose.runner import diagnose
from litefix.gate.check import run_check
from litefix.model import Finding, Severity
from tests.litestream_harness import VERSIONS, Replicator, config_text, has_litestream_tables, wait_for

pytestmark = [pytest.mark.litestream, pytest.mark.slow]

NAMES = ("production.sqlite3", "production_cache.sqlite3", "production_queue.sqlite3", "production_cable.sqlite3")
RUNS = int(os.environ.get("LITEFIX_STRESS_RUNS", "8"))

WRITER = r"""
import os, random, sqlite3, sys, time
stop, dbs = sys.argv[1], sys.argv[2:]
cons = []
for db in dbs:
    con = sqlite3.connect(db, isolation_level=None, timeout=30)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute("PRAGMA wal_autocheckpoint=100")  # small: the app checkpoints (and resets) often too
    con.execute("CREATE TABLE IF NOT EXISTS ledger (id INTEGER PRIMARY KEY, tick INTEGER, payload BLOB)")
    cons.append(con)
tick = 0
modes = ("PASSIVE", "FULL", "RESTART", "TRUNCATE")
while not os.path.exists(stop):
    tick += 1
    for con in cons:
        if tick % 3 == 0:  # a multi-page transaction
            con.execute("BEGIN IMMEDIATE")
            for _ in range(24):
                con.execute("INSERT INTO ledger (tick, payload) VALUES (?, randomblob(3000))", (tick,))
            con.execute("COMMIT")
        else:
            con.execute("INSERT INTO ledger (tick, payload) VALUES (?, randomblob(200))", (tick,))
        if tick % 40 == 0:
            con.execute("DELETE FROM ledger WHERE id IN (SELECT id FROM ledger ORDER BY id LIMIT 50)")
    if tick % 25 == 0:
        try:
            random.choice(cons).execute(f"PRAGMA wal_checkpoint({random.choice(modes)})").fetchall()
        except sqlite3.OperationalError:
            pass  # busy: Litestream holds its read lock
    time.sleep(0.0002)
"""


@contextmanager
def busy_deployment(root: Path, version: str) -> Iterator[tuple[Path, list[Path]]]:
    """Four databases, a writer on all of them at a high rate, and `litestream replicate`; yields
    (config, databases) once Litestream has taken every database over."""
    dbs = [root / name for name in NAMES]
    config = root / "litestream.yml"
    config.write_text(config_text(version, [(db, root / "replica" / db.name) for db in dbs], log_level="info"))
    stop = root / "stop-writer"
    writers = [  # two app processes, two databases each, like a web and a job worker
        subprocess.Popen([sys.executable, "-c", WRITER, str(stop), *map(str, pair)]) for pair in (dbs[:2], dbs[2:])
    ]
    replicator = Replicator(version, config, root / "litestream.log")
    try:
        wait_for(lambda: all(db.exists() for db in dbs), what="the writer to create the databases")
        replicator.start()
        for db in dbs:
            wait_for(lambda db=db: has_litestream_tables(db), timeout=30, what=f"Litestream to take over {db.name}")
        wait_for(lambda: all((root / "replica" / db.name).exists() for db in dbs), what="the replicas to appear")
        time.sleep(1.0)  # a few checkpoints and WAL resets before the first look
        yield config, dbs
        assert all(w.poll() is None for w in writers), "the writers must still run: the databases stayed writable"
    finally:
        stop.touch()
        for writer in writers:
            try:
                writer.wait(30)
            except subprocess.TimeoutExpired:
                writer.kill()
                writer.wait()
        replicator.stop()


def _describe(subject: str, f: Finding) -> str:
    return f"{os.path.basename(subject)}: {f.code} [{f.severity}] {f.message[:300]}"


def stress(root: Path, version: str, runs: int) -> dict[str, Counter[str]]:
    """Run `check` and `diagnose` (in-process, the same code the CLI calls) `runs` times each against
    the busy deployment; count every finding by severity and code."""
    seen: dict[str, Counter[str]] = {"error": Counter(), "warning": Counter(), "info": Counter(), "runs": Counter()}
    errors: list[str] = []
    warnings: list[str] = []
    os.environ["LITEFIX_LITESTREAM"] = str(Replicator(version, root, root).binary)
    with busy_deployment(root, version) as (config, dbs):
        options = Options.from_cli(config=str(config))
        for i in range(runs):
            report = run_check(options)
            seen["runs"]["check"] += 1
            for subject, f in report.all_findings():
                if subject == "deployment" and f.code == "litestream-already-running":
                    continue  # the pre-deploy gate's point: Litestream runs, so this is no time to deploy
                seen[f.severity.value][f.code] += 1
                if f.severity is Severity.ERROR:
                    errors.append("check: " + _describe(subject, f))
                elif f.severity is Severity.WARNING and not f.code.endswith("-not-persistent"):
                    warnings.append("check: " + _describe(subject, f))
            db = dbs[i % len(dbs)]
            diagnosis = diagnose(db, options)
            seen["runs"]["diagnose"] += 1
            for f in diagnosis.findings:
                seen[f.severity.value][f.code] += 1
                if f.severity is Severity.ERROR:
                    errors.append("diagnose: " + _describe(str(db), f))
                elif f.severity is Severity.WARNING and f.code != "database-not-persistent":
                    warnings.append("diagnose: " + _describe(str(db), f))
            assert report.inspected and diagnosis.inspected, [r for r in diagnosis.inspectors if r.status != "ok"]
    if warnings:
        print("\n" + "\n".join(warnings[:20]))
    print(
        f"\nLitestream {version}: {dict(seen['runs'])} runs; errors {dict(seen['error'])}; "
        f"warnings {dict(seen['warning'])}; infos {dict(seen['info'])}"
    )
    assert errors == [], "\n".join(errors[:20])
    return seen


@pytest.mark.parametrize("version", VERSIONS)
def test_a_busy_healthy_deployment_never_gets_an_error_from_check_or_diagnose(version: str, tmp_path: Path) -> None:
    seen = stress(tmp_path, version, RUNS)
    assert seen["runs"]["check"] == RUNS and seen["runs"]["diagnose"] == RUNS
