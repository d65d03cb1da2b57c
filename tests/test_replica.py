"""Is the backup restorable, and does it hold what the database holds? Real replicas, real binaries.

Each test builds its state with the real Litestream (file replicas, and S3 on a real
S3-compatible server on 127.0.0.1), then asks `litefix diagnose` about it.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import lz4.block
import lz4.frame
import pytest

from litefix.diagnose.inspectors.replica_checks import CLOCK_SLACK_SECONDS as CLOCK_SLACK
from litefix.formats.generations import scan_replica_generations
from litefix.formats.ltx import scan_ltx_dir
from litefix.formats.ltx_pages import iter_ltx_pages
from litefix.formats.wal import scan_wal
from litefix.replicas.pages import GenerationPages, LocalPages, LtxPages, checksum
from litefix.replicas.plan import plan_ltx_restore
from litefix.system.readonly import open_readonly
from tests import scenarios
from tests.helpers import Result, copy_present, litefix, put_back, stderr_on_a_terminal
from tests.litestream_harness import (
    VERSIONS,
    Deployment,
    binary,
    config_text,
    deployment,
    migrate,
    wait_for,
    write_rows,
)
from tests.ltx_writer import write_ltx
from tests.s3server import S3Server, s3_config

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)

DB = "production_cable.sqlite3"


def diagnose(dep: Deployment, *args: str | Path) -> Result:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(dep.version))}
    env.pop("AWS_CA_BUNDLE", None)  # its own test below; elsewhere it would flag every S3 replica
    return litefix("diagnose", dep.db(), "--config", dep.root / "litestream.yml", "--json", *args, env=env, timeout=300)


def codes(result: Result) -> set[str]:
    return {f["code"] for f in result.json()["findings"] if f["severity"] != "info"}


def replica_facts(result: Result) -> dict[str, object]:
    doc = result.json()
    run = next(r for r in doc["inspectors"] if r["name"] == "replica")
    assert run["status"] == "ok", run
    facts: dict[str, object] = run["facts"]
    return facts


def replicated(root: Path, version: str, rows: int = 30) -> Deployment:
    """Migrated, replicated, and Litestream stopped after its final sync: a quiet, in-sync state."""
    root.mkdir(parents=True, exist_ok=True)
    dep = Deployment(root, version, (DB,))
    dep.write_config()
    migrate(dep.db(), rows)
    rep = dep.replicate()
    rep.wait_for_log(r"snapshot written|snapshot complete|ltx file uploaded|wal segment written", 30)
    write_rows(dep.db(), 5)
    time.sleep(0.6)
    rep.stop()
    return dep


@pytest.mark.parametrize("version", VERSIONS)
def test_quiet_database_equals_its_replica_page_for_page_and_its_restore(version: str, tmp_path: Path) -> None:
    dep = replicated(tmp_path, version)
    result = diagnose(dep, "--compare", "--verify-restore")
    facts = replica_facts(result)
    [replica] = facts["replicas"]  # type: ignore[misc]
    comparison = replica["comparison"]
    assert comparison["equal"] is True, comparison
    restored = facts["restore_checksum"]  # type: ignore[index]
    assert restored["equal"] and restored["checksum_replica"] == comparison["checksum_local"]  # type: ignore[index]
    assert not codes(result) - {"litestream-not-running"}


@pytest.mark.parametrize("version", VERSIONS)
def test_writes_after_litestream_stopped_are_named_even_once_checkpointed_into_the_file(
    version: str, tmp_path: Path
) -> None:
    """Litestream was stopped (a supervisor gave up on it) and the app went on writing; its last
    connection checkpointed the -wal into the file and removed it. No -wal bytes are pending and the
    positions agree, so only the file's time shows it: it changed after the replica's newest object."""
    dep = replicated(tmp_path, version)
    clean = diagnose(dep, "--max-lag", "0")  # a clean stop: its last checkpoint is not "behind"
    assert "replica-behind" not in codes(clean), clean.out
    time.sleep(CLOCK_SLACK + 0.5)  # the writes come later than a clean stop's own last checkpoint could
    write_rows(dep.db(), 50)
    assert not Path(f"{dep.db()}-wal").exists()  # checkpointed and removed: nothing pending to count
    behind = diagnose(dep, "--max-lag", "0")
    [finding] = [f for f in behind.json()["findings"] if f["code"] == "replica-behind"]
    assert finding["evidence"]["litestream_running"] is False, finding
    assert finding["evidence"]["lag_seconds"] > CLOCK_SLACK, finding
    assert "--compare" in finding["message"]
    assert "replica-behind" not in codes(diagnose(dep)), "within the default --max-lag of 60 s"
    compared = replica_facts(diagnose(dep, "--compare"))["replicas"][0]["comparison"]  # type: ignore[index]
    assert compared["equal"] is False, compared  # and --compare confirms: the new rows are not on the replica

    # A restored file is new, the replica's newest object older: that is not "behind" (seen in CI when a
    # template site was a minute old). The restore leaves no local Litestream state to measure from.
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(version))}
    config = dep.root / "litestream.yml"
    restored = litefix("repair", dep.db(), "--strategy", "restore", "--yes", "--config", config, env=env, timeout=300)
    assert restored.code == 0, restored.out + restored.err
    assert "replica-behind" not in codes(diagnose(dep, "--max-lag", "0"))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("side", ["local", "replica"])
def test_a_one_page_change_on_either_side_is_caught_and_named(version: str, side: str, tmp_path: Path) -> None:
    dep = replicated(tmp_path, version, rows=400)  # enough pages that some are only in the file, not the WAL
    if side == "local":
        # A byte of a page that only the database file holds (not shadowed by a -wal frame), as a bad sector would.
        wal = Path(f"{dep.db()}-wal")
        in_wal = set(scan_wal(str(wal), collect_pages=True).page_frames or {}) if wal.exists() else set()
        page = max(p for p in range(2, os.path.getsize(dep.db()) // 4096 + 1) if p not in in_wal)
        with open(dep.db(), "r+b") as fh:
            fh.seek((page - 1) * 4096 + 300)
            fh.write(b"\xff")
    else:
        page = _damage_replica_page(dep)
    result = diagnose(dep, "--compare")
    assert "replica-diverged" in codes(result)
    [replica] = replica_facts(result)["replicas"]  # type: ignore[misc]
    assert page in replica["comparison"]["first_differing_pages"], replica["comparison"]


def _damage_replica_page(dep: Deployment) -> int:
    """Change one page inside the replica's newest state, keeping every file valid (a replica written wrong)."""
    if dep.version.startswith("0.3"):
        [gen] = scan_replica_generations(dep.replica())
        overlaid = GenerationPages(gen)
        try:
            page = next(p for p in range(2, overlaid.page_count + 1) if p not in overlaid._spill)
        finally:
            overlaid.close()
        snapshot = gen.latest_snapshot
        assert snapshot is not None
        data = bytearray(lz4.frame.decompress(snapshot.path.read_bytes()))
        data[(page - 1) * 4096 + 300] ^= 0xFF
        snapshot.path.write_bytes(lz4.frame.compress(bytes(data)))
        return page
    plan = plan_ltx_restore(scan_ltx_dir(dep.replica()))
    target = plan.later[-1] if plan.later else plan.snapshot
    pages = dict(iter_ltx_pages(target.path))
    page = max(pages)
    changed = bytearray(pages[page])
    changed[300] ^= 0xFF
    pages[page] = bytes(changed)
    write_ltx(target.path, target.path.read_bytes()[:100], pages)
    return page


