"""`litefix check`, the pre-deploy gate, against real deployments: real Litestream, real processes.

Each test is one way a deploy goes wrong (or right). The incident's own entrypoint comes first.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.system.mounts import Mount, read_mounts, storage_risk
from tests.helpers import ROOT, Result, litefix
from tests.litestream_harness import (
    VERSIONS,
    Deployment,
    binary,
    config_text,
    count_rows,
    deployment,
    has_litestream_tables,
    migrate,
    wait_for,
    write_rows,
)

pytestmark = pytest.mark.litestream

MAIN, CABLE = "production.sqlite3", "production_cable.sqlite3"
NAMES = (MAIN, CABLE)


def check(config: Path, version: str, *args: str, env: dict[str, str] | None = None) -> Result:
    """`litefix check --config CONFIG`, run as a deploy script runs it, with Litestream `version`."""
    environment = {**os.environ, "LITEFIX_LITESTREAM": str(binary(version)), **(env or {})}
    return litefix("check", "--config", config, *args, env=environment)


def codes_of(result: Result) -> dict[str, set[str]]:
    """{database basename or "deployment": finding codes} from `check --json`."""
    doc = result.json()
    out = {os.path.basename(d["db"]): {f["code"] for f in d["findings"]} for d in doc["databases"]}
    out["deployment"] = {f["code"] for line in doc["deployment"] for f in line["findings"]}
    return out


def severities(result: Result) -> dict[str, str]:
    doc = result.json()
    found = {f["code"]: f["severity"] for d in doc["databases"] for f in d["findings"]}
    found.update({f["code"]: f["severity"] for line in doc["deployment"] for f in line["findings"]})
    return found


def holds(pid: int, db: Path) -> bool:
    """Has Litestream `pid` taken `db` over: opened it, created its tables and written its first local
    state (0.3: a generation's shadow WAL; 0.5: an L0 file)? It does that at its first sync, not when it
    logs `initialized db`. Tables alone are not enough: 0.5 creates them early in its init, and an init
    that fails after that closes the file and retries on the next sync, taking over a file replaced in
    between (seen in CI under load)."""
    meta = db.parent / f".{db.name}-litestream"
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == str(db):
                synced = any(meta.glob("generations/*/wal/*")) or any(meta.glob("ltx/0/*.ltx"))
                return synced and has_litestream_tables(db)
        except OSError:
            continue
    return False


def rebuild_schema(db: Path) -> None:
    """A `db:prepare` that decided to reload the schema: rm the file and its -wal/-shm, create it anew."""
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE solid_cable_messages (id INTEGER PRIMARY KEY, channel TEXT, payload TEXT)")
    con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('reloaded', 'x')")
    con.close()


def restored_tables(dep: Deployment, config: Path, name: str) -> tuple[list[str], list[str]]:
    """(tables, integrity_check) of the replica's latest state, restored the way an operator would."""
    with tempfile.TemporaryDirectory(prefix="litefix-check-restore-") as scratch:
        out = Path(scratch) / name
        cmd = [str(binary(dep.version)), "restore", "-config", str(config), "-o", str(out), str(dep.db(name))]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)
        con = sqlite3.connect(out)
        try:
            tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type='table'"))
            return tables, [r[0] for r in con.execute("PRAGMA integrity_check")]
        finally:
            con.close()


def fresh_container(dep: Deployment) -> None:
    """The container is replaced: its databases, -wal/-shm and Litestream state are gone, the replica stays."""
    for name in dep.names:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dep.db(name)}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(dep.root / f".{name}-litestream", ignore_errors=True)
    shutil.rmtree(dep.root / ".litefix", ignore_errors=True)


