"""`litefix boot`, the safe entrypoint, run as a container runs it: real Litestream, real app processes.

The app is a small Python program that does what the Rails app of the incident does with its
databases: `--prepare` creates the schema (like `bin/rails db:prepare`), the app reads what the
earlier lives of the container wrote and adds its own rows. Between boots the container's files
are deleted and only the replica is kept, like a redeploy onto a fresh container.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Result, litefix
from tests.litestream_harness import VERSIONS, binary, config_text, count_rows, migrate, wait_for

pytestmark = pytest.mark.litestream

# The incident's four databases; the cable one is the one that broke.
NAMES = ("production.sqlite3", "production_queue.sqlite3", "production_cache.sqlite3", "production_cable.sqlite3")
CABLE = NAMES[-1]
ROWS_PER_BOOT = 20

PREPARE = r"""
import sqlite3, sys
for db in sys.argv[1:]:  # what `db:prepare` does to a database: create it if missing, then its schema
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, boot INTEGER, payload TEXT)")
    con.close()
"""

APP = r"""
import json, os, signal, sqlite3, sys, time
state, dbs = sys.argv[1], sys.argv[2:]
boot = int(os.environ.get("BOOT", "0"))
stop = []
signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
signal.signal(signal.SIGINT, lambda s, f: stop.append(s))
signal.signal(signal.SIGHUP, lambda s, f: stop.append(s))

def write(rows):
    for db in dbs:
        con = sqlite3.connect(db, isolation_level=None, timeout=10)
        for _ in range(rows):
            con.execute("INSERT INTO messages (boot, payload) VALUES (?, ?)", (boot, "x" * 100))
        con.close()

seen = {}
for db in dbs:
    con = sqlite3.connect(db, isolation_level=None, timeout=10)
    seen[os.path.basename(db)] = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    con.close()
write(int(os.environ.get("ROWS", "20")))
with open(state + ".tmp", "w") as f:
    json.dump({"pid": os.getpid(), "pgid": os.getpgid(0), "seen": seen}, f)
os.rename(state + ".tmp", state)
if os.environ.get("WAIT_FOR_SIGNAL"):
    while not stop:
        time.sleep(0.02)
    write(1)  # a last write during a graceful shutdown must reach the replica too
    with open(state + ".signal", "w") as f:
        f.write(signal.Signals(stop[0]).name)
sys.exit(int(os.environ.get("APP_EXIT", "0")))
"""


@dataclass
class Container:
    """One app's deployment: a volume that does not survive a redeploy, and a replica that does."""

    root: Path
    version: str

    @property
    def app_dir(self) -> Path:
        return self.root / "app"

    @property
    def config(self) -> Path:
        return self.root / "litestream.yml"

    @property
    def state(self) -> Path:
        return self.app_dir / "app-state.json"

    def db(self, name: str = CABLE) -> Path:
        return self.app_dir / name

    @property
    def dbs(self) -> list[str]:
        return [str(self.db(n)) for n in NAMES]

    def setup(self) -> Container:
        (self.root / "prepare.py").write_text(PREPARE)
        (self.root / "app.py").write_text(APP)
        pairs = [(self.db(n), self.root / "replica" / n) for n in NAMES]
        self.config.write_text(config_text(self.version, pairs, log_level="info"))
        self.app_dir.mkdir(parents=True, exist_ok=True)
        return self

    def redeploy(self) -> None:
        """A fresh container: every local file is gone, the replica is kept."""
        shutil.rmtree(self.app_dir)
        self.app_dir.mkdir()

    def prepare_command(self) -> str:
        return shlex.join([sys.executable, str(self.root / "prepare.py"), *self.dbs])

    def argv(self, *extra: str, prepare: str | None = "default", app: list[str] | None = None) -> list[str]:
        args = ["boot", "--config", str(self.config), *extra]
        if prepare is not None:
            args += ["--prepare", self.prepare_command() if prepare == "default" else prepare]
        return [*args, "--", *(app or [sys.executable, str(self.root / "app.py"), str(self.state), *self.dbs])]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "LITEFIX_LITESTREAM": str(binary(self.version)), **extra}

    def boot(self, *extra: str, prepare: str | None = "default", app: list[str] | None = None, **env: str) -> Result:
        return litefix(*self.argv(*extra, prepare=prepare, app=app), env=self.env(**env), timeout=120)

    def app_state(self) -> dict[str, object]:
        return dict(json.loads(self.state.read_text()))

    def litestream_pids(self) -> list[int]:
        """Litestream processes running with this container's config (none may outlive a boot)."""
        found = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if str(self.config).encode() in cmdline and b"replicate" in cmdline and state != "Z":
                found.append(int(pid))
        return found


