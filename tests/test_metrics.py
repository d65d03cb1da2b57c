"""`litefix metrics` scraped by a real Prometheus, checked by promtool, and the shipped alert rules tested.

The Prometheus server is Debian's (`make test-deps` installs it), started by the test on its own
port and data directory; Litestream is the real binary; nothing is faked.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from litefix.monitor.metrics import write_textfile
from tests.helpers import ROOT, litefix
from tests.litestream_harness import VERSIONS, Deployment, binary, migrate, wait_for
from tests.prometheus import require, start_prometheus
from tests.scenarios import start_replicating
from tests.servers import free_port

MONITORING = ROOT / "monitoring"


def env_for(version: str) -> dict[str, str]:
    return {**os.environ, "LITEFIX_LITESTREAM": str(binary(version))}


def samples(text: str) -> dict[str, float]:
    """{'name{labels}': value} of an exposition (comments skipped)."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_the_shipped_alert_rules_pass_promtool() -> None:
    promtool = require("promtool")
    check = subprocess.run(
        [promtool, "check", "rules", "litefix.rules.yml"], cwd=MONITORING, capture_output=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    test = subprocess.run(
        [promtool, "test", "rules", "litefix.rules.test.yml"], cwd=MONITORING, capture_output=True, check=False
    )
    assert test.returncode == 0, test.stdout + test.stderr


def test_a_failed_verify_is_a_series_naming_its_code_and_the_exposition_is_valid() -> None:
    from litefix.monitor.metrics import Collection, DatabaseSample, ReplicaSample
    from litefix.monitor.state import LastVerify
    from litefix.render.metrics import exposition, registry_for

    replica = ReplicaSample("file:///r/app.db", True, "0.5", "TXID 0000000000000007", 12.5, 3, None, 1.7e9)
    db = DatabaseSample(
        "/data/app.db",
        True,
        (("litestream-not-running", "warning"),),
        4152,
        42,
        False,
        None,
        8272,
        (replica,),
        LastVerify(1.7e9, False, None, "verify-not-syncing", None),
        0.1,
    )
    text = exposition(registry_for(lambda: Collection("/etc/l.yml", "0.1.0", "0.5.17", "/bin/l", (db,), 1.7e9, 0.2)))
    got = samples(text.decode())
    assert got['litefix_verify_last_failure{code="verify-not-syncing",db="/data/app.db"}'] == 1
    assert got['litefix_verify_last_success{db="/data/app.db"}'] == 0
    assert 'litefix_verify_last_latency_seconds{db="/data/app.db"}' not in got
    assert got['litefix_findings{code="litestream-not-running",db="/data/app.db",severity="warning"}'] == 1
    assert got['litefix_replica_lag_transactions{db="/data/app.db",replica="file:///r/app.db"}'] == 3
    assert 'litefix_litestream_holds_current_inode{db="/data/app.db"}' not in got  # none holds it
    check = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr


def test_listen_needs_host_and_port(tmp_path: Path) -> None:
    config = tmp_path / "litestream.yml"
    config.write_text(f"dbs:\n  - path: {tmp_path / 'app.db'}\n    replica: {{type: file, path: {tmp_path / 'r'}}}\n")
    result = litefix("metrics", "--config", config, "--listen", "9436")
    assert result.code == 2 and "is not HOST:PORT" in result.err and "Traceback" not in result.err


def test_a_textfile_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    """node_exporter reads *.prom whenever it is scraped: it must see the old file or the new one."""
    target = tmp_path / "litefix.prom"
    versions = [(f"# generation {i}\n" + f'litefix_x{{i="{i}"}} 1\n' * 20_000).encode() for i in range(2)]
    write_textfile(str(target), versions[0])
    stop = threading.Event()
    seen: list[bytes] = []

    def read() -> None:
        while not stop.is_set():
            seen.append(target.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):
            write_textfile(str(target), versions[i % 2])
    finally:
        stop.set()
        reader.join()
    assert seen and all(data in versions for data in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["litefix.prom"]  # no temporary file left behind


@pytest.mark.litestream
@pytest.mark.parametrize("version", VERSIONS)
def test_the_exposition_passes_promtool_and_names_every_database(tmp_path: Path, version: str) -> None:
    dep = Deployment(tmp_path, version, ("a.db", "b.db"))
    for name in dep.names:
        migrate(dep.db(name), 5)
    start_replicating(dep)
    try:
        verified = litefix("verify", dep.db("a.db"), "--config", tmp_path / "litestream.yml", env=env_for(version))
        assert verified.code == 0, verified.out + verified.err
        prom = tmp_path / "litefix.prom"
        result = litefix("metrics", "--config", tmp_path / "litestream.yml", "--textfile", prom, env=env_for(version))
    finally:
        dep.stop_all()
    assert result.code == 0, result.err
    text = prom.read_text()
    check = subprocess.run(
        [require("promtool"), "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr
    got = samples(text)
    for name in dep.names:
        db = dep.db(name)
        assert got[f'litefix_litestream_running{{db="{db}"}}'] == 1
        assert got[f'litefix_litestream_holds_current_inode{{db="{db}"}}'] == 1
        assert got[f'litefix_database_inode{{db="{db}"}}'] == os.stat(db).st_ino
        assert got[f'litefix_findings_by_severity{{db="{db}",severity="error"}}'] == 0
        replica = f'db="{db}",replica="file://{dep.replica(name)}"'
        assert got[f"litefix_replica_up{{{replica}}}"] == 1
        lag = "litefix_replica_lag_transactions" if version.startswith("0.5") else "litefix_replica_lag_wal_indexes"
        assert f"{lag}{{{replica}}}" in got
    assert got[f'litefix_verify_last_success{{db="{dep.db("a.db")}"}}'] == 1
    assert f'litefix_verify_last_success{{db="{dep.db("b.db")}"}}' not in got  # never verified: no series
    assert any(k.startswith("litefix_litestream_info{") and f'version="{version}"' in k for k in got)


@pytest.mark.litestream
@pytest.mark.parametrize("version", VERSIONS)
def test_a_database_replaced_under_litestream_shows_as_a_replaced_inode_and_an_error(
    tmp_path: Path, version: str
) -> None:
    """The incident, as a scrape sees it: what `LitestreamHoldsReplacedFile` and `LitefixErrorFinding` fire on."""
    dep = Deployment(tmp_path, version, ("app.db",))
    migrate(dep.db(), 5)
    start_replicating(dep)
    try:
        new = tmp_path / "new.db"
        migrate(new, 2)
        os.rename(new, dep.db())
        result = litefix("metrics", "--config", tmp_path / "litestream.yml", env=env_for(version))
    finally:
        dep.stop_all()
    assert result.code == 0, result.err
    got = samples(result.out)
    db = dep.db()
    assert got[f'litefix_litestream_running{{db="{db}"}}'] == 1
    assert got[f'litefix_litestream_holds_current_inode{{db="{db}"}}'] == 0
    assert got[f'litefix_database_inode{{db="{db}"}}'] == os.stat(db).st_ino
    assert got[f'litefix_findings{{code="litestream-replaced",db="{db}",severity="error"}}'] == 1
    assert got[f'litefix_findings_by_severity{{db="{db}",severity="error"}}'] >= 1


@pytest.fixture
def metrics_server(tmp_path: Path) -> Iterator[tuple[Deployment, str]]:
    """A replicated database and `litefix metrics --listen` serving it (short cache)."""
    dep = Deployment(tmp_path, "0.5.17", ("app.db",))
    migrate(dep.db(), 5)
    start_replicating(dep)
    listen = f"127.0.0.1:{free_port()}"
    command = [sys.executable, "-m", "litefix", "metrics", "--config", str(tmp_path / "litestream.yml")]
    server = subprocess.Popen(
        [*command, "--listen", listen, "--cache-seconds", "0.5"],
        env=env_for("0.5.17"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        yield dep, listen
    finally:
        server.terminate()
        try:
            assert server.wait(15) == 0  # SIGTERM is a clean stop
        finally:
            if server.poll() is None:
                server.kill()
            dep.stop_all()


@pytest.mark.litestream
@pytest.mark.slow
def test_prometheus_sees_the_replica_fall_behind_and_the_finding_appear(
    tmp_path: Path, metrics_server: tuple[Deployment, str]
) -> None:
    dep, listen = metrics_server
    prometheus = start_prometheus(tmp_path / "prometheus", listen, interval="1s")
    db = dep.db()
    sel = f'{{db="{db}"}}'
    app: sqlite3.Connection | None = None
    try:
        wait_for(prometheus.targets_up, 60, "prometheus to scrape litefix metrics")
        wait_for(lambda: prometheus.value(f"litefix_litestream_running{sel}") == 1, 30, "litestream_running 1")
        assert prometheus.value(f"litefix_replica_lag_seconds{sel}") == 0
        assert prometheus.value(f'litefix_findings_by_severity{{db="{db}",severity="warning"}}') == 0
        dep.stop_all()  # Litestream stops; the app (its connection open, like a server's) keeps writing
        app = sqlite3.connect(db, isolation_level=None)
        app.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('late', 'x')")
        wait_for(lambda: prometheus.value(f"litefix_litestream_running{sel}") == 0, 30, "litestream_running 0")
        wait_for(lambda: (prometheus.value(f"litefix_replica_lag_seconds{sel}") or 0) > 0, 30, "lag above 0")
        assert (prometheus.value(f"litefix_wal_unsynced_bytes{sel}") or 0) > 0
        findings = prometheus.query(f'litefix_findings{{db="{db}",code="litestream-not-running"}}')
        assert findings and findings[0]["metric"]["severity"] == "warning"
        # Lag grows for as long as the replica stays behind: the alert's `for:` can rely on it.
        first = prometheus.value(f"litefix_replica_lag_seconds{sel}") or 0
        wait_for(lambda: (prometheus.value(f"litefix_replica_lag_seconds{sel}") or 0) > first + 1, 30, "lag grows")
    finally:
        prometheus.stop()
        if app is not None:
            app.close()
