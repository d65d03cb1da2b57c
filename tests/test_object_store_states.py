"""Every replica state on every object store, built for real: the real Litestream 0.3.13 and 0.5.17
replicating to S3 (moto), Azure Blob (Azurite) and GCS (fake-gcs-server) on 127.0.0.1, then the state
made as it happens in production, then `litefix diagnose` asked about it. Each state must give the
code it gives on a `file` replica (tests/test_replica.py), and in sync must give no replica error.

Matrix: every state on each store with each version (3 x 2 x 7, about a minute on 2 cores): both
layouts (0.5 LTX levels, 0.3 generations) are read from each store's listing (timestamps, sizes) and
objects (ranged reads for `--compare`, the binary's restore for `--verify-restore`). Each state gives
exactly its code and no other replica error (measured: diverged is `replica-diverged`, not `-ahead`).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import lz4.frame
import pytest

from litefix.config.loading import load_config
from litefix.replicas.backends import open_storage
from litefix.replicas.storage import ObjectStorage
from tests.azurite import ACCOUNT, KEY, Azurite
from tests.gcsserver import GcsServer
from tests.helpers import Result, copy_present, litefix, put_back
from tests.litestream_harness import VERSIONS, Deployment, Replicator, binary, migrate, wait_for, write_rows
from tests.s3server import S3Server

pytestmark = pytest.mark.litestream

DB = "app.sqlite3"
STATES = ["in-sync", "behind", "ahead", "gap", "corrupt", "stale", "diverged"]
EXPECTED = {
    "behind": {"replica-behind"},
    "ahead": {"replica-ahead"},
    "gap": {"replica-gap"},
    "corrupt": {"replica-corrupt"},
    "stale": {"replica-stale"},
    "diverged": {"replica-diverged"},
}
REPLICA_ERRORS = {
    "replica-behind",
    "replica-ahead",
    "replica-gap",
    "replica-corrupt",
    "replica-stale",
    "replica-diverged",
    "replica-missing",
    "replica-unreachable",
    "replica-not-restored",
}
MATRIX = [(kind, version) for kind in ("s3", "abs", "gs") for version in VERSIONS]


@dataclass
class Site:
    """A database replicated by the real Litestream to a replica on a local object-store server."""

    dep: Deployment
    settings: dict[str, str]
    env: dict[str, str]

    @property
    def config(self) -> Path:
        return self.dep.root / "litestream.yml"

    def storage(self) -> ObjectStorage:
        cfg = load_config(str(self.config), {**os.environ, **self.env})
        storage = open_storage(cfg.dbs[0].replicas[0], {**os.environ, **self.env})
        assert isinstance(storage, ObjectStorage)
        return storage

    def names(self) -> list[str]:
        return sorted(info.key for info in self.storage().list(""))

    # Changing objects: obstore on S3 and Azure; on GCS obstore asks for a token even with
    # skip_signature when writing, so the emulator's unauthenticated JSON API is used there.
    def _gcs_url(self, key: str, upload: bool = False) -> str:
        from urllib.parse import quote

        base = f"http://{self.env['STORAGE_EMULATOR_HOST']}"
        name = f"{self.settings['path']}/{key}"
        if upload:
            return (
                f"{base}/upload/storage/v1/b/{self.settings['bucket']}/o?uploadType=media&name={quote(name, safe='')}"
            )
        return f"{base}/storage/v1/b/{self.settings['bucket']}/o/{quote(name, safe='')}"

    def get(self, key: str) -> bytes:
        import obstore

        return bytes(obstore.get(self.storage().store, key).bytes())

    def put(self, key: str, data: bytes) -> None:
        if "STORAGE_EMULATOR_HOST" in self.env:
            request = urllib.request.Request(self._gcs_url(key, upload=True), data=data, method="POST")
            with urllib.request.urlopen(request, timeout=10):
                return
        import obstore

        obstore.put(self.storage().store, key, data)

    def delete(self, key: str) -> None:
        if "STORAGE_EMULATOR_HOST" in self.env:
            with urllib.request.urlopen(urllib.request.Request(self._gcs_url(key), method="DELETE"), timeout=10):
                return
        import obstore

        obstore.delete(self.storage().store, key)


def _level(key: str) -> int:
    """The LTX level of a 0.5 key: `0009/…` on S3, `ltx/9/…` elsewhere (both hex or decimal, < 10)."""
    return int(key.split("/")[-2], 16)


def _min_txid(key: str) -> int:
    return int(key.rsplit("/", 1)[1][:16], 16)


def _max_txid(key: str) -> int:
    return int(key.rsplit("-", 1)[1][:16], 16)


def _settings(request: pytest.FixtureRequest, kind: str, version: str, bucket: str, path: str) -> dict[str, str]:
    if kind == "s3":
        s3: S3Server = request.getfixturevalue("s3")
        s3.create_bucket(bucket)
        return {
            "type": "s3",
            "bucket": bucket,
            "path": path,
            "endpoint": s3.endpoint,
            "region": "us-east-1",
            "force-path-style": "true",
        }
    if kind == "abs":
        azurite: Azurite = request.getfixturevalue("azurite")
        try:
            azurite.create_container(bucket)
        except urllib.error.HTTPError as exc:  # the second site of a test shares the container
            if exc.code != 409:
                raise
        return {
            "type": "abs",
            "account-name": ACCOUNT,
            "account-key": KEY,
            "bucket": bucket,
            "path": path,
            "endpoint": azurite.endpoint,
        }
    gcs: GcsServer = request.getfixturevalue("gcs")
    return {"type": "gcs" if version.startswith("0.3") else "gs", "bucket": gcs.bucket, "path": f"{bucket}/{path}"}


def _env(request: pytest.FixtureRequest, kind: str) -> dict[str, str]:
    if kind == "gs":
        gcs: GcsServer = request.getfixturevalue("gcs")
        return {"STORAGE_EMULATOR_HOST": f"127.0.0.1:{gcs.port}"}
    return {}


def _config(version: str, db: Path, settings: dict[str, str], sync_interval: str) -> str:
    fields = {**settings, "sync-interval": sync_interval}
    if version.startswith("0.3"):
        first, *rest = fields.items()
        lines = [f"      - {first[0]}: {first[1]}"] + [f"        {k}: {v}" for k, v in rest]
        block = "    replicas:\n" + "\n".join(lines) + "\n"
    else:
        block = "    replica:\n" + "".join(f"      {k}: {v}\n" for k, v in fields.items())
    return f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    checkpoint-interval: 1s\n" + block


def _site(
    request: pytest.FixtureRequest,
    kind: str,
    version: str,
    root: Path,
    path: str = "db",
    sync_interval: str = "100ms",
) -> Site:
    root.mkdir(parents=True, exist_ok=True)
    bucket = f"st{abs(hash(str(root.parent))) % 10**9}"
    dep = Deployment(root, version, (DB,))
    settings = _settings(request, kind, version, bucket, path)
    (root / "litestream.yml").write_text(_config(version, dep.db(), settings, sync_interval))
    return Site(dep, settings, _env(request, kind))


def _replicated(site: Site, rows: int = 30, writes: int = 1) -> None:
    """Migrated, replicated, written to, and Litestream stopped after its final sync."""
    migrate(site.dep.db(), rows)
    rep = _replicator(site)
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    for _ in range(writes):
        write_rows(site.dep.db(), 10)
        time.sleep(0.4)
    time.sleep(0.6)
    rep.stop()


def _replicator(site: Site) -> Replicator:
    rep = Replicator(site.dep.version, site.config, site.dep.root / "litestream.log", env=site.env).start()
    site.dep.replicators.append(rep)
    return rep


def _diagnose(site: Site, *args: str) -> Result:
    env = {**os.environ, **site.env, "LITEFIX_LITESTREAM": str(binary(site.dep.version))}
    env.pop("AWS_CA_BUNDLE", None)
    return litefix("diagnose", site.dep.db(), "--config", site.config, "--json", *args, env=env, timeout=300)


def _codes(result: Result) -> set[str]:
    return {f["code"] for f in result.json()["findings"] if f["severity"] != "info"}


# --- the states ------------------------------------------------------------------------------------


def _in_sync(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    site = _site(request, kind, version, tmp_path / "db")
    _replicated(site)
    return _diagnose(site, "--compare", "--verify-restore")


def _behind(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """Local commits while Litestream waits to sync (sync-interval 30s): the replica has not seen them."""
    site = _site(request, kind, version, tmp_path / "db", sync_interval="30s")
    migrate(site.dep.db(), 10)
    rep = _replicator(site)
    try:
        rep.wait_for_log(r"snapshot written|snapshot complete", 30)
        before = _local_position(_diagnose(site))
        write_rows(site.dep.db(), 20)  # the local state moves every 100 ms, the replica only every 30 s
        wait_for(lambda: _local_position(_diagnose(site)) != before, 15, "the local position to move")
        time.sleep(1.1)
        return _diagnose(site, "--max-lag", "0")
    finally:
        rep.stop(signal.SIGKILL)  # no final sync: the point is the lag


def _local_position(result: Result) -> object:
    run = next(r for r in result.json()["inspectors"] if r["name"] == "replica")
    return run["facts"].get("local_position")


def _ahead(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """An older copy of the volume mounted after more writes were replicated."""
    site = _site(request, kind, version, tmp_path / "db")
    root = site.dep.root
    migrate(site.dep.db(), 10)
    rep = _replicator(site)
    rep.wait_for_log(r"snapshot written|snapshot complete", 30)
    time.sleep(0.5)
    old = tmp_path / "old-volume"
    old.mkdir()
    copy_present(root, old, [DB, f"{DB}-wal", f".{DB}-litestream"])
    for _ in range(3):
        write_rows(site.dep.db(), 10)
        time.sleep(0.4)
    time.sleep(0.4)
    rep.stop()
    put_back(old, root, [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"])
    return _diagnose(site)


def _gap(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """An object deleted from the middle of the chain (a lifecycle rule, a hand cleanup)."""
    site = _site(request, kind, version, tmp_path / "db")
    _replicated(site, rows=10, writes=4)
    keys = site.names()
    if version.startswith("0.3"):
        by_index: dict[str, list[str]] = {}
        for key in (k for k in keys if k.endswith(".wal.lz4")):
            by_index.setdefault(key.rsplit("/", 1)[1].split("_")[0], []).append(key)
        doomed = [segs[0] for segs in by_index.values() if len(segs) >= 2][-1:]
    else:  # 0.5: <level %04x>/<min>-<max>.ltx
        ltx = [k for k in keys if k.endswith(".ltx")]
        snapshot_max = max(_max_txid(k) for k in ltx if _level(k) == 9)
        doomed = [k for k in ltx if _level(k) in (1, 2, 3)]
        later = sorted((k for k in ltx if _level(k) == 0 and _min_txid(k) > snapshot_max + 1), key=_min_txid)
        doomed += later[:1]
    assert doomed, keys
    for key in doomed:
        site.delete(key)
    return _diagnose(site)


def _corrupt(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """The snapshot object damaged in place (a bad upload, bit rot): the replica no longer restores clean."""
    site = _site(request, kind, version, tmp_path / "db")
    _replicated(site, rows=200)
    keys = site.names()
    if version.startswith("0.3"):
        [key] = [k for k in keys if k.endswith(".snapshot.lz4")]
        data = bytearray(lz4.frame.decompress(site.get(key)))
        for page in range(1, len(data) // 4096):  # every b-tree page header but the schema's
            data[page * 4096 : page * 4096 + 8] = b"\x00" * 8
        damaged = lz4.frame.compress(bytes(data))
    else:
        [key] = [k for k in keys if k.endswith(".ltx") and _level(k) == 9][-1:]
        data = bytearray(site.get(key))
        middle = len(data) // 2
        data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
        damaged = bytes(data)
    site.put(key, damaged)
    return _diagnose(site, "--verify-restore")


def _stale(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """The newest object older than --max-age while the database changed after it."""
    site = _site(request, kind, version, tmp_path / "db")
    _replicated(site)
    time.sleep(1.5)
    write_rows(site.dep.db(), 5)
    return _diagnose(site, "--max-age", "1")


def _diverged(request: pytest.FixtureRequest, kind: str, version: str, tmp_path: Path) -> Result:
    """Another database's objects under our prefix (a shared or reused path)."""
    ours = _site(request, kind, version, tmp_path / "ours", path="ours")
    other = _site(request, kind, version, tmp_path / "other", path="other")
    _replicated(ours, rows=30)
    _replicated(other, rows=3)
    for key in ours.names():
        ours.delete(key)
    for key in other.names():
        ours.put(key, other.get(key))
    return _diagnose(ours, "--compare")


BUILD = {
    "in-sync": _in_sync,
    "behind": _behind,
    "ahead": _ahead,
    "gap": _gap,
    "corrupt": _corrupt,
    "stale": _stale,
    "diverged": _diverged,
}


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize(("kind", "version"), MATRIX, ids=[f"{k}-{v}" for k, v in MATRIX])
def test_each_replica_state_on_an_object_store_gives_its_code(
    kind: str, version: str, state: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    result = BUILD[state](request, kind, version, tmp_path)
    assert "Traceback" not in result.err, result.err[-3000:]
    run = next(r for r in result.json()["inspectors"] if r["name"] == "replica")
    [replica] = run["facts"]["replicas"]
    assert replica["read_by"].startswith("native ("), replica
    assert replica["format"] == version[:3], replica
    found = _codes(result)
    if state == "in-sync":
        assert not found & REPLICA_ERRORS, result.out
        assert replica["comparison"]["equal"] is True, replica  # page checksums from ranged reads
        assert run["facts"]["restore_checksum"]["equal"] is True, run["facts"]  # and the binary's restore
        return
    assert found & REPLICA_ERRORS == EXPECTED[state], (state, found, result.out[-4000:])
