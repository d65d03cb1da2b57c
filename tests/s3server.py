"""A real S3-compatible server on 127.0.0.1 (moto's standalone server), started by the tests.

Litestream talks to it over HTTP exactly as it talks to AWS (path-style, custom
endpoint); moto's request recorder shows what Litestream asked for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "litefix", "AWS_SECRET_ACCESS_KEY": "litefix", "AWS_REGION": "us-east-1"}


@dataclass
class S3Server:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        request = urllib.request.Request(self.endpoint + path, data=body, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return bytes(response.read())

    def create_bucket(self, name: str) -> None:
        self._call("PUT", f"/{name}")

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="litefix",
            aws_secret_access_key="litefix",
        )
        keys: list[str] = []
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [item["Key"] for item in page.get("Contents", [])]
        return keys

    def start_recording(self) -> None:
        self._call("POST", "/moto-api/recorder/reset-recording")
        self._call("POST", "/moto-api/recorder/start-recording")

    def recorded(self) -> list[dict[str, object]]:
        """Every request since start_recording: method, url, headers."""
        text = self._call("GET", "/moto-api/recorder/download-recording").decode()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def start_server(log: Path) -> S3Server:
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    if exe is None:
        raise RuntimeError("moto_server is not installed: `pip install -e '.[test]'` provides it")
    port = free_port()
    with open(log, "wb") as out:
        # cwd: moto's request recorder writes a `moto_recording` file into its working directory.
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )
    server = S3Server(port, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            server._call("GET", "/moto-api/")
            return server
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3 server per test worker; each test uses its own bucket."""
    server = start_server(tmp_path_factory.mktemp("s3") / "moto.log")
    old = {k: os.environ.get(k) for k in CREDENTIALS}
    os.environ.update(CREDENTIALS)
    try:
        yield server
    finally:
        server.proc.terminate()
        server.proc.wait(10)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def s3_config(version: str, db: Path, endpoint: str, bucket: str) -> str:
    """A litestream.yml replicating `db` to `bucket` on the S3 server at `endpoint`, in `version`'s shape."""
    replica = (
        f"type: s3\n{{i}}bucket: {bucket}\n{{i}}path: {db.name}\n{{i}}endpoint: {endpoint}\n"
        f"{{i}}region: us-east-1\n{{i}}force-path-style: true\n{{i}}sync-interval: 100ms\n"
    )
    if version.startswith("0.3"):
        block = "    replicas:\n      - " + replica.format(i="        ")
    else:
        block = "    replica:\n      " + replica.format(i="      ")
    return f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    checkpoint-interval: 1s\n" + block
