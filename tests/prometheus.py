"""A real Prometheus server on 127.0.0.1 (Debian's `prometheus` package), started by the tests.

Its own free port and a private data directory: the service the Debian package may have started
(port 9090, /var/lib/prometheus) is never touched. `make test-deps` installs the package.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.servers import free_port, stop_process


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise RuntimeError(f"{tool} is not installed: run `make test-deps` (apt-get install prometheus)")
    return path


@dataclass
class Prometheus:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _get(self, path: str, **params: str) -> Any:
        query = ("?" + urllib.parse.urlencode(params)) if params else ""
        with urllib.request.urlopen(self.url + path + query, timeout=10) as response:
            return json.loads(response.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector of `expr`: [{"metric": {...}, "value": [t, "v"]}]."""
        doc = self._get("/api/v1/query", query=expr)
        assert doc["status"] == "success", doc
        return list(doc["data"]["result"])

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def targets_up(self) -> bool:
        doc = self._get("/api/v1/targets")
        active = doc["data"]["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)

    def stop(self) -> None:
        stop_process(self.proc, 15)


def start_prometheus(directory: Path, target: str, interval: str = "1s") -> Prometheus:
    """Scrape `target` (HOST:PORT) every `interval`; returns once the HTTP API answers."""
    exe = require("prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n"
        f"  scrape_interval: {interval}\n"
        f"  evaluation_interval: {interval}\n"
        "scrape_configs:\n"
        "  - job_name: litefix\n"
        f"    scrape_timeout: {interval}\n"
        f"    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = free_port()
    log = directory / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                exe,
                f"--config.file={config}",
                f"--storage.tsdb.path={directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=directory,
        )
    server = Prometheus(port, proc, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server.url + "/-/ready", timeout=5) as response:
                response.read()
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"prometheus did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)
            continue
        return server
