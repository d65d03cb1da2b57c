"""`litefix verify`: the round trip through a real Litestream, and each way it fails, on 0.3.13 and 0.5.17.

Every test starts a real `litestream replicate` on a real database with a file replica (and one on the
S3 server the tests start). No sleeps: verify itself polls, and the tests wait on the disk.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import lz4.frame
import pytest

from litefix.config import load_config
from litefix.diagnose.context import Options
from litefix.formats.ltx_pages import read_page_index, read_page_index_from
from litefix.monitor.replica_pages import (
    GenerationPageLookup,
    LtxPageLookup,
    RangedObject,
    Reads,
    find_row,
    walk_to_page,
)
from litefix.monitor.state import load_last_verify
from litefix.monitor.verify import VerifyOptions, verify
from litefix.replicas.plan import plan_ltx_restore
from litefix.replicas.reader import read_replica, replica_targets
from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, Deployment, Replicator, binary, count_rows, migrate
from tests.s3server import S3Server, start_server
from tests.scenarios import paused, start_replicating

pytestmark = pytest.mark.litestream


@pytest.fixture(params=VERSIONS)
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Deployment, Replicator]]:
    """A migrated database replicated by a running Litestream of each version, to a file replica."""
    dep = Deployment(tmp_path, request.param, ("app.db",))
    migrate(dep.db(), 10)
    rep = start_replicating(dep)
    try:
        yield dep, rep
    finally:
        dep.stop_all()


def run_verify(dep: Deployment, *args: str) -> Result:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(dep.version))}
    if not dep.version.startswith("0.3"):
        env.pop("AWS_CA_BUNDLE", None)  # 0.5.17 cannot build its S3 client with it set (notes §10)
    return litefix("verify", dep.db(), "--config", dep.root / "litestream.yml", *args, env=env)


def test_a_write_reaches_the_replica_and_is_read_back_from_its_pages(live: tuple[Deployment, Replicator]) -> None:
    dep, _rep = live
    result = run_verify(dep, "--json", "--timeout", "30")
    assert result.code == 0, result.out + result.err
    doc = result.json()
    assert doc["ok"] and doc["proof"] == "pages"
    assert 0 < doc["latency_seconds"] < 30
    assert 2 <= doc["pages_read"] <= 6, doc  # page 1 and the table's b-tree, not the database
    position = doc["replica_position"]
    assert position.startswith("TXID ") if dep.version.startswith("0.5") else "/" in position
    # The row is really in the database, and the replica restores it (the proof was not a fluke).
    with sqlite3.connect(f"file:{dep.db()}?mode=ro", uri=True) as con:
        assert con.execute("SELECT count(*) FROM _litefix_verify WHERE token = ?", (doc["token"],)).fetchone() == (1,)
    last = load_last_verify(str(dep.db()))
    assert last is not None and last.ok and last.latency == pytest.approx(doc["latency_seconds"], abs=1e-3)


def test_restore_proves_the_same_round_trip_and_old_rows_are_pruned(live: tuple[Deployment, Replicator]) -> None:
    dep, _rep = live
    for _ in range(3):
        result = run_verify(dep, "--json", "--restore", "--table", "canary")
        assert result.code == 0, result.out + result.err
        assert result.json()["proof"] == "restore"
    options = VerifyOptions(table="canary", keep_rows=2, timeout=30)
    cfg = str(dep.root / "litestream.yml")
    done = verify(str(dep.db()), Options(config=cfg, loaded_config=load_config(cfg)), options)
    assert done.ok, done.to_json()
    assert count_rows(dep.db(), "canary") == 2  # keep_rows=2: the newest row and the one before it


def test_litestream_stopped_is_refused_before_anything_is_written(live: tuple[Deployment, Replicator]) -> None:
    dep, rep = live
    rep.stop()
    result = run_verify(dep, "--json")
    assert result.code == 1
    doc = result.json()
    assert doc["status"] == "refused" and doc["finding"]["code"] == "verify-not-replicated"
    assert "no running Litestream" in doc["finding"]["message"]
    with sqlite3.connect(f"file:{dep.db()}?mode=ro", uri=True) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_schema")}
    assert "_litefix_verify" not in tables
    last = load_last_verify(str(dep.db()))  # recorded for the metrics: the round trip was not proven
    assert last is not None and not last.ok and last.code == "verify-not-replicated"


def test_a_litestream_that_holds_the_file_but_does_not_sync_times_out_as_not_syncing(
    live: tuple[Deployment, Replicator],
) -> None:
    dep, rep = live
    with paused(rep):  # SIGSTOP: it still holds every file, it just never syncs
        result = run_verify(dep, "--json", "--timeout", "2")
    assert result.code == 1, result.out + result.err
    finding = result.json()["finding"]
    assert finding["code"] == "verify-not-syncing"
    assert "did not take the write" in finding["message"]


def test_a_database_replaced_under_litestream_is_refused_naming_the_error(
    live: tuple[Deployment, Replicator],
) -> None:
    dep, _rep = live
    new = dep.root / "new.db"
    migrate(new, 3)
    os.rename(new, dep.db())  # the incident: a fresh file moved over the path, Litestream keeps the old one
    result = run_verify(dep, "--json")
    assert result.code == 1
    doc = result.json()
    assert doc["status"] == "refused" and doc["finding"]["code"] == "verify-refused"
    assert "litestream-replaced" in doc["finding"]["evidence"]["codes"]
    assert "litestream-replaced" in doc["finding"]["message"]


def test_an_unreachable_replica_is_named_as_such(live: tuple[Deployment, Replicator]) -> None:
    dep, rep = live
    replica = dep.replica()
    with paused(rep):  # a running Litestream writes into the directory while it is removed (seen in CI)
        replica.rename(replica.with_name("replica-unmounted"))
        replica.write_text("not a directory\n")  # the mount went away and something else is at the path
    result = run_verify(dep, "--json", "--timeout", "2")
    assert result.code == 1
    assert result.json()["finding"]["code"] == "verify-replica-unreachable"


def test_the_page_reader_finds_the_row_and_only_that_row(live: tuple[Deployment, Replicator]) -> None:
    dep, rep = live
    cfg = str(dep.root / "litestream.yml")
    options = Options(config=cfg, loaded_config=load_config(cfg))
    done = verify(str(dep.db()), options, VerifyOptions(timeout=30))
    assert done.ok and done.token, done.to_json()
    rep.stop()
    config = load_config(cfg)
    [target] = replica_targets(str(dep.db()), None, config, config.find_db(str(dep.db())))
    view = read_replica(target, None, cfg, str(dep.db()))
    generation = view.latest_generation()
    # Read from the files, and by ranged reads through the storage interface (what an object store gets).
    for storage in (None, view.storage):
        lookup = (
            LtxPageLookup(plan_ltx_restore(view.ltx), storage)
            if view.ltx
            else GenerationPageLookup(generation, storage)  # type: ignore[arg-type]
        )
        try:
            assert find_row(lookup, "_litefix_verify", done.token)
            assert not find_row(lookup, "_litefix_verify", "0" * 32)
            assert not find_row(lookup, "no_such_table", done.token)
            if isinstance(lookup, GenerationPageLookup):  # the snapshot's prefix, as far as page 2
                assert lookup._snapshot_page(2)[:1] in (b"\x0d", b"\x05"), "a table b-tree page"
            assert (lookup.reads.requests > 0) == (storage is not None)
        finally:
            lookup.close()
    assert view.storage is not None
    for ltx in dep.replica().glob("ltx/*/*.ltx"):  # the frame walk finds what the page index says
        index = read_page_index(ltx)
        assert all(walk_to_page(ltx, p) == index.get(p) for p in range(1, 33)), ltx
        key = str(ltx.relative_to(dep.replica()))
        ranged = RangedObject(view.storage, key, ltx.stat().st_size, Reads())
        assert read_page_index_from(ranged, ranged.size, key) == index  # type: ignore[arg-type]
        assert all(walk_to_page(ltx, p, ranged) == index.get(p) for p in range(1, 33)), ltx


def damage_replica(dep: Deployment) -> None:
    """What every file holding page 1 or the table's root says, made unreadable; listings still look fine."""
    if dep.version.startswith("0.5"):  # every page's LZ4 block zeroed; headers, frames and index intact
        for ltx in dep.replica().glob("ltx/*/*.ltx"):
            data = bytearray(ltx.read_bytes())
            for offset, size in read_page_index(ltx).values():
                data[offset + 10 : offset + size] = bytes(size - 10)
            ltx.write_bytes(bytes(data))
    else:  # each segment still a whole LZ4 frame of the right size, its frames' bytes overwritten
        for segment in dep.replica().glob("generations/*/wal/*.wal.lz4"):
            data = bytearray(lz4.frame.decompress(segment.read_bytes()))
            for i in range(64, len(data), 512):
                data[i : i + 4] = b"\xde\xad\xbe\xef"  # idempotent: damaging twice never repairs
            segment.write_bytes(lz4.frame.compress(bytes(data)))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_replica_whose_files_lost_their_pages_is_arrived_but_unreadable(tmp_path: Path, version: str) -> None:
    """The replica keeps up (new files arrive), but the pages holding the table are gone from what it has:
    0.5 files whose pages no longer decompress, 0.3 WAL segments whose frames no longer checksum."""
    dep = Deployment(tmp_path, version, ("app.db",))
    migrate(dep.db(), 10)
    start_replicating(dep)
    try:
        assert run_verify(dep, "--timeout", "30").code == 0
        for _attempt in range(3):  # a compaction finishing meanwhile rewrites the pages intact: damage again
            damage_replica(dep)
            result = run_verify(dep, "--json", "--timeout", "8")  # time for a new file to arrive, under load
            if result.code != 0:
                break
    finally:
        dep.stop_all()
    assert result.code == 1, result.out + result.err
    finding = result.json()["finding"]
    assert finding["code"] == "verify-unreadable", finding
    problem = "does not decompress" if version.startswith("0.5") else "does not hold the row"
    assert problem in finding["evidence"]["problem"], finding


