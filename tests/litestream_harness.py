"""Run the real Litestream binaries the way production does, with short intervals.

Both on-disk generations matter (0.3 generations + shadow WAL, 0.5 LTX), so every
scenario runs against both. Nothing here fakes Litestream: it writes a real
config, starts `litestream replicate`, and waits on its log or the disk by
polling — never by fixed sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from install_litestream import binary_path as _installed_path  # noqa: E402
from install_litestream import ensure  # noqa: E402

from litefix.system.readonly import open_readonly  # noqa: E402

VERSIONS = ("0.3.13", "0.5.17")
INTERVALS = {"monitor": "100ms", "checkpoint": "1s", "sync": "100ms"}


def binary(version: str) -> Path:
    """The real binary of `version`, installed into .cache on first use."""
    return ensure(version)


def binary_path(version: str) -> Path:
    """Where the binary of `version` is (or will be) installed, without installing it."""
    return _installed_path(version)


def wait_for(predicate: Callable[[], object], timeout: float = 20, what: str = "condition") -> object:
    """Poll until `predicate()` is truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def config_text(version: str, dbs: list[tuple[Path, Path]], *, log_level: str = "debug", extra_db: str = "") -> str:
    """A litestream.yml in the shape `version` expects: 0.3 `replicas:` list, 0.5 `replica:` mapping."""
    lines = [f"logging:\n  level: {log_level}", "dbs:"]
    for db, replica in dbs:
        lines.append(f"  - path: {db}")
        lines.append(f"    monitor-interval: {INTERVALS['monitor']}")
        lines.append(f"    checkpoint-interval: {INTERVALS['checkpoint']}")
        if extra_db:
            lines.append(extra_db)
        if version.startswith("0.3"):
            lines += [
                "    replicas:",
                "      - type: file",
                f"        path: {replica}",
                f"        sync-interval: {INTERVALS['sync']}",
            ]
        else:
            lines += [
                "    replica:",
                "      type: file",
                f"      path: {replica}",
                f"      sync-interval: {INTERVALS['sync']}",
            ]
    return "\n".join(lines) + "\n"


@dataclass
class Replicator:
    """One `litestream replicate -config …` process and its log."""

    version: str
    config: Path
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def binary(self) -> Path:
        return binary(self.version)

    def start(self) -> Replicator:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child until stop()
        env = {**os.environ, **self.env}
        if not self.version.startswith("0.3"):
            env.pop("AWS_CA_BUNDLE", None)  # 0.5.17 cannot build its S3 client with it set (notes §10)
        self.proc = subprocess.Popen(
            [str(self.binary), "replicate", "-config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        log.close()
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 20, count: int = 1) -> str:
        regex = re.compile(pattern)

        def seen() -> str | None:
            found = regex.findall(self.log())
            return self.log() if len(found) >= count else None

        try:
            return str(wait_for(seen, timeout, f"log line /{pattern}/ x{count}"))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- litestream {self.version} log ---\n{self.log()[-3000:]}") from None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(5)


@dataclass
class Deployment:
    """A directory with databases, their replicas and a config — like one app's volume."""

    root: Path
    version: str
    names: tuple[str, ...] = ("production_cable.sqlite3",)
    replicators: list[Replicator] = field(default_factory=list)

    def db(self, name: str | None = None) -> Path:
        return self.root / (name or self.names[0])

    def replica(self, name: str | None = None) -> Path:
        return self.root / "replica" / (name or self.names[0])

    def write_config(
        self,
        path: Path | None = None,
        names: tuple[str, ...] | None = None,
        replica_of: Callable[[str], Path] | None = None,
    ) -> Path:
        path = path or self.root / "litestream.yml"
        replica_of = replica_of or self.replica
        dbs = [(self.db(n), replica_of(n)) for n in (names or self.names)]
        path.write_text(config_text(self.version, dbs))
        return path

    def replicate(self, config: Path | None = None, log_name: str | None = None) -> Replicator:
        config = config or self.write_config()
        log = self.root / (log_name or f"litestream-{len(self.replicators)}.log")
        rep = Replicator(self.version, config, log).start()
        self.replicators.append(rep)
        return rep

    def stop_all(self) -> None:
        for rep in self.replicators:
            rep.stop()


@contextmanager
def deployment(
    root: Path, version: str, names: tuple[str, ...] = ("production_cable.sqlite3",)
) -> Iterator[Deployment]:
    dep = Deployment(root, version, names)
    try:
        yield dep
    finally:
        dep.stop_all()


# --- the app ---------------------------------------------------------------------------------


def migrate(db: Path, rows: int = 10, table: str = "solid_cable_messages") -> None:
    """What `bin/rails db:prepare` does to a fresh SQLite file: WAL mode, a schema, some rows."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, channel TEXT, payload TEXT)")
        for i in range(rows):
            con.execute(f"INSERT INTO {table} (channel, payload) VALUES (?, ?)", (f"ch{i % 3}", "p" * 100))
    finally:
        con.close()


def write_rows(db: Path, rows: int, table: str = "solid_cable_messages") -> None:
    """The app writing, in a separate short-lived process like a Rails request would."""
    code = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
        "con.execute('PRAGMA busy_timeout=10000')\n"
        f"for i in range({rows}):\n"
        f"    con.execute(\"INSERT INTO {table} (channel, payload) VALUES ('w', 'x')\")\n"
        "con.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db)], check=True, timeout=60)


def count_rows(db: Path, table: str = "solid_cable_messages") -> int:
    """Read without leaving a trace (a plain `mode=ro` open would create a -shm next to it)."""
    with open_readonly(str(db)) as con:
        return int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def has_litestream_tables(db: Path) -> bool:
    with open_readonly(str(db)) as con:
        names = {r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    return {"_litestream_seq", "_litestream_lock"} <= names