@pytest.mark.parametrize("version", VERSIONS)
def test_local_writes_while_litestream_waits_to_sync_leave_the_replica_behind(version: str, tmp_path: Path) -> None:
    dep = Deployment(tmp_path, version, (DB,))
    config = tmp_path / "litestream.yml"
    config.write_text(
        config_text(version, [(dep.db(), dep.replica())]).replace("sync-interval: 100ms", "sync-interval: 30s")
    )
    migrate(dep.db(), 10)
    rep = dep.replicate(config=config)
    try:
        rep.wait_for_log(r"snapshot written|snapshot complete", 30)
        before = replica_facts(diagnose(dep))["local_position"]
        write_rows(dep.db(), 20)  # the local state moves every 100 ms, the replica only every 30 s
        wait_for(lambda: replica_facts(diagnose(dep))["local_position"] != before, 10, "the local position to move")
        result = diagnose(dep, "--max-lag", "0")
    finally:
        rep.stop(signal.SIGKILL)  # no final sync: the point is the lag
    assert "replica-behind" in codes(result), result.out
    [finding] = [f for f in result.json()["findings"] if f["code"] == "replica-behind"]
    assert finding["evidence"]["behind_by"]


@pytest.mark.parametrize("version", VERSIONS)
def test_an_older_copy_put_in_place_leaves_the_replica_ahead(version: str, tmp_path: Path) -> None:
    dep = Deployment(tmp_path, version, (DB,))
    dep.write_config()
    migrate(dep.db(), 10)
    rep = dep.replicate()
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    old = tmp_path / "old-volume"
    old.mkdir()
    time.sleep(0.5)
    copy_present(tmp_path, old, [DB, f"{DB}-wal", f".{DB}-litestream"])
    for _ in range(3):
        write_rows(dep.db(), 10)
        time.sleep(0.4)
    rep.stop()
    put_back(old, tmp_path, [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"])  # the deploy mounted an old volume
    result = diagnose(dep)
    assert "replica-ahead" in codes(result), result.out


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_replica_path_is_replica_missing(version: str, tmp_path: Path) -> None:
    dep = Deployment(tmp_path, version, (DB,))
    dep.write_config()
    migrate(dep.db(), 5)
    result = diagnose(dep)
    [finding] = [f for f in result.json()["findings"] if f["code"] == "replica-missing"]
    assert finding["severity"] == "warning"  # nothing says it was ever replicated: a first deploy
    replicated(tmp_path / "second", version)
    dep2 = Deployment(tmp_path / "second", version, (DB,))
    shutil.rmtree(dep2.replica())
    result = diagnose(dep2)
    [finding] = [f for f in result.json()["findings"] if f["code"] == "replica-missing"]
    assert finding["severity"] == "error"  # the meta dir says it was replicated: the backup is gone


@pytest.mark.parametrize("version", VERSIONS)
def test_a_deleted_segment_or_ltx_file_is_a_gap(version: str, tmp_path: Path) -> None:
    dep = Deployment(tmp_path, version, (DB,))
    dep.write_config()
    migrate(dep.db(), 10)
    rep = dep.replicate()
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    for _ in range(4):
        write_rows(dep.db(), 10)
        time.sleep(0.3)
    rep.stop()
    if version.startswith("0.3"):
        # A segment followed by another of the same index: its bytes are then missing from the middle.
        # (A lost *last* segment of an index leaves no trace in a listing; restore verification finds it.)
        segments = sorted(dep.replica().glob("generations/*/wal/*.wal.lz4"))
        by_index: dict[str, list[Path]] = {}
        for seg in segments:
            by_index.setdefault(seg.name.split("_")[0], []).append(seg)
        inner = [segs[0] for segs in by_index.values() if len(segs) >= 2]
        assert inner, [p.name for p in segments]
        inner[-1].unlink()
    else:
        for level in ("1", "2", "3"):
            shutil.rmtree(dep.replica() / "ltx" / level, ignore_errors=True)
        l0 = sorted((dep.replica() / "ltx" / "0").glob("*.ltx"))
        snapshot_max = max(int(p.name.split("-")[1][:16], 16) for p in (dep.replica() / "ltx" / "9").glob("*.ltx"))
        later = [p for p in l0 if int(p.name[:16], 16) > snapshot_max + 1]
        assert later, [p.name for p in l0]
        later[0].unlink()
    assert "replica-gap" in codes(diagnose(dep))


@pytest.mark.parametrize("version", VERSIONS)
def test_a_replica_written_by_another_database_is_diverged(version: str, tmp_path: Path) -> None:
    ours = replicated(tmp_path / "ours", version)
    other = replicated(tmp_path / "other", version, rows=3)
    shutil.rmtree(ours.replica())
    shutil.copytree(other.replica(), ours.replica())
    assert {"replica-diverged", "replica-ahead"} & codes(diagnose(ours, "--compare"))


@pytest.mark.parametrize("version", VERSIONS)
def test_replica_directory_deleted_while_litestream_runs(version: str, tmp_path: Path) -> None:
    """0.3 keeps writing WAL segments into a generation with no snapshot; 0.5 L0 files with no snapshot."""
    with deployment(tmp_path, version) as dep:
        gone = scenarios.replica_dir_deleted(dep)
        assert gone.new_files
        result = diagnose(dep)
    found = codes(result)
    assert "replica-gap" in found, result.out
    [gap] = [f for f in result.json()["findings"] if f["code"] == "replica-gap"]
    assert "snapshot" in gap["message"]


def test_corrupt_replica_files_give_findings_not_tracebacks(tmp_path: Path) -> None:
    dep = replicated(tmp_path, "0.5.17")
    files = sorted((dep.replica() / "ltx").rglob("*.ltx"))
    files[0].write_bytes(b"NOPE" + files[0].read_bytes()[4:])  # bad magic
    files[-1].write_bytes(files[-1].read_bytes()[:-7])  # truncated
    (dep.replica() / "ltx" / "0" / "not-a-txid.ltx").write_bytes(b"junk")
    result = diagnose(dep, "--compare")
    assert "Traceback" not in result.err and result.code in (0, 1)
    assert result.json()["inspected"], result.out


# --- S3 through the real binary ------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_s3_replica_is_read_natively_compared_without_a_restore_and_restored(
    version: str, tmp_path: Path, s3: S3Server
) -> None:
    bucket = f"litefix-{version.replace('.', '-')}-{os.getpid()}"
    s3.create_bucket(bucket)
    dep = Deployment(tmp_path, version, (DB,))
    (tmp_path / "litestream.yml").write_text(s3_config(version, dep.db(), s3.endpoint, bucket))
    migrate(dep.db(), 20)
    rep = dep.replicate(config=tmp_path / "litestream.yml")
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    write_rows(dep.db(), 5)
    time.sleep(0.8)
    rep.stop()
    assert s3.keys(bucket), "nothing reached the S3 server"
    result = diagnose(dep, "--verify-restore", "--compare")
    facts = replica_facts(result)
    [replica] = facts["replicas"]  # type: ignore[misc]
    assert replica["read_by"].startswith("native (s3"), replica
    assert replica["format"] == version[:3]
    assert replica["comparison"]["equal"] is True, replica  # page checksums from ranged reads, no restore
    assert facts["restore_checksum"]["equal"], facts  # type: ignore[index]
    assert replica["comparison"]["checksum_replica"] == facts["restore_checksum"]["checksum_replica"]  # type: ignore[index]
    assert not codes(result) - {"litestream-not-running"}, result.out
    assert "objects from s3://" not in result.err  # no progress on a pipe, nor with --json
    on_terminal = stderr_on_a_terminal(
        "diagnose",
        dep.db(),
        "--config",
        tmp_path / "litestream.yml",
        "--compare",
        "--verify-restore",
        env=_diagnose_env(version),
    )
    assert f"objects from {replica['location']}" in on_terminal, on_terminal[-2000:]
    assert "litestream restore" in on_terminal, on_terminal[-2000:]


def _diagnose_env(version: str) -> dict[str, str]:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(version))}
    env.pop("AWS_CA_BUNDLE", None)
    return env


