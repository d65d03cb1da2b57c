"""`litefix upgrade-check`: what the next Litestream release does with this config, replica and entrypoint.

Real deployments replicated by 0.3.13 and 0.5.15 (file replicas), checked against the real 0.5.17;
then the converted config is used for real: 0.5.17 replicates with it and restores every row.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import fingerprint, litefix
from tests.litestream_harness import Deployment, binary, count_rows, deployment, migrate, write_rows
from tests.s3server import S3Server, s3_config
from tests.scenarios import healthy_deployment, wait_replicated

pytestmark = pytest.mark.litestream

ENTRYPOINT = """#!/bin/sh -e
# restore on a fresh machine, then replicate (what many 0.3 Dockerfiles do)
litestream restore -config /etc/litestream.yml -if-replica-exists -if-db-not-exists /data/app.db
litestream generations /data/app.db   # show what we restored from
exec litestream replicate -config /etc/litestream.yml
"""


def _checks(doc: dict[str, object], name: str) -> list[dict[str, object]]:
    return [c for c in doc["checks"] if c["name"] == name]  # type: ignore[union-attr, index]


@pytest.mark.slow
def test_upgrade_from_0313_to_0517_converts_the_config_and_restores_the_old_replica(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.3.13") as dep:
        rep, _clean = healthy_deployment(dep, rows=30)
        rep.stop()
        config = dep.root / "litestream.yml"
        original = config.read_bytes()
        entrypoint = tmp_path / "docker-entrypoint.sh"
        entrypoint.write_text(ENTRYPOINT)
        converted = tmp_path / "litestream-0.5.yml"
        before = fingerprint(tmp_path)
        result = litefix(
            "upgrade-check",
            "--to",
            "0.5.17",
            "--config",
            config,
            "--litestream",
            binary("0.3.13"),
            "--target-litestream",
            binary("0.5.17"),
            "--write-config",
            converted,
            "--entrypoint",
            entrypoint,
            "--json",
        )
        doc = result.json()
        # Nothing but the new config file was written: database, meta dir and replica are as they were.
        after = fingerprint(tmp_path)
        assert set(after) - set(before) == {converted.name}
        assert {k: v for k, v in after.items() if k != converted.name} == before
        assert doc["from"] == "0.3.13" and doc["to"] == "0.5.17"
        assert config.read_bytes() == original  # never written over
        # The config: a 0.5 `replica:` mapping, read by the real 0.5.17.
        written = yaml.safe_load(converted.read_text())
        entry = written["dbs"][0]
        assert "replicas" not in entry and entry["replica"]["path"] == str(dep.replica())
        assert [c["status"] for c in _checks(doc, "config")] == ["ok", "ok"], doc["checks"]
        # The old 0.3 replica, restored by 0.5.17 into a temporary file: all tables, quick_check ok.
        restore = _checks(doc, f"restore {dep.db().name}")
        assert restore[0]["status"] == "ok", restore
        assert "solid_cable_messages" in restore[0]["evidence"]["tables"]
        # The entrypoint: 0.5 has no `generations` command; its restore flags all still exist.
        lint = _checks(doc, "entrypoint")
        assert [(c["status"], c["evidence"]["command"], c["evidence"]["line"]) for c in lint] == [
            ("fail", "generations", 4)
        ]
        assert result.code == 1 and doc["ready"] is False
        # The converted config works: 0.5.17 replicates with it (on top of the 0.3 replica) and restores.
        dep.version = "0.5.17"
        rep05 = dep.replicate(converted)
        rep05.wait_for_log("snapshot complete", 30)
        write_rows(dep.db(), 10)
        wait_replicated(dep, 40)
        rep05.stop()
        out = tmp_path / "restored.db"
        run = subprocess.run(
            [str(binary("0.5.17")), "restore", "-config", str(converted), "-o", str(out), str(dep.db())],
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        assert count_rows(out) == 40


def test_upgrade_from_0515_to_0517_keeps_the_config_and_is_ready(tmp_path: Path) -> None:
    with deployment(tmp_path, "0.5.15") as dep:
        rep, _clean = healthy_deployment(dep, rows=20)
        rep.stop()
        config = dep.root / "litestream.yml"
        result = litefix(
            "upgrade-check",
            "--to",
            "0.5.17",
            "--config",
            config,
            "--litestream",
            binary("0.5.15"),
            "--target-litestream",
            binary("0.5.17"),
        )
        assert result.code == 0, result.out + result.err
        assert "already in the 0.5 shape" in result.out
        assert f"restores the replica of {dep.db()}" in result.out
        assert "ready: nothing found that 0.5.17 would break" in result.out


def test_a_replica_with_nothing_yet_is_a_warning_not_a_lost_format(tmp_path: Path) -> None:
    """A first deploy: neither the current 0.3.13 nor the target 0.5.17 finds a backup."""
    db = tmp_path / "app.db"
    migrate(db, 3)
    config = tmp_path / "litestream.yml"
    config.write_text(f"dbs:\n  - path: {db}\n    replicas:\n      - type: file\n        path: {tmp_path / 'r'}\n")
    result = litefix(
        "upgrade-check",
        "--to",
        "0.5.17",
        "--config",
        config,
        "--litestream",
        binary("0.3.13"),
        "--target-litestream",
        binary("0.5.17"),
        "--json",
    )
    [restore] = _checks(result.json(), "restore app.db")
    assert restore["status"] == "warn", restore
    assert "no matching backup" in restore["evidence"]["restore_by_0.3.13"]
    assert result.code == 0


def test_write_config_never_overwrites_the_original(tmp_path: Path) -> None:
    config = tmp_path / "litestream.yml"
    config.write_text(f"dbs:\n  - path: {tmp_path / 'app.db'}\n    replicas:\n      - path: {tmp_path / 'r'}\n")
    before = config.read_bytes()
    result = litefix("upgrade-check", "--to", "0.5.17", "--config", config, "--write-config", config)
    assert result.code == 4, result.out + result.err
    assert "is the config being upgraded" in result.err
    assert config.read_bytes() == before
    bad = litefix("upgrade-check", "--to", "latest", "--config", config)
    assert bad.code == 2 and "not a Litestream version" in bad.err


def test_upgrade_from_0313_to_0517_with_an_s3_replica(tmp_path: Path, s3: S3Server) -> None:
    """The same through S3 (moto on 127.0.0.1): 0.5.17 restores what 0.3.13 uploaded."""
    bucket = f"litefix-upgrade-{os.getpid()}"
    s3.create_bucket(bucket)
    dep = Deployment(tmp_path, "0.3.13")
    config = tmp_path / "litestream.yml"
    config.write_text(s3_config("0.3.13", dep.db(), s3.endpoint, bucket))
    migrate(dep.db(), 20)
    rep = dep.replicate(config=config)
    try:
        rep.wait_for_log("snapshot written", 30)
        write_rows(dep.db(), 5)
        rep.wait_for_log("wal segment written", 30)
    finally:
        rep.stop()
    converted = tmp_path / "litestream-0.5.yml"
    result = litefix(
        "upgrade-check",
        "--to",
        "0.5.17",
        "--config",
        config,
        "--litestream",
        binary("0.3.13"),
        "--target-litestream",
        binary("0.5.17"),
        "--write-config",
        converted,
        "--json",
    )
    doc = result.json()
    assert result.code == 0, doc["checks"]
    replica = yaml.safe_load(converted.read_text())["dbs"][0]["replica"]
    assert replica["type"] == "s3" and replica["bucket"] == bucket and replica["endpoint"] == s3.endpoint
    [restore] = _checks(doc, f"restore {dep.db().name}")
    assert restore["status"] == "ok" and "solid_cable_messages" in restore["evidence"]["tables"]


def test_secrets_are_printed_redacted_but_written_as_they_were(tmp_path: Path) -> None:
    config = tmp_path / "litestream.yml"
    config.write_text(
        f"dbs:\n  - path: {tmp_path / 'app.db'}\n    replicas:\n      - type: s3\n        bucket: b\n"
        "        access-key-id: AKIAEXAMPLE\n        secret-access-key: s3cr3t-value\n"
        "      - url: sftp://deploy:hunter2@backup.example.com/app\n"
    )
    out = tmp_path / "litestream-0.5.yml"
    # No 0.5.15 binary is named: the conversion alone (the target checks are skipped).
    result = litefix("upgrade-check", "--to", "0.5.15", "--config", config, "--write-config", out, "--json")
    assert "s3cr3t-value" not in result.out and "hunter2" not in result.out
    assert "dropped sftp://deploy:<redacted>@backup.example.com/app" in result.out
    written = yaml.safe_load(out.read_text())["dbs"][0]["replica"]
    assert written["secret-access-key"] == "s3cr3t-value"
    [skipped] = _checks(result.json(), "target binary")
    assert skipped["status"] == "skipped"