# --- the incident ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_incident_entrypoint_rebuilding_cable_under_running_replicate_fails_the_gate(
    version: str, tmp_path: Path
) -> None:
    """The entrypoint before the fix: phase 1 migrates the main database, phase 2 prepares cable in the
    background, phase 3 starts `litestream replicate` at once. Phase 3 wins the race, so phase 2's
    schema reload replaces the cable file under the running replicator. The gate names all of it;
    once the old container is gone, `--fix` lets Litestream re-initialise the new file."""
    with deployment(tmp_path, version, NAMES) as dep:
        config = dep.write_config()
        for name in NAMES:  # the previous deploy: both databases exist and are replicated
            migrate(dep.db(name), 10)
        replicate = dep.replicate(config)  # phase 3, started before phase 2 is done
        wait_for(lambda: holds(replicate.pid, dep.db(CABLE)), what=f"Litestream to open {CABLE}")
        rebuild_schema(dep.db(CABLE))  # phase 2 loses the race: the file is replaced under it

        running = check(config, version, "--json")
        assert running.code == 1, running.out + running.err
        found = codes_of(running)
        assert {"litestream-replaced", "litestream-tables-missing"} <= found[CABLE], running.out
        assert "litestream-already-running" in found["deployment"]
        assert not found[MAIN] & {"litestream-replaced", "litestream-tables-missing"}
        assert severities(running)["litestream-tables-missing"] == "error"
        replaced = next(
            f for d in running.json()["databases"] for f in d["findings"] if f["code"] == "litestream-replaced"
        )
        # the reloaded file is the new database and nothing writes it yet: no claim of lost writes
        assert replaced["evidence"]["current_copy"] == "path", replaced
        assert "new database" in replaced["message"] and "being lost" not in replaced["message"]

        text = check(config, version)
        assert text.code == 1
        line = next(row for row in text.out.splitlines() if "litestream-replaced" in row)
        assert line.startswith(f"✘ {CABLE}") and " processes " in line
        assert f"run: litefix repair {dep.db(CABLE)} --config {config} --strategy init --stop-litestream" in text.out
        assert f"kill {replicate.pid}" in text.out
        assert text.out.rstrip().splitlines()[-1].startswith("not ready: ")

        replicate.stop()  # the old container is stopped; its database files stay on the volume
        stopped = check(config, version, "--json")
        assert stopped.code == 1
        assert codes_of(stopped)[CABLE] >= {"litestream-tables-missing"}
        assert codes_of(stopped)["deployment"] == {"database-not-persistent", "replica-not-persistent"}

        fixed = check(config, version, "--fix")
        assert fixed.code == 0, fixed.out + fixed.err
        assert f"✔ {CABLE}" in fixed.out and "init completed" in fixed.out
        assert fixed.out.rstrip().splitlines()[-1].startswith("ready: ")
        assert has_litestream_tables(dep.db(CABLE))
        tables, integrity = restored_tables(dep, config, CABLE)
        assert integrity == ["ok"] and "solid_cable_messages" in tables and "_litestream_seq" in tables
        assert count_rows(dep.db(CABLE)) == 1  # the reloaded file is the truth now: init backed it up


@pytest.mark.parametrize("version", VERSIONS)
def test_fresh_container_with_a_replica_fails_until_check_fix_restores_it(version: str, tmp_path: Path) -> None:
    with deployment(tmp_path, version, NAMES) as dep:
        config = dep.write_config()
        for name in NAMES:
            migrate(dep.db(name), 10)
        replicate = dep.replicate(config)
        write_rows(dep.db(CABLE), 15)
        wait_for(lambda: all(holds(replicate.pid, dep.db(n)) for n in NAMES), what="Litestream to open both")
        replicate.stop()  # its final sync puts the last rows on the replica
        fresh_container(dep)

        missing = check(config, version)
        assert missing.code == 1
        assert f"✘ {MAIN}" in missing.out and "database-missing" in missing.out
        assert f"run: litefix repair {dep.db(CABLE)} --config {config} --strategy restore" in missing.out

        fixed = check(config, version, "--fix", "--json")
        assert fixed.code == 0, fixed.out + fixed.err
        assert {d["fix"]["status"] for d in fixed.json()["databases"]} == {"completed"}
        assert count_rows(dep.db(MAIN)) == 10 and count_rows(dep.db(CABLE)) == 25