def error_lines(result: Result) -> list[str]:
    """Litestream logs to stdout, litefix to stderr; an entrypoint's log is both."""
    return [line for line in (result.out + result.err).splitlines() if "level=ERROR" in line]


@pytest.fixture
def container(tmp_path: Path, request: pytest.FixtureRequest) -> Container:
    version = getattr(request, "param", "0.5.17")
    return Container(tmp_path, version).setup()


# --- the incident, booted safely ------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("container", VERSIONS, indirect=True)
def test_ten_container_lives_through_boot_never_give_litestream_a_replaced_database(container: Container) -> None:
    """First boot: no replica, so --prepare creates the four databases (cable included) before
    Litestream starts. Every later boot is a fresh container: each database is restored from the
    replica before --prepare, the gate passes, and only then does Litestream start. Litestream never
    logs an error, and every row any earlier life wrote is there."""
    boots = 10
    for life in range(boots):
        started = time.monotonic()
        result = container.boot(BOOT=str(life), ROWS=str(ROWS_PER_BOOT))
        seconds = time.monotonic() - started
        context = f"boot {life} ({seconds:.1f}s):\n{result.err[-3000:]}"
        assert result.code == 0, context
        assert error_lines(result) == [], context
        seen = container.app_state()["seen"]
        assert seen == {name: life * ROWS_PER_BOOT for name in NAMES}, context
        if life == 0:
            assert f"{CABLE}: no replica yet (a first deploy)" in result.err, context
        else:
            assert f"{CABLE}: restored" in result.err, context
        assert result.err.index("prepare:") < result.err.index("check: ready") < result.err.index("starting ")
        assert container.litestream_pids() == [], "Litestream must stop when the app exits"
        container.redeploy()


@pytest.mark.parametrize("container", VERSIONS, indirect=True)
def test_boot_returns_the_apps_own_exit_code_and_stops_litestream(container: Container) -> None:
    """`litestream replicate -exec` would exit 1 here (notes §9); boot passes 7 through."""
    result = container.boot(APP_EXIT="7")
    assert result.code == 7, result.err
    assert "the app exited with 7; stopping Litestream" in result.err
    assert error_lines(result) == []
    assert container.litestream_pids() == []


