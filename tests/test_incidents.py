"""The incident and its cousins, reproduced with the real binaries, diagnosed and repaired by litefix.

Each test reads like the report it prevents: what was done to a running deployment,
what Litestream logged, what litefix names, and — where a repair exists — that the
repaired database replicates cleanly and restores to itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.formats.wal import scan_wal
from litefix.replicas.pages import LocalPages, compare
from tests import scenarios
from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, Deployment, Replicator, binary, count_rows, deployment

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)

SEED = "checkpoint: mode=PASSIVE err=release read lock: no such table: _litestream_seq"


@pytest.fixture(params=VERSIONS)
def dep(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    with deployment(tmp_path, request.param) as d:
        yield d


def run(dep: Deployment, *args: str | Path, config: Path | None = None) -> Result:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(dep.version))}
    return litefix(*args, "--config", config or dep.root / "litestream.yml", env=env, timeout=300)


def findings(result: Result) -> dict[str, dict[str, object]]:
    return {f["code"]: f for f in result.json()["findings"]}


def assert_replicates_cleanly(dep: Deployment) -> None:
    """A fresh Litestream: no error for several sync intervals, and the replica restores to the live file."""
    rep = Replicator(dep.version, dep.root / "litestream.yml", dep.root / "after-repair.log").start()
    try:
        rep.wait_for_log(r"initialized db", 20)
        scenarios.run_app_sql(
            dep.db(), "CREATE TABLE IF NOT EXISTS after_repair (x)", *["INSERT INTO after_repair VALUES (1)"] * 5
        )
        time.sleep(1.2)
    finally:
        rep.stop()
    errors = [line for line in rep.log().splitlines() if "level=ERROR" in line]
    assert not errors, errors
    out = dep.root / "check.db"
    proc = subprocess.run(
        [
            str(binary(dep.version)),
            "restore",
            "-config",
            str(dep.root / "litestream.yml"),
            "-o",
            str(out),
            str(dep.db()),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    wal = Path(f"{dep.db()}-wal")
    mine = LocalPages.open(str(dep.db()), scan_wal(str(wal), collect_pages=True) if wal.exists() else None)
    assert compare(mine, LocalPages.open(str(out))).equal


# --- what litefix sees ----------------------------------------------------------------------------


def test_database_created_by_a_migration_before_replication_is_healthy_once_litestream_runs(
    dep: Deployment,
) -> None:
    """The team's first hypothesis was wrong: Litestream does initialise a file a migration created."""
    scenarios.migration_before_replication(dep)
    result = run(dep, "diagnose", dep.db(), "--json")
    assert result.json()["healthy"], result.out
    assert result.code == 0


def test_rename_over_running_litestream_is_litestream_replaced_while_it_logs_the_seed_line(
    dep: Deployment,
) -> None:
    """`mv new.db db` under a running replicator, the old -wal left in place: the incident itself."""
    shared = scenarios.rename_over_under_litestream(dep)
    started = time.monotonic()
    result = run(dep, "diagnose", dep.db(), "--json")
    elapsed = time.monotonic() - started
    if dep.version.startswith("0.3"):
        assert SEED in shared.log()  # Litestream is logging the incident's exact line right now
    found = findings(result)
    replaced = found["litestream-replaced"]
    assert replaced["severity"] == "error"
    assert replaced["evidence"]["case"] == "shared-wal"  # type: ignore[index]
    assert replaced["evidence"]["pid"] in shared.pids  # type: ignore[index]
    assert {"init", "restore"} == set(replaced["strategies"])  # type: ignore[arg-type]
    # the migration's new file is at the path and the app writes it through the WAL Litestream reads as
    # the old file's: the writes really are being lost, and the finding names the writer
    assert replaced["evidence"]["current_copy"] == "path"  # type: ignore[index]
    assert replaced["evidence"]["path_writers"] == [shared.app.pid]  # type: ignore[index]
    assert f"pid {shared.app.pid} writes the file at the path" in str(replaced["message"])
    assert "writes are being lost right now" in str(replaced["message"])
    assert "new database" in str(replaced["message"])
    assert result.code == 1
    # "within one sync interval": the evidence is /proc, not the replica; it does not wait for Litestream.
    assert elapsed < 10, elapsed


