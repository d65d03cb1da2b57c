"""A real Azure Blob Storage emulator on 127.0.0.1 (Azurite, from npm), started by the tests.

`make test` installs it into .cache/npm (the Makefile's `test-servers` step). Azurite serves the
well-known development account; its service URL carries the account in the path
(http://127.0.0.1:PORT/devstoreaccount1), which is what Litestream's `endpoint:` takes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path

import pytest

from tests.servers import free_port, stop_process

ROOT = Path(__file__).resolve().parent.parent
AZURITE = ROOT / ".cache" / "npm" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same in every installation; not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2021-08-06"


@dataclass
class Azurite:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def create_container(self, name: str) -> None:
        """PUT ?restype=container, signed with the account key (SharedKey), as any Azure client does."""
        date = formatdate(usegmt=True)
        headers = {"x-ms-date": date, "x-ms-version": API_VERSION, "Content-Length": "0"}
        canonical_headers = f"x-ms-date:{date}\nx-ms-version:{API_VERSION}\n"
        resource = f"/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        to_sign = "PUT\n" + "\n" * 11 + canonical_headers + resource
        # Content-Length is the 3rd field of the string to sign; 0 is written as empty (API >= 2015-02-21).
        signature = base64.b64encode(
            hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
        ).decode()
        headers["Authorization"] = f"SharedKey {ACCOUNT}:{signature}"
        request = urllib.request.Request(f"{self.endpoint}/{name}?restype=container", method="PUT", headers=headers)
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        stop_process(self.proc)


def start_azurite(workdir: Path) -> Azurite:
    if not AZURITE.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE}: `make test-servers` installs it from npm")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = open(workdir / "azurite.log", "wb")  # noqa: SIM115 - owned by the child
    proc = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--inMemoryPersistence",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,  # Azurite writes its debug and extent files into the working directory
        start_new_session=True,
    )
    log.close()
    server = Azurite(port, proc)
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Azurite did not start: {(workdir / 'azurite.log').read_text()[-2000:]}") from None
            time.sleep(0.1)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite of the test module's own (a conftest plugin: every module that asks gets one)."""
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    try:
        yield server
    finally:
        server.stop()
