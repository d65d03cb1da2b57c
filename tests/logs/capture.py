#!/usr/bin/env python3
"""Regenerate the real Litestream logs in tests/logs/ by replaying the scenarios of the notes.

    .venv/bin/python tests/logs/capture.py                 # every scenario
    .venv/bin/python tests/logs/capture.py v03-rename-over # only the scenarios whose name starts so
    .venv/bin/python tests/logs/capture.py --out /tmp/fresh # elsewhere, to compare with these files

Why a script and committed files: the explain tests must read what the real 0.3.13 and 0.5.17
binaries print, but replaying a scenario takes seconds and depends on timing, so the tests read
the captured files and this script is how they were made (and how to refresh them after a
Litestream upgrade). Nothing is anonymised: the paths are the /tmp directories used here.

Every scenario uses a `file` replica, `monitor-interval: 100ms`, `checkpoint-interval: 1s` and
`sync-interval: 100ms`, as in litestream-notes.md; the "app" is Python's sqlite3 run as separate
processes. Logs are INFO level unless a scenario says otherwise (DEBUG is ten lines per tick).
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORK = Path("/tmp/litefix-logs")
BINARIES = {
    "0.3.13": ROOT / ".cache" / "litestream" / "0.3.13" / "bin" / "litestream",
    "0.5.17": ROOT / ".cache" / "litestream" / "0.5.17" / "bin" / "litestream",
}

# The app's side of every scenario, run as its own process like a Rails worker would be.
APP = textwrap.dedent(
    """
    import sqlite3, sys, time
    db, action, *args = sys.argv[1:]
    con = sqlite3.connect(db, timeout=5, isolation_level=None)
    if action == "migrate":
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS solid_cable_messages"
                    " (id INTEGER PRIMARY KEY, channel BLOB, payload BLOB, created_at TEXT)")
    elif action == "new-schema":
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE new_table (id INTEGER PRIMARY KEY, channel NUMERIC, payload BLOB)")
    elif action == "write":
        table, rows, delay = args[0], int(args[1]), float(args[2])
        for i in range(rows):
            try:
                con.execute(f"INSERT INTO {table} (channel, payload) VALUES (?, ?)", (f"ch{i}", b"x" * 200))
            except sqlite3.Error as exc:  # what the app would log; the scenario goes on without it
                print(f"sqlite3.{type(exc).__name__}: {exc}", flush=True)
                break
            time.sleep(delay)
    elif action == "seed":
        table, rows = args[0], int(args[1])
        con.execute("BEGIN")
        for i in range(rows):
            con.execute(f"INSERT INTO {table} (channel, payload) VALUES (?, ?)", (i, b"s" * 300))
        con.execute("COMMIT")
    elif action == "sql":
        con.execute(args[0])
    elif action == "truncate-loop":
        for i in range(int(args[0])):
            con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('t', x'00')")
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            time.sleep(0.15)
    elif action == "restart-wal-and-hold":
        for i in range(10):
            con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('h', x'00')")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        for i in range(10):
            con.execute("INSERT INTO solid_cable_messages (channel, payload) VALUES ('h', x'00')")
        print("ready", flush=True)
        time.sleep(float(args[0]))
    elif action == "hold":
        con.execute("SELECT count(*) FROM sqlite_master").fetchall()
        print("ready", flush=True)
        time.sleep(float(args[0]))
    elif action == "count":
        try:
            print(con.execute(f"SELECT count(*) FROM {args[0]}").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            print(f"sqlite3.{type(exc).__name__}: {exc}")
    elif action == "integrity":
        for (row,) in con.execute("PRAGMA integrity_check"):
            print(row)
    """
)


# Every replicate process started here, so that a scenario that fails half-way leaves none behind.
_STARTED: list[subprocess.Popen[bytes]] = []


class Lab:
    """One scenario directory: a database, its replica, a config, and the processes run on it."""

    def __init__(self, version: str, name: str, *, level: str = "info", replica: str | None = None) -> None:
        self.version = version
        self.binary = BINARIES[version]
        self.dir = WORK / name
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir.mkdir(parents=True)
        self.db = self.dir / "production_cable.sqlite3"
        self.replica = self.dir / "replica"
        self.meta = self.dir / ".production_cable.sqlite3-litestream"
        self.config = self.dir / "litestream.yml"
        self.config.write_text(self._config(level, replica))
        self.log = self.dir / "replicate.log"

    def _config(self, level: str, replica: str | None) -> str:
        block = replica or f"type: file\npath: {self.replica}\nsync-interval: 100ms"
        if self.version.startswith("0.3"):
            replicas = "replicas:\n" + textwrap.indent("- " + block.replace("\n", "\n  "), "      ")
        else:
            replicas = "replica:\n" + textwrap.indent(block, "      ")
        return (
            f"logging:\n  level: {level}\n"
            f"dbs:\n  - path: {self.db}\n    monitor-interval: 100ms\n    checkpoint-interval: 1s\n    {replicas}\n"
        )

    def app(self, *args: str, background: bool = False) -> subprocess.Popen[str] | str:
        cmd = [sys.executable, "-c", APP, str(self.db), *args]
        if background:
            return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout

    def replicate(
        self, *extra: str, log: Path | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        out = open(log or self.log, "ab")  # noqa: SIM115 - the process owns it until it exits
        proc = subprocess.Popen(
            [str(self.binary), "replicate", "-config", str(self.config), *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
            env=env,
        )
        out.close()
        _STARTED.append(proc)
        time.sleep(1.2)  # init, first snapshot
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> int:
        proc.send_signal(signal.SIGINT)
        return proc.wait(timeout=30)

    def litestream(self, *args: str, env: dict[str, str] | None = None) -> str:
        """A one-shot command (restore …): its stdout and stderr as a user would paste them."""
        proc = subprocess.run(
            [str(self.binary), *args], capture_output=True, text=True, cwd=self.dir, env=env, timeout=120, check=False
        )
        return proc.stdout + proc.stderr

    def purge(self) -> None:
        """What Rails' db:drop does: rm the database, then rm -f its -shm and -wal."""
        self.db.unlink()
        for suffix in ("-shm", "-wal"):
            Path(f"{self.db}{suffix}").unlink(missing_ok=True)

    def write(self, rows: int, delay: float = 0.05, table: str = "solid_cable_messages") -> str:
        """Insert rows one commit at a time; returns the app's error line if SQLite refused one."""
        out = self.app("write", table, str(rows), str(delay))
        assert isinstance(out, str)
        return out


Scenario = Callable[[], dict[str, str]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(*versions: str) -> Callable[[Callable[[str, str], dict[str, str]]], None]:
    """Register a scenario for each version; the function gets (version, "v03"/"v05")."""

    def register(fn: Callable[[str, str], dict[str, str]]) -> None:
        for version in versions:
            tag = "v03" if version.startswith("0.3") else "v05"
            SCENARIOS[f"{tag}-{fn.__name__.replace('_', '-')}"] = functools.partial(fn, version, tag)

    return register


@scenario("0.3.13", "0.5.17")
def init(version: str, tag: str) -> dict[str, str]:
    """S1: a migration creates the database, then replicate starts on it."""
    lab = Lab(version, f"{tag}-init")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(20)
    time.sleep(1.5)
    lab.stop(proc)
    return {f"{tag}-init.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def seq_dropped(version: str, tag: str) -> dict[str, str]:
    """S5 seq: `DROP TABLE _litestream_seq` in place while replicate runs (the file is kept)."""
    lab = Lab(version, f"{tag}-seq-dropped")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(10)
    lab.app("sql", "DROP TABLE _litestream_seq")
    lab.write(40, 0.1)
    lab.stop(proc)
    return {f"{tag}-seq-dropped.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def lock_dropped(version: str, tag: str) -> dict[str, str]:
    """S5 lock: `DROP TABLE _litestream_lock` in place while replicate runs."""
    lab = Lab(version, f"{tag}-lock-dropped")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(10)
    lab.app("sql", "DROP TABLE _litestream_lock")
    lab.write(40, 0.1)
    lab.stop(proc)
    return {f"{tag}-lock-dropped.log": lab.log.read_text()}


def _rename_over(version: str, name: str, pause: float, expect: str) -> dict[str, str]:
    """Run S2 rename until the log shows `expect`: whether the shared -wal survives is a race.

    When the app's short-lived process is the last connection on the new inode, SQLite
    checkpoints and deletes the -wal at close, and the run shows only `cannot verify wal state`
    instead of the shared-WAL errors (with 0.3.13 anywhere from one run in two to one in seven).
    """
    for _attempt in range(6):
        files = _rename_over_once(version, name, pause)
        if expect in "".join(files.values()):
            return files
    raise SystemExit(f"{name}: {expect!r} not reproduced in 6 runs")


def _rename_over_once(version: str, name: str, pause: float) -> dict[str, str]:
    lab = Lab(version, name)
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(30)
    new = lab.dir / "new.sqlite3"
    subprocess.run([sys.executable, "-c", APP, str(new), "new-schema"], check=True)
    time.sleep(pause)
    os.rename(new, lab.db)
    app = lab.write(60, 0.05, table="new_table")
    time.sleep(1.5)
    lab.stop(proc)
    files = {f"{name}.log": lab.log.read_text()}
    if app:
        files[f"{name}-app.txt"] = app
    return files


@scenario("0.3.13", "0.5.17")
def rename_over(version: str, tag: str) -> dict[str, str]:
    """S2 rename: `mv new.db db` under a running replicate, the app writing right after the mv.

    The old -wal/-shm stay at the path. The -app.txt file, when there is one, is the error the
    app's insert got (it read the old schema out of the old -wal).
    """
    expect = "release read lock: no such table" if tag == "v03" else "no such table: new_table"
    return _rename_over(version, f"{tag}-rename-over", pause=0.0, expect=expect)


@scenario("0.3.13", "0.5.17")
def rename_over_after_checkpoint(version: str, tag: str) -> dict[str, str]:
    """S2 rename as above, but the mv comes 2 s after the last write, so a checkpoint ran first."""
    expect = "cannot verify wal state" if tag == "v03" else "no such table: _litestream_lock"
    return _rename_over(version, f"{tag}-rename-over-after-checkpoint", pause=2.0, expect=expect)


@scenario("0.3.13", "0.5.17")
def purge(version: str, tag: str) -> dict[str, str]:
    """S2 purge: rm db, -wal, -shm (Rails db:drop), recreate with a new schema, the app writes."""
    lab = Lab(version, f"{tag}-purge", level="debug" if tag == "v05" else "info")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(30)
    lab.purge()
    lab.app("new-schema")
    lab.write(30, 0.1, table="new_table")
    time.sleep(1.5)
    lab.stop(proc)
    return {f"{tag}-purge.log": lab.log.read_text()}


@scenario("0.3.13")
def purge_app_holds_empty_wal(version: str, tag: str) -> dict[str, str]:
    """S2 purge, but the recreated database keeps a connection open on a 0-byte -wal.

    Notes §4.1: 0.3 treats a -wal shorter than its header as missing and writes one through
    its own connection, which is still on the deleted inode, so the path's -wal stays empty.
    """
    lab = Lab(version, f"{tag}-purge-app-holds-empty-wal")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(30)
    lab.purge()
    lab.app("new-schema")
    holder = lab.app("hold", "4", background=True)
    assert isinstance(holder, subprocess.Popen)
    holder.wait(timeout=60)
    lab.stop(proc)
    return {f"{tag}-purge-app-holds-empty-wal.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def restart_after_kill(version: str, tag: str) -> dict[str, str]:
    """S7 kill9: SIGKILL replicate, the app restarts the WAL and keeps it open, replicate restarts."""
    lab = Lab(version, f"{tag}-restart-after-kill")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(20)
    time.sleep(0.5)
    proc.kill()
    proc.wait()
    holder = lab.app("restart-wal-and-hold", "4", background=True)
    assert isinstance(holder, subprocess.Popen) and holder.stdout
    holder.stdout.readline()
    proc = lab.replicate()
    lab.write(10)
    time.sleep(1)
    lab.stop(proc)
    holder.wait(timeout=30)
    return {f"{tag}-restart-after-kill.log": lab.log.read_text()}


@scenario("0.3.13")
def restart_after_journal_delete(version: str, tag: str) -> dict[str, str]:
    """S6: the app switches to journal_mode=DELETE while replicate is stopped, then it restarts."""
    lab = Lab(version, f"{tag}-restart-after-journal-delete")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(10)
    lab.stop(proc)
    lab.app("sql", "PRAGMA journal_mode=DELETE")
    lab.write(10)
    proc = lab.replicate()
    lab.write(10)
    time.sleep(1)
    lab.stop(proc)
    return {f"{tag}-restart-after-journal-delete.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def two_replicators(version: str, tag: str) -> dict[str, str]:
    """S7 two: two replicate processes on one database and replica (a deploy overlap).

    The file is process 1's output followed by process 2's, as `cat one.log two.log` would give.
    """
    lab = Lab(version, f"{tag}-two-replicators")
    lab.app("migrate")
    one, two = lab.dir / "one.log", lab.dir / "two.log"
    first = lab.replicate(log=one)
    second = lab.replicate(log=two)
    lab.write(80, 0.05)
    time.sleep(1.5)
    lab.stop(second)
    lab.stop(first)
    return {f"{tag}-two-replicators.log": one.read_text() + two.read_text()}


@scenario("0.3.13", "0.5.17")
def exec_exit(version: str, tag: str) -> dict[str, str]:
    """Notes §9: `replicate -exec` whose child exits 7; Litestream itself exits 1."""
    lab = Lab(version, f"{tag}-exec-exit")
    lab.app("migrate")
    proc = lab.replicate("-exec", "sh -c 'sleep 1; exit 7'")
    code = proc.wait(timeout=30)
    assert code == 1, code
    return {f"{tag}-exec-exit.log": lab.log.read_text()}


@scenario("0.3.13")
def app_truncate(version: str, tag: str) -> dict[str, str]:
    """S7 truncate: the app runs its own wal_checkpoint(TRUNCATE) after every write."""
    lab = Lab(version, f"{tag}-app-truncate")
    lab.app("migrate")
    proc = lab.replicate()
    lab.app("truncate-loop", "30")
    lab.stop(proc)
    return {f"{tag}-app-truncate.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def restore_refused(version: str, tag: str) -> dict[str, str]:
    """S3 refuse: restore into an existing path (with a replica); S4: restore with no replica yet.

    0.3.13 looks for backups before it looks at the output path, so the "already exists" refusal
    needs a replica; without one the same command says "no matching backups found".
    """
    lab = Lab(version, f"{tag}-restore")
    lab.app("migrate")
    lab.stop(lab.replicate())
    config = ["-config", str(lab.config)]
    empty = Lab(version, f"{tag}-restore-empty")
    empty.app("migrate")
    out = str(empty.dir / "out.db")
    return {
        f"{tag}-restore-exists.txt": lab.litestream("restore", *config, str(lab.db)),
        f"{tag}-restore-if-db-not-exists.txt": lab.litestream("restore", *config, "-if-db-not-exists", str(lab.db)),
        f"{tag}-restore-no-backups.txt": empty.litestream(
            "restore", "-config", str(empty.config), "-o", out, str(empty.db)
        ),
        f"{tag}-restore-if-replica-exists.txt": empty.litestream(
            "restore", "-config", str(empty.config), "-if-replica-exists", "-o", out, str(empty.db)
        ),
        f"{tag}-restore-not-in-config.txt": lab.litestream("restore", *config, "-o", out, str(lab.dir / "other.db")),
    }


@scenario("0.3.13", "0.5.17")
def replica_gone(version: str, tag: str) -> dict[str, str]:
    """S7 replicagone: the replica directory is deleted while replicate runs; then a restore."""
    lab = Lab(version, f"{tag}-replica-gone")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(10)
    shutil.rmtree(lab.replica)
    lab.write(20)
    time.sleep(1)
    lab.stop(proc)
    restore = lab.litestream("restore", "-config", str(lab.config), "-o", str(lab.dir / "out.db"), str(lab.db))
    return {f"{tag}-replica-gone.log": lab.log.read_text(), f"{tag}-restore-replica-gone.txt": restore}


@scenario("0.3.13")
def restore_missing_segment(version: str, tag: str) -> dict[str, str]:
    """A 0.3 replica that lost the first WAL segment of a shadow index (offset 0), then a restore."""
    lab = Lab(version, f"{tag}-restore-missing-segment")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(40, 0.1)
    time.sleep(1)
    lab.stop(proc)
    # The newest index's first segment can go missing without any error (restore still worked
    # and gave every row); a middle one cannot, so that is the one removed here.
    segments = sorted(lab.replica.glob("generations/*/wal/*_00000000.wal.lz4"))
    segments[len(segments) // 2].unlink()
    restore = lab.litestream("restore", "-config", str(lab.config), "-o", str(lab.dir / "out.db"), str(lab.db))
    return {f"{tag}-restore-missing-segment.txt": restore}


@scenario("0.5.17")
def restore_ltx_gap(version: str, tag: str) -> dict[str, str]:
    """A 0.5 replica that lost one L0 file in the middle of its TXID range, then a restore."""
    lab = Lab(version, f"{tag}-restore-ltx-gap")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(40, 0.1)
    time.sleep(1)
    lab.stop(proc)
    files = sorted((lab.replica / "ltx" / "0").glob("*.ltx"))
    files[len(files) // 2].unlink()
    restore = lab.litestream("restore", "-config", str(lab.config), "-o", str(lab.dir / "out.db"), str(lab.db))
    return {f"{tag}-restore-ltx-gap.txt": restore}


@scenario("0.5.17")
def restore_then_replicate(version: str, tag: str) -> dict[str, str]:
    """S4 on a fresh machine: restore into the path with no meta dir, then replicate."""
    lab = Lab(version, f"{tag}-restore-then-replicate")
    lab.app("migrate")
    proc = lab.replicate()
    lab.write(20)
    time.sleep(1)
    lab.stop(proc)
    lab.purge()
    shutil.rmtree(lab.meta)
    lab.log.unlink()
    lab.litestream("restore", "-config", str(lab.config), str(lab.db))
    proc = lab.replicate()
    lab.write(10)
    time.sleep(1)
    lab.stop(proc)
    return {f"{tag}-restore-then-replicate.log": lab.log.read_text()}


@scenario("0.5.17")
def aws_ca_bundle(version: str, tag: str) -> dict[str, str]:
    """Notes §10: 0.5.17 with an S3 replica and AWS_CA_BUNDLE set cannot build its S3 client."""
    s3 = "\n".join(
        [
            "type: s3",
            "bucket: litefix",
            "path: cable",
            "endpoint: http://127.0.0.1:9",  # never reached: the client fails to build first
            "region: us-east-1",
            "force-path-style: true",
        ]
    )
    lab = Lab(version, f"{tag}-aws-ca-bundle", replica=s3)
    lab.app("migrate")
    env = {
        **os.environ,
        "AWS_CA_BUNDLE": "/etc/ssl/certs/ca-certificates.crt",
        "AWS_ACCESS_KEY_ID": "litefix",
        "AWS_SECRET_ACCESS_KEY": "litefix",
    }
    proc = lab.replicate(env=env)
    proc.wait(timeout=30)
    restore = lab.litestream("restore", "-config", str(lab.config), "-o", str(lab.dir / "out.db"), str(lab.db), env=env)
    return {f"{tag}-aws-ca-bundle.log": lab.log.read_text(), f"{tag}-restore-aws-ca-bundle.txt": restore}


@scenario("0.3.13")
def malformed(version: str, tag: str) -> dict[str, str]:
    """S7 malformed: purge, a migration seeds 4000 rows, a little traffic; then the next boot's restore.

    0.3 only: one 0.5.17 run of the same steps restored 4020 rows and passed
    `restore -integrity-check quick`, so it showed nothing to explain.
    """
    lab = Lab(version, f"{tag}-malformed")
    lab.app("migrate")
    proc = lab.replicate()
    lab.app("seed", "solid_cable_messages", "2000")
    lab.write(10)
    time.sleep(1)
    lab.purge()
    lab.app("new-schema")
    lab.app("seed", "new_table", "4000")
    lab.write(20, 0.05, table="new_table")
    time.sleep(1.5)
    lab.stop(proc)
    out = lab.dir / "restored.sqlite3"
    restore = lab.litestream("restore", "-config", str(lab.config), "-o", str(out), str(lab.db))
    return {f"{tag}-malformed.log": lab.log.read_text(), f"{tag}-malformed-restore.txt": restore}


@scenario("0.3.13", "0.5.17")
def config_as_db(version: str, tag: str) -> dict[str, str]:
    """The config's path where the database goes: `replicate litestream.yml URL` (no -config), a common slip."""
    lab = Lab(version, f"{tag}-config-as-db")
    out = open(lab.log, "ab")  # noqa: SIM115 - the process owns it until it exits
    proc = subprocess.Popen(
        [str(lab.binary), "replicate", str(lab.config), f"file://{lab.replica}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=lab.dir,
    )
    out.close()
    _STARTED.append(proc)
    time.sleep(2.5)
    lab.stop(proc)
    return {f"{tag}-config-as-db.log": lab.log.read_text()}


@scenario("0.3.13", "0.5.17")
def other_release_cli(version: str, tag: str) -> dict[str, str]:
    """Flags and commands of the other release: `restore -v`/`reset` on 0.3, `restore -generation`/`generations`
    on 0.5. Only each command's first line is kept: the usage text after it is the same for every user."""
    lab = Lab(version, f"{tag}-other-release-cli")
    lab.app("migrate")
    if version.startswith("0.3"):
        runs = [("restore", "-v", "-o", "out.db", str(lab.db)), ("reset", str(lab.db))]
    else:
        runs = [("restore", "-generation", "x", "-o", "out.db", str(lab.db)), ("generations", str(lab.db))]
    text = ""
    for run in runs:
        lines = lab.litestream(*run).splitlines(keepends=True)
        text += next((line for line in lines if "flag provided" in line or "unknown command" in line), lines[0])
    return {f"{tag}-other-release-cli.txt": text}


def main(argv: list[str]) -> int:
    args = argv[1:]
    out = HERE
    if "--out" in args:  # write somewhere else, e.g. to compare a fresh run with the committed files
        at = args.index("--out")
        out = Path(args[at + 1])
        del args[at : at + 2]
        out.mkdir(parents=True, exist_ok=True)
    for name, run in SCENARIOS.items():
        if args and not any(name.startswith(w) or w.startswith(name) for w in args):
            continue
        started = time.monotonic()
        try:
            files = run()
        finally:
            for proc in _STARTED:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            _STARTED.clear()
        for filename, text in files.items():
            (out / filename).write_text(text)
        print(f"{name}: {', '.join(files)} ({time.monotonic() - started:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