def test_rails_purge_under_running_litestream_is_litestream_replaced(dep: Deployment) -> None:
    purged = scenarios.purge_under_litestream(dep)
    found = findings(run(dep, "diagnose", dep.db(), "--json"))
    replaced = found["litestream-replaced"]
    assert replaced["evidence"]["case"] == "purge"  # type: ignore[index]
    held = {d["inode"] for d in replaced["evidence"]["descriptors"]}  # type: ignore[index]
    assert purged.old_inode in held and purged.new_inode not in held
    # the schema load's file is the new database; its app has exited, so nothing is being lost right now
    assert replaced["evidence"]["current_copy"] == "path"  # type: ignore[index]
    assert replaced["evidence"]["path_copy"]["litestream_tables"] is False  # type: ignore[index]
    assert replaced["evidence"]["path_writers"] == []  # type: ignore[index]
    assert "new database" in str(replaced["message"]) and "being lost" not in str(replaced["message"])
    assert set(replaced["strategies"]) == {"init", "restore"}  # type: ignore[arg-type]


def test_older_backup_moved_over_running_litestream_names_the_held_file_current_and_restores_it(
    dep: Deployment,
) -> None:
    """An operator `mv`s an older backup over the path while replicate runs (reported as "the app's writes
    are being lost" when the replica was the complete copy): litefix says the path holds the older copy,
    offers only restore, and the repair brings back every row and keeps the backup in the quarantine."""
    older = scenarios.older_copy_moved_over(dep)
    result = run(dep, "diagnose", dep.db(), "--json")
    replaced = findings(result)["litestream-replaced"]
    evidence, message = replaced["evidence"], str(replaced["message"])
    assert evidence["current_copy"] == "held", replaced  # type: ignore[index]
    path_copy, held_copy = evidence["path_copy"], evidence["held_copy"]  # type: ignore[index]
    assert path_copy["change_counter"] < held_copy["change_counter"]
    assert path_copy["page_count"] < held_copy["page_count"]  # 10 rows against 210
    assert evidence["pages"]["different_pages"] > 0 and evidence["path_writers"] == []  # type: ignore[index]
    assert "the file at the path is an older copy" in message
    assert f"the current data is on the replica and in the file Litestream holds (pid {older.rep.pid}" in message
    assert "being lost" not in message  # nothing writes the file at the path
    assert replaced["strategies"] == ["restore"]
    assert "--strategy restore" in str(replaced["hint"])

    repaired = run(dep, "repair", dep.db(), "--stop-litestream", "--yes")
    assert repaired.code == 0, repaired.out + repaired.err
    assert "Plan: restore" in repaired.out, repaired.out
    assert count_rows(dep.db()) == older.current_rows  # the newest data, not the backup's 10 rows
    kept = [p for p in (dep.root / ".litefix" / "quarantine").glob("*/files/*") if p.name == dep.db().name]
    assert [count_rows(p) for p in kept] == [older.copy_rows]  # the backup moved aside, not deleted


def test_identical_copy_moved_over_running_litestream_says_the_contents_match(dep: Deployment) -> None:
    """`cp db db.tmp && mv db.tmp db` under replicate: a new inode with the same bytes. Nothing is lost
    yet and no copy is older; litefix says so instead of claiming lost writes."""
    with scenarios.identical_copy_moved_over(dep) as copied:
        result = run(dep, "diagnose", dep.db(), "--json")
    replaced = findings(result)["litestream-replaced"]
    evidence, message = replaced["evidence"], str(replaced["message"])
    assert evidence["case"] == "shared-wal" and evidence["current_copy"] == "same", replaced  # type: ignore[index]
    assert evidence["pages"]["identical"] is True and evidence["pages"]["different_pages"] == 0  # type: ignore[index]
    assert f"(pid {copied.rep.pid}" in message and "equal page for page" in message
    assert "being lost" not in message and "older copy" not in message