def test_nagios_format_maps_a_round_trip_to_ok_and_a_refusal_to_critical(
    live: tuple[Deployment, Replicator],
) -> None:
    dep, rep = live
    ok = run_verify(dep, "--format", "nagios")
    assert ok.code == 0, ok.out + ok.err
    assert ok.out.startswith("LITEFIX OK - ") and "|latency_seconds=" in ok.out and ok.err == ""
    rep.stop()
    refused = run_verify(dep, "--format", "nagios")
    assert (
        refused.code == 2 and refused.out.startswith("LITEFIX CRITICAL - ") and "verify-not-replicated" in refused.out
    )


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_a_write_reaches_an_s3_replica_proven_by_ranged_reads(tmp_path: Path, version: str, s3: S3Server) -> None:
    """S3 replicas are listed natively and the row is read back by ranged reads of the few objects that hold
    its pages (0.5: LTX page indexes and frames; 0.3: the WAL segments after the snapshot, the snapshot's prefix)."""
    dep, _rep = replicate_to_s3(tmp_path, version, s3)
    try:
        result = run_verify(dep, "--json", "--timeout", "90")
    finally:
        dep.stop_all()
    assert result.code == 0, result.out + result.err
    doc = result.json()
    assert doc["ok"] and doc["proof"] == "pages" and doc["replica"].startswith("s3://"), doc
    assert 2 <= doc["pages_read"] <= 6 and 0 < doc["remote_requests"] <= 40, doc
    assert doc["remote_bytes"] < 4 << 20, doc  # blocks of 64 KiB (a 0.3 snapshot's prefix: 1 MiB reads)