def test_first_deploy_without_databases_or_replicas_passes_with_warnings(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.5.17", NAMES) as dep:
        config = dep.write_config()
        first = check(config, "0.5.17", "--json")
        assert first.code == 0, first.out
        assert severities(first)["database-missing"] == "warning"  # a first deploy, not a lost database
        assert severities(first)["replica-missing"] == "warning"
        assert severities(first)["litestream-not-running"] == "info"  # expected before boot
        assert first.json()["passed"] is True
        assert check(config, "0.5.17", "--fail-on", "warning").code == 1


# --- the deployment ------------------------------------------------------------------------------


def test_databases_on_tmpfs_or_under_tmp_are_not_persistent(tmp_path: Path) -> None:
    assert Path("/dev/shm").is_dir(), "this machine has no /dev/shm"
    shm_mount = next((m for m in read_mounts() if m.point == "/dev/shm"), None)
    assert shm_mount is not None and shm_mount.fs_type == "tmpfs"
    # A directory that is neither tmpfs, an overlay layer, nor under /tmp: the checkout's .cache,
    # unless the checkout itself lives under /tmp (a CI clone), then the home directory's.
    persistent_root = ROOT / ".cache"
    if str(ROOT).startswith(("/tmp/", "/var/tmp/")):
        persistent_root = Path.home() / ".cache" / "litefix-tests"
    persistent_root.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory(prefix="litefix-check-", dir="/dev/shm") as on_tmpfs,
        tempfile.TemporaryDirectory(prefix="check-volume-", dir=persistent_root) as volume,
    ):
        dbs = {
            "tmpfs": Path(on_tmpfs) / "app.sqlite3",
            "tmp": tmp_path / "app.sqlite3",
            "volume": Path(volume) / "app.sqlite3",
        }
        config = tmp_path / "litestream.yml"
        replicas = {key: Path(volume) / "replica" / key for key in dbs}
        config.write_text(config_text("0.5.17", [(db, replicas[key]) for key, db in dbs.items()]))
        for db in dbs.values():
            migrate(db, 1)

        result = check(config, "0.5.17", "--json")
        flagged = {
            f["evidence"]["path"]: f
            for line in result.json()["deployment"]
            for f in line["findings"]
            if f["code"] == "database-not-persistent"
        }
        assert set(flagged) == {str(dbs["tmpfs"]), str(dbs["tmp"])}
        assert flagged[str(dbs["tmpfs"])]["evidence"]["fs_type"] == "tmpfs"
        assert "on tmpfs (memory" in flagged[str(dbs["tmpfs"])]["message"]
        assert "under /tmp" in flagged[str(dbs["tmp"])]["message"]
        assert flagged[str(dbs["tmp"])]["severity"] == "warning" and result.code == 0


def test_a_container_overlay_layer_is_not_persistent_but_a_volume_is(tmp_path: Path) -> None:
    """A Docker container's mount table: / is overlay, /rails/storage is a volume."""
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "840 731 0:181 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w\n"
        "841 840 0:184 / /proc rw,nosuid - proc proc rw\n"
        "905 840 253:1 /volumes/storage/_data /rails/storage rw,relatime - ext4 /dev/vda1 rw\n"
        "906 840 0:190 / /rails/tmp\\040dir rw - tmpfs tmpfs rw\n"
    )
    mounts = read_mounts(str(mountinfo))
    assert Mount("/rails/tmp dir", "tmpfs", "tmpfs") in mounts
    assert storage_risk("/rails/storage/production.sqlite3", mounts) is None
    layer = storage_risk("/rails/db/production.sqlite3", mounts)
    assert layer is not None and "overlay layer" in layer and "container is replaced" in layer
    memory = storage_risk("/rails/tmp dir/cache.sqlite3", mounts)
    assert memory is not None and memory.startswith("on tmpfs")