def test_seq_dropped_in_place_is_tables_missing_with_the_same_inode(dep: Deployment) -> None:
    """A schema load dropped every table: same file, the seed line on every checkpoint (0.3)."""
    scenarios.seq_dropped_in_place(dep, "drop_seq")
    found = findings(run(dep, "diagnose", dep.db(), "--json"))
    assert found["litestream-tables-missing"]["severity"] == "error"
    assert "litestream-replaced" not in found  # same inode: a restart, not a replacement, is the fix
    assert found["litestream-tables-missing"]["strategies"] == ["init"]


def test_litestream_stopped_with_a_stale_meta_dir_is_state_mismatch(dep: Deployment) -> None:
    stale = scenarios.stale_meta_dir(dep, "wal_restart")
    found = findings(run(dep, "diagnose", dep.db(), "--json"))
    mismatch = found["litestream-state-mismatch"]
    text = str(mismatch["evidence"])
    assert stale.live_wal_header[:32].hex() in text or "salt" in str(mismatch["message"]), mismatch


def test_two_replicators_on_one_database_are_duplicates(dep: Deployment) -> None:
    two = scenarios.two_replicators_one_replica(dep, "same_db")
    found = findings(run(dep, "diagnose", dep.db(), "--json"))
    duplicate = found["litestream-duplicate"]
    assert set(duplicate["evidence"]["pids"]) == set(two.pids)  # type: ignore[index]


def test_two_databases_sharing_one_replica_path_are_duplicates(dep: Deployment) -> None:
    two = scenarios.two_replicators_one_replica(dep, "different_dbs")
    found = findings(run(dep, "diagnose", two.dbs[0], "--json", config=two.configs[0]))
    assert "litestream-duplicate" in found, found.keys()