@pytest.mark.slow
def test_unreachable_s3_replica_is_replica_unreachable_not_a_hang(tmp_path: Path) -> None:
    """With credentials set, 0.5.17 retries an endpoint that does not answer for ever (measured); litefix
    reads S3 itself now, with a bounded wait."""
    dep = Deployment(tmp_path, "0.5.17", (DB,))
    (tmp_path / "litestream.yml").write_text(s3_config("0.5.17", dep.db(), "http://127.0.0.1:9", "nowhere"))
    migrate(dep.db(), 2)
    env = {
        **os.environ,
        "LITEFIX_LITESTREAM": str(binary("0.5.17")),
        "AWS_ACCESS_KEY_ID": "k",
        "AWS_SECRET_ACCESS_KEY": "s",
    }
    env.pop("AWS_CA_BUNDLE", None)
    started = time.monotonic()
    result = litefix("diagnose", dep.db(), "--config", tmp_path / "litestream.yml", "--json", env=env)
    assert time.monotonic() - started < 60
    [finding] = [f for f in result.json()["findings"] if f["code"] == "replica-unreachable"]
    assert finding["evidence"]["reason"] == "connection-refused", finding


def test_page_checksum_of_the_replica_equals_the_restored_file(tmp_path: Path) -> None:
    dep = replicated(tmp_path, "0.5.17", rows=300)
    out = tmp_path / "restored.db"
    subprocess.run(
        [str(binary("0.5.17")), "restore", "-config", str(tmp_path / "litestream.yml"), "-o", str(out), str(dep.db())],
        check=True,
        capture_output=True,
    )
    plan = plan_ltx_restore(scan_ltx_dir(dep.replica()))
    assert checksum(LtxPages(plan)) == checksum(LocalPages.open(str(out)))