def replicate_to_s3(tmp_path: Path, version: str, s3: S3Server, name: str = "verify") -> tuple[Deployment, Replicator]:
    """A migrated database replicated by a running Litestream to a bucket of `s3`, its first snapshot written.
    Each test its own bucket `name`: one replica URL for two databases is itself an error diagnose reports."""
    bucket = f"{name}-{version.replace('.', '-')}"
    with contextlib.suppress(OSError):
        s3.create_bucket(bucket)
    dep = Deployment(tmp_path, version, ("app.db",))
    migrate(dep.db(), 10)
    block = f"type: s3, bucket: {bucket}, path: app, endpoint: '{s3.endpoint}', region: us-east-1, " + (
        "force-path-style: true, sync-interval: 100ms"
    )
    replica = f"    replicas:\n      - {{{block}}}\n" if version.startswith("0.3") else f"    replica: {{{block}}}\n"
    config = dep.root / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {dep.db()}\n    monitor-interval: 100ms\n    checkpoint-interval: 1s\n" + replica
    )
    rep = dep.replicate(config)
    try:
        rep.wait_for_log("snapshot written" if version.startswith("0.3") else "snapshot complete", 30)
    except BaseException:
        dep.stop_all()
        raise
    return dep, rep


@pytest.mark.slow
@pytest.mark.parametrize("version", VERSIONS)
def test_on_s3_a_paused_litestream_a_stopped_server_and_a_stopped_litestream_each_fail_by_name(
    tmp_path: Path, version: str, s3: S3Server
) -> None:
    """A private S3 server (the shared one must stay up): Litestream paused -> not syncing; the server
    stopped under a running Litestream -> replica unreachable; Litestream stopped -> refused."""
    del s3  # its credentials are in the environment; the server stopped here is this test's own
    server = start_server(tmp_path / "moto.log")
    try:
        dep, rep = replicate_to_s3(tmp_path, version, server, "verify-fail")
        try:
            with paused(rep):
                not_syncing = run_verify(dep, "--json", "--timeout", "2")
            server.proc.terminate()
            server.proc.wait(10)
            unreachable = run_verify(dep, "--json", "--timeout", "2")
            rep.stop(signal.SIGKILL)  # killed: with its store gone a 0.5 would spend 15 s on a final sync
            refused = run_verify(dep, "--json")
        finally:
            dep.stop_all()
    finally:
        if server.proc.poll() is None:
            server.proc.terminate()
            server.proc.wait(10)
    assert not_syncing.code == 1, not_syncing.out + not_syncing.err
    assert not_syncing.json()["finding"]["code"] == "verify-not-syncing", not_syncing.out
    assert unreachable.code == 1, unreachable.out + unreachable.err
    doc = unreachable.json()
    assert doc["finding"]["code"] == "verify-replica-unreachable", doc
    assert "connection" in doc["finding"]["message"] or "refused" in doc["finding"]["message"], doc
    assert refused.code == 1 and refused.json()["finding"]["code"] == "verify-not-replicated", refused.out