def test_two_configs_and_a_leftover_litestream_on_one_replica_path_fail_the_gate(tmp_path: Path) -> None:
    """Our config sends cable to R; LITESTREAM_CONFIG (what a plain `litestream replicate` reads) sends
    another database to R too, and a Litestream left running from another app does the same."""
    with deployment(tmp_path, "0.5.17", NAMES) as dep:
        shared = dep.replica(CABLE)
        config = dep.write_config()
        other_db, leftover_db = tmp_path / "other.sqlite3", tmp_path / "leftover.sqlite3"
        env_config = tmp_path / "env-litestream.yml"
        env_config.write_text(config_text("0.5.17", [(other_db, shared)]))
        leftover_config = tmp_path / "leftover-litestream.yml"
        leftover_config.write_text(config_text("0.5.17", [(leftover_db, shared)]))
        for db in (dep.db(MAIN), dep.db(CABLE), leftover_db):
            migrate(db, 3)
        leftover = dep.replicate(leftover_config)
        wait_for(lambda: holds(leftover.pid, leftover_db), what="the leftover Litestream to open its database")

        result = check(config, "0.5.17", "--json", env={"LITESTREAM_CONFIG": str(env_config)})
        assert result.code == 1
        shared_findings = [
            f for line in result.json()["deployment"] for f in line["findings"] if f["code"] == "replica-shared"
        ]
        assert len(shared_findings) == 1
        users = {(u["db"], u["configured_in"]) for u in shared_findings[0]["evidence"]["used_by"]}
        assert (str(dep.db(CABLE)), str(config)) in users
        assert (str(other_db), str(env_config)) in users
        assert (str(leftover_db), f"pid {leftover.pid} ({leftover_config})") in users
        assert "litestream-duplicate" not in codes_of(result)[CABLE]  # said once, by the deployment line
        assert "litestream-already-running" not in codes_of(result)["deployment"]  # it replicates another db


