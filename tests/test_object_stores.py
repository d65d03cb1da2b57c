"""Azure Blob (Azurite) and Google Cloud Storage (fake-gcs-server) replicas, written by the real
Litestream 0.3.13 and 0.5.17 and read by litefix itself: in sync and compared page for page without a
restore, and the skipped restore caught from the listing.

How each version is pointed at a local server (measured):
- Azure: `type: abs`, `account-name`, `account-key` and `endpoint: http://127.0.0.1:PORT/devstoreaccount1`
  work on both versions; both write the `ltx/<n>/` (0.5) or `generations/` (0.3) layout.
- GCS: neither version has an endpoint setting; the Go storage library reads `STORAGE_EMULATOR_HOST`
  and then talks to the emulator unauthenticated. 0.3 calls the type `gcs`, 0.5 `gs`.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.azurite import ACCOUNT, KEY, Azurite
from tests.gcsserver import GcsServer
from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, Deployment, Replicator, binary, migrate, write_rows

pytestmark = pytest.mark.litestream

DB = "app.sqlite3"


def _replica_block(version: str, fields: dict[str, str]) -> str:
    fields = {**fields, "sync-interval": "100ms"}
    if version.startswith("0.3"):
        first, *rest = fields.items()
        lines = [f"      - {first[0]}: {first[1]}"] + [f"        {k}: {v}" for k, v in rest]
        return "    replicas:\n" + "\n".join(lines) + "\n"
    return "    replica:\n" + "".join(f"      {k}: {v}\n" for k, v in fields.items())


def _store(request: pytest.FixtureRequest, kind: str, version: str, path: str) -> tuple[dict[str, str], dict[str, str]]:
    """(replica settings, environment) for a replica on the local server of `kind`."""
    if kind == "abs":
        server: Azurite = request.getfixturevalue("azurite")
        container = f"c{abs(hash(path)) % 10**9}"
        server.create_container(container)
        settings = {
            "type": "abs",
            "account-name": ACCOUNT,
            "account-key": KEY,
            "bucket": container,
            "path": path,
            "endpoint": server.endpoint,
        }
        return settings, {}
    gcs: GcsServer = request.getfixturevalue("gcs")
    settings = {"type": "gcs" if version.startswith("0.3") else "gs", "bucket": gcs.bucket, "path": path}
    return settings, {"STORAGE_EMULATOR_HOST": f"127.0.0.1:{gcs.port}"}


def _replicating(
    root: Path, version: str, settings: dict[str, str], env: dict[str, str]
) -> tuple[Deployment, Replicator]:
    """A migrated database and a running Litestream that has written its first snapshot to the store."""
    root.mkdir(parents=True, exist_ok=True)
    dep = Deployment(root, version, (DB,))
    (root / "litestream.yml").write_text(
        f"dbs:\n  - path: {dep.db()}\n    monitor-interval: 100ms\n    checkpoint-interval: 1s\n"
        + _replica_block(version, settings)
    )
    migrate(dep.db(), 30)
    rep = Replicator(version, root / "litestream.yml", root / "litestream.log", env=env).start()
    dep.replicators.append(rep)
    try:
        rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    except BaseException:
        dep.stop_all()
        raise
    return dep, rep


def _replicated(root: Path, version: str, settings: dict[str, str], env: dict[str, str]) -> Deployment:
    dep, rep = _replicating(root, version, settings, env)
    write_rows(dep.db(), 5)
    time.sleep(0.8)
    rep.stop()
    return dep


def _diagnose(dep: Deployment, env: dict[str, str], *args: str) -> Result:
    full = {**os.environ, **env, "LITEFIX_LITESTREAM": str(binary(dep.version))}
    return litefix(
        "diagnose", dep.db(), "--config", dep.root / "litestream.yml", "--json", *args, env=full, timeout=300
    )


def _codes(result: Result) -> set[str]:
    return {f["code"] for f in result.json()["findings"] if f["severity"] != "info"}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["abs", "gs"])
def test_a_replica_on_azure_or_gcs_is_read_natively_compared_and_a_skipped_restore_is_caught(
    kind: str, version: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings, env = _store(request, kind, version, f"{version}-{tmp_path.name}")
    dep = _replicated(tmp_path, version, settings, env)

    result = _diagnose(dep, env, "--compare")
    run = next(r for r in result.json()["inspectors"] if r["name"] == "replica")
    [replica] = run["facts"]["replicas"]
    assert replica["read_by"].startswith(f"native ({'abs' if kind == 'abs' else settings['type']}"), replica
    assert replica["format"] == version[:3], replica
    assert replica["comparison"]["equal"] is True, replica
    assert not _codes(result) - {"litestream-not-running"}, result.out

    for name in (DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"):  # the new container, restore skipped
        path = tmp_path / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    migrate(dep.db(), 0)
    skipped = _diagnose(dep, env)
    assert skipped.code == 1 and "replica-not-restored" in _codes(skipped), skipped.out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("kind", ["abs", "gs"])
def test_verify_proves_a_write_reached_azure_or_gcs_by_ranged_reads(
    kind: str, version: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`litefix verify` on a live deployment whose replica is in Azure Blob or GCS: the row it writes is
    read back from the few objects that hold its pages, with no `litestream restore`."""
    settings, env = _store(request, kind, version, f"verify-{version}-{tmp_path.name}")
    dep, _rep = _replicating(tmp_path, version, settings, env)
    try:
        full = {**os.environ, **env, "LITEFIX_LITESTREAM": str(binary(version))}
        config = dep.root / "litestream.yml"
        result = litefix("verify", dep.db(), "--config", config, "--json", "--timeout", "90", env=full, timeout=300)
    finally:
        dep.stop_all()
    assert result.code == 0, result.out + result.err
    doc = result.json()
    assert doc["ok"] and doc["proof"] == "pages", doc
    assert doc["replica"].split("://")[0] in {"abs", "gs", "gcs"}, doc
    assert 2 <= doc["pages_read"] <= 6 and 0 < doc["remote_requests"] <= 40, doc
    assert doc["remote_bytes"] < 4 << 20, doc