def test_config_text_helper_shapes_match_versions() -> None:
    assert "replicas:" in config_text("0.3.13", [(Path("/a"), Path("/r"))])
    assert "replica:" in config_text("0.5.17", [(Path("/a"), Path("/r"))])


def test_aws_ca_bundle_with_0_5_and_an_s3_replica_is_flagged(tmp_path: Path) -> None:
    """Measured: 0.5.17 cannot start its S3 client when AWS_CA_BUNDLE is set (common on CI images)."""
    dep = Deployment(tmp_path, "0.5.17", (DB,))
    (tmp_path / "litestream.yml").write_text(s3_config("0.5.17", dep.db(), "http://127.0.0.1:9", "bucket"))
    migrate(dep.db(), 2)
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17")), "AWS_CA_BUNDLE": "/etc/ssl/certs/ca.pem"}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # no credentials: the listing fails at once
        env.pop(key, None)
    result = litefix("diagnose", dep.db(), "--config", tmp_path / "litestream.yml", "--json", env=env)
    [finding] = [f for f in result.json()["findings"] if "AWS_CA_BUNDLE" in f["message"]]
    assert finding["code"] == "litestream-version-risk" and finding["severity"] == "error"


def test_a_database_written_during_the_comparison_is_inconclusive_not_diverged(tmp_path: Path) -> None:
    """The -wal changes between litefix's read of it and the page comparison: no false mismatch."""
    from litefix.config import load_config
    from litefix.diagnose.context import Context, Options
    from litefix.diagnose.inspectors.replica_checks import inspect_replicas

    dep = replicated(tmp_path, "0.5.17", rows=200)
    cfg = tmp_path / "litestream.yml"
    os.environ.setdefault("LITEFIX_LITESTREAM", str(binary("0.5.17")))
    app = sqlite3.connect(dep.db(), isolation_level=None)  # the app's server: its -wal stays while it runs
    try:
        app.execute("SELECT count(*) FROM solid_cable_messages").fetchone()
        ctx = Context(str(dep.db()), Options(config=str(cfg), loaded_config=load_config(str(cfg)), compare=True))
        assert ctx.wal_with_pages() is not None  # litefix has read the -wal ...
        assert not ctx.unsynced_wal_bytes  # ... and Litestream's local state: in sync
        app.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('c', 'd')")  # ... then the app commits
        report = inspect_replicas(ctx)
    finally:
        app.close()
    [facts] = report.facts["replicas"]  # type: ignore[misc]
    assert str(facts["comparison"]).startswith("inconclusive"), facts
    assert not [f for f in report.findings if f.code == "replica-diverged"]


