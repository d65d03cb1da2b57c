"""Each scenario of tests/scenarios.py reaches its failure state, on both Litestream versions.

The proof is Litestream's own log, /proc/<pid>/fd and the bytes on disk (plus `litestream
restore`), never litefix's findings: those are tested against these scenarios elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.litestream_harness import VERSIONS, count_rows, deployment, has_litestream_tables, wait_for
from tests.scenarios import (
    APP_TABLE,
    NEW_TABLE,
    SEED_LINE,
    Overlap,
    SchemaChange,
    StaleCause,
    is_v03,
    live_integrity,
    ltx_txids,
    malformed_after_purge,
    meta_dir,
    migration_before_replication,
    older_copy_put_in_place,
    open_files,
    purge_under_litestream,
    rename_over_under_litestream,
    replica_dir_deleted,
    restart,
    restore_and_check,
    seq_dropped_in_place,
    sidecars,
    stale_meta_dir,
    two_replicators_one_replica,
)

pytestmark = pytest.mark.litestream

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"


def litestream_tables(db: Path) -> bool | None:
    """Whether the live file has `_litestream_seq` and `_litestream_lock`; None if unreadable right now.

    The harness reads it without locks (nothing may be written next to it), so a checkpoint can be
    seen half-done; the callers look again.
    """
    try:
        return has_litestream_tables(db)
    except Exception:
        return None


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "level=ERROR" in line]


@pytest.mark.parametrize("version", VERSIONS)
def test_migration_before_replication_is_initialised_by_litestream(version: str, tmp_path: Path) -> None:
    with deployment(tmp_path, version) as dep:
        healthy = migration_before_replication(dep)
        db, log = healthy.db, healthy.log()

        assert not healthy.had_litestream_tables, "the migration made the file, without Litestream's tables"
        # Litestream created _litestream_seq and _litestream_lock in the migration's file.
        wait_for(lambda: litestream_tables(db) is True, 5, "the live file to show Litestream's tables")
        assert "initialized db" in log
        assert error_lines(log) == []
        meta = meta_dir(db)
        if is_v03(version):
            generation = str(healthy.replicated.generation)
            assert re.search(rf'sync: new generation".*generation={generation} reason="no generation exists"', log)
            assert "snapshot written" in log and "wal segment written" in log
            assert (meta / "generation").read_bytes() == f"{generation}\n".encode()
            assert list((meta / "generations" / generation / "wal").glob("*.wal"))
            snapshot = healthy.replica / "generations" / generation / "snapshots" / "00000000.snapshot.lz4"
            assert snapshot.read_bytes()[:4] == LZ4_FRAME_MAGIC
        else:
            assert "snapshot complete" in log
            assert list((meta / "ltx" / "0").glob("*.ltx"))
            for level in ("0", "9"):
                files = list((healthy.replica / "ltx" / level).glob("*.ltx"))
                assert files and all(f.read_bytes()[:4] == b"LTX1" for f in files)
        restored = restore_and_check(dep)
        assert restored.sound and restored.rows == healthy.replicated.rows == 30


@pytest.mark.parametrize("version", VERSIONS)
def test_purge_under_running_litestream_leaves_it_on_deleted_files(version: str, tmp_path: Path) -> None:
    with deployment(tmp_path, version) as dep:
        purged = purge_under_litestream(dep)
        db, log = purged.db, purged.log()

        held = open_files(purged.pids[0], db)
        assert {f.path for f in held} == {str(db), *map(str, sidecars(db))}
        assert all(f.deleted for f in held), held
        assert {f.inode for f in held if f.path == str(db)} == {purged.old_inode} != {purged.new_inode}
        stat_error = f"stat {db}-wal: no such file or directory"
        if is_v03(version):
            assert f'level=ERROR msg="sync error" db={db} error="cannot verify wal state: {stat_error}"' in log
            assert re.search(r'sync: new generation".*reason="wal (overwritten|truncated) by another process"', log)
        else:
            errors = error_lines(log)
            # `cannot verify wal state: open wal file: stat …-wal`, or `checkpoint: open …-wal` when
            # the purge fell inside a checkpoint (scenarios.purge_and_recreate)
            assert len(errors) == 1 and re.search(purged.expected_log[0], errors[0]), errors
            assert log.index("sync recovered") > log.index(errors[0])
        assert count_rows(db, NEW_TABLE) == purged.app_rows == 20

        # The clean point from before the purge still restores what the app had then.
        clean = restore_and_check(dep, *purged.clean.restore_flags())
        assert clean.sound and clean.rows == purged.clean.rows == 30
        by_time = restore_and_check(dep, "-timestamp", purged.clean.timestamp)
        assert by_time.sound and by_time.rows == 30


def test_rename_over_running_litestream_logs_the_incidents_exact_error(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.3.13") as dep:
        renamed = rename_over_under_litestream(dep)
        db, log = renamed.db, renamed.log()

        assert f'level=ERROR msg="sync error" db={db} error="{SEED_LINE}"' in log
        assert renamed.seconds_to_error < 5
        assert_shares_the_wal(renamed.pids[0], db, renamed.old_inode, renamed.new_inode)
        assert renamed.app.running, "the app still holds the shared -wal"


def test_rename_over_running_litestream_0_5_fails_its_checkpoint_barrier(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.5.17") as dep:
        renamed = rename_over_under_litestream(dep)
        db, log = renamed.db, renamed.log()

        errors = error_lines(log)
        assert len(errors) == 1, errors  # 0.5 prints a recurring sync error at most once per 30 s
        assert 'error="checkpoint: _litestream_lock: SQL logic error: no such table: _litestream_lock (1)"' in errors[0]
        assert SEED_LINE not in log
        assert_shares_the_wal(renamed.pids[0], db, renamed.old_inode, renamed.new_inode)
        assert renamed.app.running


def assert_shares_the_wal(pid: int, db: Path, old_inode: int, new_inode: int) -> None:
    """Litestream's db descriptors are on the old, deleted inode; its -wal/-shm ones are the path's own."""
    held = open_files(pid, db)
    on_db = [f for f in held if f.path == str(db)]
    assert on_db and all(f.deleted and f.inode == old_inode for f in on_db), held
    assert db.stat().st_ino == new_inode != old_inode
    for sidecar in sidecars(db):
        on_it = [f for f in held if f.path == str(sidecar)]
        assert on_it and all(not f.deleted and f.inode == sidecar.stat().st_ino for f in on_it), held


@pytest.mark.slow
@pytest.mark.parametrize("change", ["drop_seq", "schema_load"])
@pytest.mark.parametrize("version", VERSIONS)
def test_dropping_litestream_seq_in_place_fails_every_checkpoint(
    version: str, change: SchemaChange, tmp_path: Path
) -> None:
    with deployment(tmp_path, version) as dep:
        dropped = seq_dropped_in_place(dep, change)
        db, log = dropped.db, dropped.log()

        errors = error_lines(log)
        if is_v03(version):
            exact = f'level=ERROR msg="sync error" db={db} error="{SEED_LINE}"'
            assert sum(line.endswith(exact) for line in errors) >= 2, "once per checkpoint"
        elif change == "drop_seq":
            assert "checkpoint: reacquire read lock: SQL logic error: no such table: _litestream_seq (1)" in errors[0]
            assert log.index("sync recovered") > log.index(errors[0])
        else:
            assert "checkpoint: _litestream_lock: SQL logic error: no such table: _litestream_lock (1)" in errors[0]
        held = open_files(dropped.pids[0], db)
        assert held and not any(f.deleted for f in held)
        assert db.stat().st_ino == dropped.inode
        wait_for(lambda: litestream_tables(db) is False, 5, "the live file to show no Litestream tables")

        # The verified repair: a restart re-creates the tables, and the replica catches up with live.
        # (Before it, 0.3 may hold back the writes it copied during a failed checkpoint: it only
        # tells the replica about changes after a sync that succeeds.)
        dropped.replicators[0].stop()
        again = restart(dep)
        wait_for(lambda: litestream_tables(db) is True, 15, "Litestream to re-create its tables")
        rows = 40 if change == "drop_seq" else 10
        wait_for(lambda: (r := restore_and_check(dep)).sound and r.rows == rows, 15, f"{rows} rows in the replica")
        assert error_lines(again.log()) == []


@pytest.mark.parametrize("cause", ["wal_restart", "restored"])
@pytest.mark.parametrize("version", VERSIONS)
def test_stale_meta_dir_no_longer_matches_the_wal_and_restart_starts_over(
    version: str, cause: StaleCause, tmp_path: Path
) -> None:
    with deployment(tmp_path, version) as dep:
        stale = stale_meta_dir(dep, cause)
        live = stale.live_wal_header

        assert stale.replicators[0].proc is not None and stale.replicators[0].proc.poll() is not None
        if is_v03(version):
            assert stale.meta_file.parent.parent.name == (meta_dir(stale.db) / "generation").read_text().strip()
            assert stale.meta_wal_header != live
        else:
            assert stale.meta_wal_header != live[16:24], "walSalt1/2 of the newest L0 file vs the -wal's salts"

        again = restart(dep, stale.restart_log)
        if is_v03(version):
            assert f"wal header mismatch {live.hex()} <> {stale.meta_wal_header.hex()}" in again.log()
        wait_for(lambda: (r := restore_and_check(dep)).sound and r.rows == stale.rows, 15, "restore to equal live")


@pytest.mark.parametrize("overlap", ["same_db", "different_dbs"])
@pytest.mark.parametrize("version", VERSIONS)
def test_two_replicators_upload_into_one_replica(version: str, overlap: Overlap, tmp_path: Path) -> None:
    with deployment(tmp_path, version) as dep:
        two = two_replicators_one_replica(dep, overlap)
        one_log, two_log = (r.log() for r in two.replicators)

        for rep, db in zip(two.replicators, two.dbs, strict=True):
            assert rep.proc is not None and rep.proc.poll() is None
            assert open_files(rep.pid, db)
        replica = str(two.replica)
        assert f"path={replica}" in one_log and f"path={replica}" in two_log
        if overlap == "same_db":
            assert two.uploaded_twice
            for upload in two.uploaded_twice:
                assert upload in one_log and upload in two_log
        elif is_v03(version):
            generations = {(meta_dir(db) / "generation").read_text().strip() for db in two.dbs}
            assert len(generations) == 2
            assert {p.name for p in (two.replica / "generations").iterdir()} == generations
        else:
            assert "detected database behind replica" in two_log and "fetched latest L0 file from replica" in two_log
            assert re.search(rf'msg="ltx file uploaded" .*db={two.dbs[1].name} replica=file level=0', two_log)


@pytest.mark.parametrize("version", VERSIONS)
def test_replica_dir_deleted_under_litestream_leaves_a_replica_with_no_snapshot(version: str, tmp_path: Path) -> None:
    with deployment(tmp_path, version) as dep:
        gone = replica_dir_deleted(dep)

        assert error_lines(gone.log()) == [], "neither version notices"
        restored = restore_and_check(dep)
        assert restored.code == 1
        if is_v03(version):
            generation_dir = gone.replica / "generations" / str(gone.clean.generation)
            assert all(f.is_relative_to(generation_dir / "wal") for f in gone.new_files)
            assert not (generation_dir / "snapshots").exists()
            assert "cannot find snapshot index by timestamp: no snapshots available" in restored.output
        else:
            assert all(ltx_txids(f)[0] > int(str(gone.clean.txid), 16) for f in gone.new_files)
            assert not (gone.replica / "ltx" / "9").exists()
            assert "no matching backup files available" in restored.output


@pytest.mark.parametrize("version", VERSIONS)
def test_older_copy_put_in_place_is_behind_its_replica(version: str, tmp_path: Path) -> None:
    with deployment(tmp_path, version) as dep:
        older = older_copy_put_in_place(dep)
        db = older.db

        rep = older.replicators[0]
        assert rep.proc is not None and rep.proc.poll() is not None
        assert not sidecars(db)[0].exists() and not sidecars(db)[1].exists()
        assert count_rows(db) == older.live_rows == 30
        newest = restore_and_check(dep)
        assert newest.sound and newest.rows == older.replica_point.rows == 60
        if is_v03(version):
            assert (meta_dir(db) / "generation").read_text().strip() == older.replica_point.generation
        else:
            local = max(ltx_txids(f)[1] for f in (meta_dir(db) / "ltx" / "0").glob("*.ltx"))
            assert local >= int(str(older.replica_point.txid), 16) > int(str(older.copy_point.txid), 16)


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_malformed_after_purge_restores_corrupt_but_the_clean_point_restores_sound(
    version: str, tmp_path: Path
) -> None:
    with deployment(tmp_path, version) as dep:
        bad = malformed_after_purge(dep)

        latest = restore_and_check(dep, table=NEW_TABLE)
        assert latest.code == 0, "the restore itself reports success"
        assert latest.integrity != ["ok"], latest
        assert live_integrity(bad.db) == ["ok"], "the live file is fine; only the replica mixes old and new pages"

        clean = restore_and_check(dep, *bad.clean.restore_flags(), table=APP_TABLE)
        assert clean.sound and clean.rows == bad.clean.rows == 2020
        if is_v03(version):
            assert bad.clean.generation != (meta_dir(bad.db) / "generation").read_text().strip()
        else:
            by_time = restore_and_check(dep, "-timestamp", bad.clean.timestamp, table=APP_TABLE)
            assert by_time.sound and by_time.rows == 2020