@pytest.mark.parametrize("version", VERSIONS)
def test_leftover_litestream_from_the_previous_container_blocks_the_gate_and_fix(version: str, tmp_path: Path) -> None:
    """The previous container's `replicate` still runs (a deploy overlap) while the new one boots and
    finds the cable database missing: that Litestream waits for the file, so restoring it now would
    create it under a running replicator. Nothing is repaired; the gate says which pid to stop."""
    with deployment(tmp_path, version, NAMES) as dep:
        config = dep.write_config()
        for name in NAMES:
            migrate(dep.db(name), 5)
        first = dep.replicate(config)
        wait_for(lambda: all(holds(first.pid, dep.db(n)) for n in NAMES), what="Litestream to open both")
        first.stop()  # both databases are on the replica
        for suffix in ("", "-wal", "-shm"):
            Path(f"{dep.db(CABLE)}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(dep.root / f".{CABLE}-litestream")
        previous = dep.replicate(config)
        wait_for(lambda: holds(previous.pid, dep.db(MAIN)), what="the leftover Litestream to open the main database")

        result = check(config, version, "--fix", "--json")
        assert result.code == 1
        already = [
            f
            for line in result.json()["deployment"]
            for f in line["findings"]
            if f["code"] == "litestream-already-running"
        ]
        assert len(already) == 1 and already[0]["evidence"]["pid"] == previous.pid
        assert set(already[0]["evidence"]["databases"]) == {str(dep.db(MAIN)), str(dep.db(CABLE))}
        assert f"kill {previous.pid}" in already[0]["hint"]
        assert all(d["fix"] is None for d in result.json()["databases"]), "nothing is repaired under it"
        assert not dep.db(CABLE).exists()


def test_many_databases_are_checked_at_once_and_reported_in_config_order(tmp_path: Path) -> None:
    names = ("production.sqlite3", "production_queue.sqlite3", "production_cache.sqlite3", CABLE)
    with deployment(tmp_path, "0.5.17", names) as dep:
        config = dep.write_config()
        for name in names:
            migrate(dep.db(name), 5)
        result = check(config, "0.5.17", "--json")
        doc = result.json()
        assert result.code == 0 and doc["passed"] is True and doc["inspected"] is True
        assert [d["db"] for d in doc["databases"]] == [str(dep.db(n)) for n in names]
        assert {line["name"] for line in doc["deployment"]} == {"storage", "replicas", "processes"}  # no Rails app
        for database in doc["databases"]:
            assert {"db", "findings", "inspectors", "fix", "next_step"} <= set(database)
            assert [run["name"] for run in database["inspectors"]][:2] == ["repair-journal", "database-file"]


def test_healthy_databases_are_one_line_each_and_usage_lines_name_their_arguments(tmp_path: Path) -> None:
    """Four healthy databases were 48 lines of ✔; now one each, saying what the database is. The usage
    lines read like a man page (`DB`, not `{db}`)."""
    names = ("production.sqlite3", "production_queue.sqlite3", "production_cache.sqlite3", CABLE)
    with deployment(tmp_path, "0.5.17", names) as dep:
        config = dep.write_config()
        for name in names:
            migrate(dep.db(name), 5)
        replicate = dep.replicate(config)  # the previous container replicated them all, then stopped
        wait_for(lambda: all(dep.replica(n).exists() for n in names), what="every replica")
        wait_for(lambda: all(has_litestream_tables(dep.db(n)) for n in names), what="Litestream's tables")
        replicate.stop()
        result = check(config, "0.5.17")
        assert result.code == 0, result.out
        for name in names:
            (line,) = [row for row in result.out.splitlines() if row.startswith(f"✔ {name} ")]
            assert " healthy " in line and "WAL mode" in line
        verbose = check(config, "0.5.17", "--verbose")
        assert sum(1 for row in verbose.out.splitlines() if row.startswith(f"✔ {CABLE} ")) > 5
    for command, usage in (
        ("diagnose", "[OPTIONS] DB"),
        ("repair", "[OPTIONS] DB"),
        ("boot", "[OPTIONS] -- APP [ARGS]..."),
    ):
        shown = litefix(command, "--help")
        assert f"Usage: litefix {command} {usage}" in shown.out and "{" not in shown.out.splitlines()[0]


def test_no_config_and_a_broken_config_are_usage_errors(tmp_path: Path) -> None:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17"))}
    env.pop("LITESTREAM_CONFIG", None)
    none = litefix("check", env=env, cwd=tmp_path)
    assert none.code == 2 and none.err.startswith("Error: no Litestream config found"), none.err
    broken = tmp_path / "litestream.yml"
    broken.write_text("dbs:\n  - path: [\n")
    bad = litefix("check", "--config", broken, env=env)
    assert bad.code == 2 and bad.err.startswith("Error: "), bad.err
    assert "Traceback" not in bad.err + none.err


@pytest.fixture(autouse=True)
def _no_stray_litestream(tmp_path: Path) -> Iterator[None]:
    """Every test stops the processes it started (the deployment context does); check none is left."""
    yield
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        assert str(tmp_path) not in cmdline or "litestream" not in cmdline, f"pid {pid} left running: {cmdline}"


def test_one_bucket_name_on_two_s3_servers_is_two_replicas_not_a_shared_one(tmp_path: Path) -> None:
    """Seen in CI with two runs on one machine: each test's Litestream wrote to bucket `verify-0-5-17`,
    path `app`, on its own S3 server, and each diagnose called the other's database a second writer of
    its replica. A MinIO and AWS, or two Tigris accounts, can hold the same bucket name; only the same
    bucket on the same server is one replica."""
    main, other = tmp_path / "main.sqlite3", tmp_path / "other.sqlite3"
    for db in (main, other):
        migrate(db, 3)
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.5.17"))}
    for name, second_endpoint, shared in (
        ("apart", "http://127.0.0.1:19", False),
        ("same", "http://127.0.0.1:9/", True),
    ):
        config = tmp_path / f"{name}.yml"  # "same": the one server, written with a trailing slash
        config.write_text(
            "dbs:\n"
            f"  - path: {main}\n    replica: {{type: s3, bucket: backups, path: app, endpoint: 'http://127.0.0.1:9'}}\n"
            f"  - path: {other}\n    replica: {{type: s3, bucket: backups, path: app, endpoint: '{second_endpoint}'}}\n"
        )
        gate = check(config, "0.5.17", "--json")
        assert ("replica-shared" in codes_of(gate)["deployment"]) is shared, gate.out
        diagnosis = litefix("diagnose", main, "--config", config, "--json", env=env)
        assert ("litestream-duplicate" in {f["code"] for f in diagnosis.json()["findings"]}) is shared, diagnosis.out
