"""The skipped restore: a new container, the database and Litestream's state gone, the migration made a
fresh empty file, and the replica still holds the real data. Built for real with both versions, on a
file replica and on S3 (a real S3 server on 127.0.0.1).

Starting Litestream in this state buries the real data (0.3 starts a new generation of the empty file,
0.5.17 snapshots it as the newest state), so a plain `diagnose` and `check` must call it an error, and
the repair must bring the rows back with the fresh file kept in the quarantine.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, Deployment, binary, count_rows, has_litestream_tables, migrate
from tests.s3server import S3Server, s3_config

pytestmark = pytest.mark.litestream

DB = "production_cable.sqlite3"
ROWS = 40


def _env(version: str) -> dict[str, str]:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary(version))}
    env.pop("AWS_CA_BUNDLE", None)  # 0.5.17 cannot build its S3 client with it (notes §10)
    return env


def skipped_restore(root: Path, version: str, s3: S3Server | None = None) -> Deployment:
    """Migrate, replicate, stop; then the new container: db and meta dir gone, the migration runs again."""
    dep = Deployment(root, version, (DB,))
    if s3 is None:
        dep.write_config()
    else:
        bucket = f"skipped-{version.replace('.', '-')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        s3.create_bucket(bucket)
        (root / "litestream.yml").write_text(s3_config(version, dep.db(), s3.endpoint, bucket))
    migrate(dep.db(), ROWS)
    rep = dep.replicate(config=root / "litestream.yml")
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    time.sleep(0.6)
    rep.stop()
    for name in (DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"):
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    migrate(dep.db(), 0)  # `db:prepare` on an empty volume: the schema, no rows, no Litestream tables
    return dep


def _finding(result: Result, code: str) -> dict[str, object]:
    found = [f for f in result.json()["findings"] if f["code"] == code]
    assert found, result.out
    finding: dict[str, object] = found[0]
    return finding


def _check(dep: Deployment, *args: str) -> Result:
    return litefix(
        "check", "--config", dep.root / "litestream.yml", "--json", *args, env=_env(dep.version), timeout=300
    )


def _assert_restored(dep: Deployment, quarantine: str | None) -> None:
    assert count_rows(dep.db()) == ROWS, "the replica's rows are back"
    assert has_litestream_tables(dep.db())
    assert quarantine and any(Path(quarantine).rglob(DB)), f"the fresh file is kept in {quarantine}"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_fresh_migrated_file_over_a_file_replica_with_data_is_replica_not_restored(
    version: str, tmp_path: Path
) -> None:
    dep = skipped_restore(tmp_path, version)
    cfg = tmp_path / "litestream.yml"
    result = litefix("diagnose", dep.db(), "--config", cfg, "--json", env=_env(version), timeout=300)
    assert result.code == 1, result.out + result.err
    finding = _finding(result, "replica-not-restored")
    assert finding["severity"] == "error"
    evidence = finding["evidence"]
    assert isinstance(evidence, dict)
    assert str(evidence["position"]).startswith("TXID" if version.startswith("0.5") else "")
    assert evidence["files"] and evidence["bytes"]
    assert evidence["command"] == f"litefix repair {dep.db()} --config {cfg} --strategy restore"
    assert "migrations again" in str(finding["hint"])

    gate = _check(dep)  # the gate must not downgrade it, as it does the missing tables before a first replicate
    assert gate.code == 1, gate.out
    assert any(
        f["code"] == "replica-not-restored" and f["severity"] == "error"
        for d in gate.json()["databases"]
        for f in d["findings"]
    ), gate.out

    repaired = litefix(
        "repair", dep.db(), "--config", cfg, "--strategy", "auto", "--yes", "--json", env=_env(version), timeout=300
    )
    assert repaired.code == 0, repaired.out + repaired.err
    doc = repaired.json()
    assert doc["healthy_after"], doc["after"]
    _assert_restored(dep, doc["repair"]["quarantine"])


@pytest.mark.parametrize("version", VERSIONS)
def test_the_skipped_restore_on_s3_fails_check_and_check_fix_restores_it(
    version: str, tmp_path: Path, s3: S3Server
) -> None:
    dep = skipped_restore(tmp_path, version, s3)
    gate = _check(dep)
    assert gate.code == 1, gate.out
    [database] = gate.json()["databases"]
    finding = next(f for f in database["findings"] if f["code"] == "replica-not-restored")
    assert finding["severity"] == "error" and finding["evidence"]["replica"].startswith("s3://")
    assert "--strategy restore" in database["next_step"]

    fixed = _check(dep, "--fix")
    [database] = fixed.json()["databases"]
    assert database["fix"]["status"] == "completed", fixed.out
    _assert_restored(dep, database["fix"]["quarantine"])


@pytest.mark.parametrize("version", VERSIONS)
def test_verify_restore_turns_the_measured_difference_into_a_finding(version: str, tmp_path: Path) -> None:
    dep = skipped_restore(tmp_path, version)
    result = litefix(
        "diagnose",
        dep.db(),
        "--config",
        tmp_path / "litestream.yml",
        "--json",
        "--verify-restore",
        env=_env(version),
        timeout=300,
    )
    facts = next(r for r in result.json()["inspectors"] if r["name"] == "replica")["facts"]
    assert facts["restore_checksum"]["equal"] is False
    ahead = _finding(result, "replica-ahead")
    assert ahead["evidence"]["differing_pages"]  # type: ignore[index]