def test_a_replica_older_than_max_age_while_the_database_changed_is_stale(tmp_path: Path) -> None:
    dep = replicated(tmp_path, "0.5.17")
    time.sleep(1.1)
    write_rows(dep.db(), 5)  # Litestream is stopped: the file changes, the replica does not
    result = diagnose(dep, "--max-age", "1")
    [finding] = [f for f in result.json()["findings"] if f["code"] == "replica-stale"]
    assert finding["evidence"]["max_age"] == 1
    assert "replica-stale" not in codes(diagnose(dep))  # within the default day it is just a lag


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fresh_container_restores_from_s3_although_the_database_is_missing(
    version: str, tmp_path: Path, s3: S3Server
) -> None:
    """0.3's listing commands stat the database first; litefix must still see the replica and restore it."""
    bucket = f"fresh-{version.replace('.', '-')}-{os.getpid()}"
    s3.create_bucket(bucket)
    dep = Deployment(tmp_path, version, (DB,))
    (tmp_path / "litestream.yml").write_text(s3_config(version, dep.db(), s3.endpoint, bucket))
    migrate(dep.db(), 25)
    rep = dep.replicate(config=tmp_path / "litestream.yml")
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    time.sleep(0.5)
    rep.stop()
    for name in (DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"):
        path = tmp_path / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    facts = replica_facts(diagnose(dep))
    [replica] = facts["replicas"]  # type: ignore[misc]
    assert replica["format"] == version[:3], replica
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(version))}
    env.pop("AWS_CA_BUNDLE", None)
    result = litefix("repair", dep.db(), "--config", tmp_path / "litestream.yml", "--yes", env=env, timeout=300)
    assert result.code == 0, result.out + result.err
    with open_readonly(str(dep.db())) as con:
        assert con.execute("SELECT count(*) FROM solid_cable_messages").fetchone()[0] == 25