@pytest.mark.parametrize(
    ("container", "sig"),
    [("0.3.13", signal.SIGTERM), ("0.5.17", signal.SIGTERM), ("0.5.17", signal.SIGINT), ("0.5.17", signal.SIGHUP)],
    indirect=["container"],
    ids=["0.3.13-SIGTERM", "0.5.17-SIGTERM", "0.5.17-SIGINT", "0.5.17-SIGHUP"],
)
def test_a_stop_signal_reaches_the_app_and_litestream_stops_after_its_last_write(
    container: Container, sig: signal.Signals
) -> None:
    """`docker stop` sends SIGTERM to litefix (PID 1 of the container): the app gets it and shuts down
    (its last write included), then Litestream stops after a final sync. Nothing is left running,
    and the write made during shutdown is on the replica."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "litefix", *container.argv()],
        env=container.env(WAIT_FOR_SIGNAL="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(container.state.exists, timeout=60, what="the app to start")
        assert len(container.litestream_pids()) == 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert Path(f"{container.state}.signal").read_text() == sig.name, "the app got the signal itself"
    assert container.litestream_pids() == []
    assert [line for line in (out + err).splitlines() if "level=ERROR" in line] == []
    container.redeploy()
    restored = container.boot(prepare=None, app=[sys.executable, "-c", "pass"])
    assert restored.code == 0, restored.err
    assert count_rows(container.db(), "messages") == ROWS_PER_BOOT + 1, "the shutdown write was replicated"


def test_litestream_dying_under_the_app_stops_the_app(container: Container) -> None:
    """If Litestream dies, the app's writes are no longer backed up: boot stops the app and says so."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "litefix", *container.argv()],
        env=container.env(WAIT_FOR_SIGNAL="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(container.state.exists, timeout=60, what="the app to start")
        (litestream,) = container.litestream_pids()
        os.kill(litestream, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 6, err
    assert "Error: Litestream exited with -9 while the app ran, so the app was stopped" in err
    assert Path(f"{container.state}.signal").read_text() == "SIGTERM"


# --- failing fast ---------------------------------------------------------------------------------


def test_boot_refuses_while_the_previous_containers_litestream_still_runs(container: Container) -> None:
    """A deploy overlap: the old container's `replicate` still holds the databases. Restoring or
    migrating now would replace them under it, so boot stops before touching anything."""
    container.boot()  # a previous life, so that there is something to replicate
    previous = subprocess.Popen(
        [str(binary(container.version)), "replicate", "-config", str(container.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: str(container.db()) in _fds(previous.pid), what="the old Litestream to open the database")
        container.state.unlink()
        result = container.boot()
        assert result.code == 4, result.err
        assert "\nError: a Litestream is already at work on these databases: pid " in result.err
        assert f"kill {previous.pid}" in result.err
        assert not container.state.exists(), "the app was not started"
        assert "prepare: " not in result.err and ": restoring from" not in result.err
    finally:
        previous.terminate()
        previous.wait(30)


def _fds(pid: int) -> list[str]:
    out = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            out.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
    return out


def test_a_failing_prepare_stops_the_boot_with_its_exit_code_before_litestream_starts(container: Container) -> None:
    result = container.boot(prepare="echo 'migration 42 failed' >&2; exit 3")
    assert result.code == 3, result.err
    assert "migration 42 failed" in result.err
    assert "Error: --prepare `echo 'migration 42 failed' >&2; exit 3` exited 3" in result.err
    assert "starting " not in result.err and not container.state.exists()
    assert container.litestream_pids() == []


def test_a_failing_gate_stops_the_boot_and_prints_the_checklist(container: Container) -> None:
    """The queue and cable databases were configured onto one replica path (a copy-paste slip): their
    replica would mix two databases. The gate fails after --prepare, and neither Litestream nor the app
    starts."""
    pairs = [(container.db(n), container.root / "replica" / (CABLE if n == NAMES[1] else n)) for n in NAMES]
    container.config.write_text(config_text(container.version, pairs, log_level="info"))
    result = container.boot()
    assert result.code == 1, result.err
    assert "✘ deployment" in result.err and "replica-shared" in result.err
    assert "Error: the pre-deploy check failed: not ready" in result.err
    assert not container.state.exists() and container.litestream_pids() == []
    assert "starting " not in result.err


def test_a_missing_database_is_restored_without_merging_the_stale_wal_left_beside_it(container: Container) -> None:
    """A crash left the cable database's -wal (with rows never replicated) but lost the file itself.
    SQLite would merge that -wal into a plain `litestream restore`; boot quarantines it first."""
    container.boot(ROWS="5")
    container.redeploy()
    stale = container.app_dir / "stale.sqlite3"
    migrate(stale, 300, table="messages_from_elsewhere")
    con = sqlite3.connect(stale, isolation_level=None)
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("INSERT INTO messages_from_elsewhere (channel, payload) VALUES ('stale', 'x')")
    shutil.copyfile(f"{stale}-wal", f"{container.db()}-wal")
    con.close()
    stale.unlink()

    result = container.boot(prepare=None, ROWS="0")
    assert result.code == 0, result.err
    assert container.app_state()["seen"][CABLE] == 5
    quarantined = list((container.app_dir / ".litefix" / "quarantine").rglob(f"{CABLE}-wal"))
    assert quarantined, "the stale -wal was moved aside, not merged"


def test_boot_without_an_app_or_with_exec_in_the_config_is_a_usage_error(container: Container) -> None:
    no_app = litefix("boot", "--config", container.config, env=container.env())
    assert no_app.code == 2 and "Traceback" not in no_app.err
    container.config.write_text(container.config.read_text() + "exec: bin/rails server\n")
    with_exec = container.boot()
    assert with_exec.code == 2
    assert with_exec.err.startswith(f"Error: {container.config} has `exec: bin/rails server`")


# --- repair under boot ------------------------------------------------------------------------------

LEDGER_APP = r"""
import os, signal, sqlite3, sys, time
ledger, dbs = sys.argv[1], sys.argv[2:]
stop = []
signal.signal(signal.SIGTERM, lambda s, f: stop.append(s))
cons = [sqlite3.connect(db, isolation_level=None, timeout=30) for db in dbs]
with open(ledger, "a") as out:
    out.write(f"start {os.getpid()}\n")
    out.flush()
    while not stop:
        for db, con in zip(dbs, cons):
            con.execute("INSERT INTO messages (boot, payload) VALUES (0, 'ledger')")
            out.write(os.path.basename(db) + "\n")  # written only once the commit returned
        out.flush()
        time.sleep(0.02)
"""


@pytest.mark.slow
@pytest.mark.parametrize("container", VERSIONS, indirect=True)
def test_repair_under_a_running_boot_pauses_it_and_loses_no_committed_row(container: Container) -> None:
    """The container's entrypoint is `litefix boot`, the app writes all the time, and the cable
    database's Litestream tables were dropped in place (a schema reload): Litestream can no longer
    checkpoint it. `litefix repair` asks the running boot to pause — the app stopped, then Litestream
    after its final sync — re-initialises cable, and boot starts both again. The container never
    stops, boot blames nobody, and every row the app committed (its own ledger) is in the database
    and on the replica."""
    ledger = container.root / "ledger.txt"
    (container.root / "ledger_app.py").write_text(LEDGER_APP)
    app = [sys.executable, str(container.root / "ledger_app.py"), str(ledger), *container.dbs]
    log = container.root / "boot.log"  # a file, not a pipe: nobody drains a pipe while the repair runs
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "litefix", *container.argv(app=app)], env=container.env(), stdout=out, stderr=out
        )
    try:
        wait_for(lambda: ledger.exists() and ledger.read_text().count(CABLE) > 20, timeout=60, what="the app")
        con = sqlite3.connect(container.db(), isolation_level=None, timeout=30)
        con.execute("DROP TABLE _litestream_seq")
        con.close()
        repaired = litefix(
            "repair", container.db(), "--config", container.config, "--strategy", "init", "--yes", env=container.env()
        )
        assert repaired.code == 0, repaired.out + repaired.err
        assert "litefix boot: paused: the app and Litestream are stopped" in repaired.err
        assert proc.poll() is None, "the container (boot) kept running"
        wait_for(lambda: ledger.read_text().count("start ") == 2, timeout=60, what="boot to start the app again")
        wait_for(lambda: ledger.read_text().count(CABLE) > 40, timeout=60, what="the app to write again")
        assert len(container.litestream_pids()) == 1
        proc.send_signal(signal.SIGTERM)
        proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = log.read_text(errors="replace")
    assert proc.returncode == 0, err[-3000:]
    assert "asks for a pause" in err and "Litestream exited with" not in err
    committed = ledger.read_text().splitlines()
    for name in NAMES:
        assert count_rows(container.db(name), "messages") == committed.count(name), name
    container.redeploy()
    restored = container.boot(prepare=None, app=[sys.executable, "-c", "pass"])
    assert restored.code == 0, restored.err
    for name in NAMES:
        assert count_rows(container.db(name), "messages") == committed.count(name), f"{name} on the replica"