def test_the_pypi_gcp_storage_emulator_cannot_serve_litefix_listing(tmp_path: Path) -> None:
    """Why the GCS tests use fake-gcs-server: `gcp-storage-emulator` accepts Litestream's uploads but
    answers the XML object listing (GET /bucket?list-type=2, what litefix's client sends) with 501."""
    import shutil as sh
    import subprocess
    import sys

    exe = sh.which("gcp-storage-emulator", path=str(Path(sys.executable).parent))
    assert exe, "the test extra installs gcp-storage-emulator"
    from tests.servers import free_port

    port = free_port()
    proc = subprocess.Popen(
        [exe, "start", "--host", "127.0.0.1", "--port", str(port), "--default-bucket", "backups", "--in-memory"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=tmp_path,
    )
    try:
        db = tmp_path / DB
        migrate(db, 2)
        (tmp_path / "litestream.yml").write_text(
            f"dbs:\n  - path: {db}\n    replica:\n      type: gs\n      bucket: backups\n      path: app\n"
        )
        env = {**os.environ, "STORAGE_EMULATOR_HOST": f"127.0.0.1:{port}"}
        deadline = time.monotonic() + 20
        while True:
            result = litefix("diagnose", db, "--config", tmp_path / "litestream.yml", "--json", env=env)
            found = [f for f in result.json()["findings"] if f["code"] == "replica-unreachable"]
            if (found and "501" in found[0]["message"]) or time.monotonic() > deadline:
                break
            time.sleep(0.5)  # the emulator was still starting: connection refused
    finally:
        proc.terminate()
        proc.wait(10)
    assert found and "501 Not Implemented" in found[0]["message"], result.out


@pytest.mark.parametrize(
    ("case", "reason", "said"),
    [("wrong-key", "access-denied", "AuthorizationFailure"), ("no-container", "no-such-bucket", "ContainerNotFound")],
)
def test_azure_errors_name_their_cause(case: str, reason: str, said: str, tmp_path: Path, azurite: Azurite) -> None:
    container = f"c{abs(hash(str(tmp_path))) % 10**9}"
    azurite.create_container(container)
    key = "AAAA" + KEY[4:] if case == "wrong-key" else KEY
    bucket = "missing-container" if case == "no-container" else container
    db = tmp_path / DB
    migrate(db, 2)
    (tmp_path / "litestream.yml").write_text(
        f"dbs:\n  - path: {db}\n"
        + _replica_block(
            "0.5.17",
            {
                "type": "abs",
                "account-name": ACCOUNT,
                "account-key": key,
                "bucket": bucket,
                "endpoint": azurite.endpoint,
            },
        )
    )
    result = litefix("diagnose", db, "--config", tmp_path / "litestream.yml", "--json", timeout=120)
    [found] = [f for f in result.json()["findings"] if f["code"] == "replica-unreachable"]
    assert found["evidence"]["reason"] == reason and said in found["message"], found