def test_explain_names_the_cause_of_the_logged_seed_line(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.3.13") as dep:
        shared = scenarios.rename_over_under_litestream(dep)
        log = tmp_path / "captured.log"
        log.write_text(shared.log())
    result = litefix("explain", log)
    assert "replaced or recreated under a running Litestream" in result.out
    assert "stop Litestream" in result.out.lower() or "Stop Litestream" in result.out
    assert result.code == 1


# --- the replica after the damage ------------------------------------------------------------------


@pytest.mark.slow
def test_replica_of_a_purged_database_restores_corrupt_and_litefix_names_the_clean_point(dep: Deployment) -> None:
    """Measured on both versions: the replica restores with exit 0 to a mix of old and new pages."""
    broken = scenarios.malformed_after_purge(dep)
    for rep in broken.replicators:
        rep.stop()
    result = run(dep, "diagnose", dep.db(), "--json", "--verify-restore")
    corrupt = findings(result)["replica-corrupt"]
    clean = corrupt["evidence"]["newest_clean"]  # type: ignore[index]
    assert clean is not None, corrupt
    position = clean["position"]  # type: ignore[index]
    if dep.version.startswith("0.3"):
        assert position == f"generation {broken.clean.generation}"
    else:
        assert broken.clean.txid is not None
        assert int(position.split()[-1], 16) >= int(broken.clean.txid, 16)


# --- the repairs ---------------------------------------------------------------------------------


def test_the_incident_is_repaired_automatically_and_replicates_cleanly_after(dep: Deployment) -> None:
    shared = scenarios.rename_over_under_litestream(dep)
    shared.app.kill()  # the deploy is being fixed: the app is down
    result = run(dep, "repair", dep.db(), "--stop-litestream", "--yes")
    assert result.code == 0, result.out + result.err
    assert "copy-held" in result.out  # what the old Litestream still held was saved first
    held = [p for p in (dep.root / ".litefix" / "quarantine").glob("*/files/held-by-*")]
    assert held
    after = run(dep, "diagnose", dep.db(), "--json")
    assert not {f for f in findings(after) if f != "litestream-not-running"} - {
        "sqlite-wal-reset-bug",
        "litestream-version-risk",
    }
    assert_replicates_cleanly(dep)


@pytest.mark.slow
def test_a_corrupt_replica_after_a_purge_is_repaired_from_the_sound_live_file(dep: Deployment) -> None:
    broken = scenarios.malformed_after_purge(dep)
    for rep in broken.replicators:
        rep.stop()
    result = run(dep, "repair", dep.db(), "--verify-restore", "--yes")
    assert result.code == 0, result.out + result.err
    assert "Plan: init" in result.out
    assert_replicates_cleanly(dep)


@pytest.mark.slow
def test_restore_after_a_purge_takes_the_newest_clean_point_not_the_corrupt_latest(dep: Deployment) -> None:
    """The replica's latest state is a mix of old and new pages; restore must search back for a sound one."""
    broken = scenarios.malformed_after_purge(dep)
    for rep in broken.replicators:
        rep.stop()
    result = run(dep, "repair", dep.db(), "--strategy", "restore", "--yes")
    assert result.code == 0, result.out + result.err
    journal = next((dep.root / ".litefix" / "repairs" / "history").glob("*.journal"))
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    restored = next(e["result"] for e in events if e.get("event") == "done" and "point" in e.get("result", {}))
    assert restored["point"] != "latest" and restored["tested"][0]["ok"] is False, restored
    con = sqlite3.connect(f"file:{dep.db()}?mode=ro&immutable=1", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


def test_an_app_still_writing_to_a_replaced_file_is_database_replaced(tmp_path: Path) -> None:
    """A Rails server kept its connection while a deploy step moved a new file over the path."""
    db = tmp_path / "production.sqlite3"
    scenarios.create_new_schema(db, seed_rows=3)
    app = scenarios.start_app(db)
    try:
        app.execute("SELECT count(*) FROM sqlite_schema")
        fresh = tmp_path / "fresh.sqlite3"
        scenarios.create_new_schema(fresh, seed_rows=1)
        os.rename(fresh, db)
        result = litefix("diagnose", db, "--json")
        [finding] = [f for f in result.json()["findings"] if f["code"] == "database-replaced"]
        assert finding["evidence"]["pid"] == app.pid
        assert finding["severity"] == "error"
    finally:
        app.kill()


def test_a_shm_deleted_under_litestream_is_named_without_claiming_the_replica_is_corrupt(dep: Deployment) -> None:
    """`rm *-shm` in a cleanup script while replicate runs: the database file is still the one Litestream
    opened, only its -shm is gone. Litestream and the app no longer share SQLite's locks; nothing yet
    says the replica is damaged, so the finding must not say so."""
    rep, _clean = scenarios.healthy_deployment(dep)
    Path(f"{dep.db()}-shm").unlink()
    result = run(dep, "diagnose", dep.db(), "--json")
    replaced = findings(result)["litestream-replaced"]
    assert replaced["evidence"]["case"] == "sidecar-replaced", replaced  # type: ignore[index]
    assert replaced["evidence"]["pid"] == rep.pid  # type: ignore[index]
    assert "-shm" in str(replaced["message"]) and "corrupt" not in str(replaced["message"]), replaced


def test_a_database_the_config_does_not_list_is_config_db_missing(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.5.17", ("production.sqlite3",)) as dep:
        dep.write_config()
        stray = tmp_path / "production_cable.sqlite3"
        scenarios.create_new_schema(stray)
        found = findings(run(dep, "diagnose", stray, "--json"))
    assert str(dep.db()) in str(found["config-db-missing"]["evidence"])