@pytest.mark.parametrize("version", VERSIONS)
def test_a_deleted_object_on_s3_is_a_gap_as_on_a_file_replica(version: str, tmp_path: Path, s3: S3Server) -> None:
    import boto3

    bucket = f"gap-{version.replace('.', '-')}-{os.getpid()}"
    s3.create_bucket(bucket)
    dep = Deployment(tmp_path, version, (DB,))
    (tmp_path / "litestream.yml").write_text(s3_config(version, dep.db(), s3.endpoint, bucket))
    migrate(dep.db(), 10)
    rep = dep.replicate(config=tmp_path / "litestream.yml")
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    for _ in range(4):
        write_rows(dep.db(), 10)
        time.sleep(0.3)
    rep.stop()
    keys = s3.keys(bucket)
    if version.startswith("0.3"):
        segments = sorted(k for k in keys if k.endswith(".wal.lz4"))
        by_index: dict[str, list[str]] = {}
        for key in segments:
            by_index.setdefault(key.rsplit("/", 1)[1].split("_")[0], []).append(key)
        doomed = [segs[0] for segs in by_index.values() if len(segs) >= 2]
    else:  # 0.5 on S3: <path>/<level %04x>/<min>-<max>.ltx
        snapshot_max = max(int(k.rsplit("-", 1)[1][:16], 16) for k in keys if "/0009/" in k)
        doomed = [k for k in keys if "/0001/" in k or "/0002/" in k or "/0003/" in k]
        later = sorted(k for k in keys if "/0000/" in k and int(k.rsplit("/", 1)[1][:16], 16) > snapshot_max + 1)
        doomed += later[:1]
    assert doomed, keys
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    for key in doomed if version.startswith("0.5") else doomed[-1:]:
        client.delete_object(Bucket=bucket, Key=key)
    assert "replica-gap" in codes(diagnose(dep))


@pytest.mark.parametrize("version", VERSIONS)
def test_an_s3_replica_written_by_another_database_is_diverged(version: str, tmp_path: Path, s3: S3Server) -> None:
    """Two databases, two prefixes; then the other's objects are copied over ours (a shared or reused path)."""
    import boto3

    bucket = f"div-{version.replace('.', '-')}-{os.getpid()}"
    s3.create_bucket(bucket)
    deps = {}
    for name, rows in (("ours", 30), ("other", 3)):
        root = tmp_path / name
        root.mkdir()
        dep = Deployment(root, version, (DB,))
        (root / "litestream.yml").write_text(
            s3_config(version, dep.db(), s3.endpoint, bucket).replace(f"path: {DB}", f"path: {name}")
        )
        migrate(dep.db(), rows)
        rep = dep.replicate(config=root / "litestream.yml")
        rep.wait_for_log(r"snapshot written|snapshot complete", 30)
        time.sleep(0.6)
        rep.stop()
        deps[name] = dep
    client = boto3.client("s3", endpoint_url=s3.endpoint, region_name="us-east-1")
    for key in s3.keys(bucket, "ours/"):
        client.delete_object(Bucket=bucket, Key=key)
    for key in s3.keys(bucket, "other/"):
        client.copy_object(Bucket=bucket, Key="ours/" + key.removeprefix("other/"), CopySource=f"{bucket}/{key}")
    assert {"replica-diverged", "replica-ahead"} & codes(diagnose(deps["ours"], "--compare"))
