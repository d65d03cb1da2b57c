"""Put a real Litestream deployment into each failure state of litestream-notes.md, deterministically.

    with deployment(tmp_path, "0.3.13") as dep:
        renamed = rename_over_under_litestream(dep)
        ...  # diagnose dep.db(), restore renamed.clean, …

Every function here starts real `litestream replicate` processes (through the harness, so the
`deployment()` context manager stops them), drives a real app in separate Python processes, and
returns only once the state is reached: it polls Litestream's log, the replica and the files'
own bytes instead of sleeping, and fails loudly (AssertionError with the log tail) if the state
does not come. What each returns says what it did: the processes, the paths, the clean point from
before the damage, and the log lines it waited for.

Notes on what makes the states repeatable are in each function's docstring; the one that took
work is the incident's exact 0.3.13 line (`rename_over_under_litestream`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tests.litestream_harness import (
    Deployment,
    Replicator,
    binary,
    has_litestream_tables,
    migrate,
    wait_for,
    write_rows,
)

APP_TABLE = "solid_cable_messages"
NEW_TABLE = "new_table"
# The incident's error, verbatim (0.3.13 only; 0.5.17 words it differently).
SEED_LINE = "checkpoint: mode=PASSIVE err=release read lock: no such table: _litestream_seq"
# How long a scenario waits for one step before it gives up (each step normally takes < 2 s).
STEP_TIMEOUT = 15.0


def is_v03(version: str) -> bool:
    return version.startswith("0.3")


def meta_dir(db: Path) -> Path:
    """Litestream's local state next to the database (both versions): `.<name>-litestream`."""
    return db.parent / f".{db.name}-litestream"


def sidecars(db: Path) -> tuple[Path, Path]:
    return Path(f"{db}-wal"), Path(f"{db}-shm")


# --- the app -----------------------------------------------------------------------------------

# One connection, driven one JSON line at a time, for when the app must outlive one statement.
# It ends itself with os._exit (no close, like a killed container) once any process it watches
# is gone, so a deployment's teardown, which stops only the replicators, also ends the app.
_APP_SERVER = r"""
import json, os, select, sqlite3, sys, time
db, watched, lifetime = sys.argv[1], [int(p) for p in sys.argv[2].split(",") if p], float(sys.argv[3])
parent, deadline = os.getppid(), time.monotonic() + lifetime

def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False

con = sqlite3.connect(db, isolation_level=None, timeout=10)
print(json.dumps({"ready": os.getpid()}), flush=True)
while True:
    if not select.select([sys.stdin], [], [], 0.05)[0]:
        if os.getppid() != parent or time.monotonic() > deadline or not all(map(alive, watched)):
            os._exit(0)
        continue
    line = sys.stdin.readline()
    if not line:
        os._exit(0)
    request = json.loads(line)
    try:
        if request["op"] == "close":
            con.close()
            print(json.dumps({"rows": []}), flush=True)
            sys.exit(0)
        rows = con.execute(request["sql"], request.get("params", [])).fetchall()
        reply = {"rows": [list(r) for r in rows]}
    except sqlite3.Error as exc:
        reply = {"error": f"{type(exc).__name__}: {exc}"}
    print(json.dumps(reply), flush=True)
"""


class AppError(Exception):
    """SQLite refused one of the app's statements; the message is what the app would have logged."""


@dataclass
class App:
    """An app process holding one SQLite connection open, like a Rails server between requests.

    Unlike the harness's `write_rows`, nothing closes between statements, so SQLite's close-time
    checkpoint (and its deletion of the -wal) happens only on `close()`. `kill()` is SIGKILL: no
    close, every file left as it is.
    """

    db: Path
    proc: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def running(self) -> bool:
        return self.proc.poll() is None

    def _call(self, request: dict[str, object]) -> list[list[object]]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise AppError(f"the app (pid {self.pid}) has exited") from None
        line = self.proc.stdout.readline()
        if not line:
            raise AppError(f"the app (pid {self.pid}) has exited")
        reply = json.loads(line)
        if "error" in reply:
            raise AppError(reply["error"])
        return list(reply["rows"])

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> list[list[object]]:
        return self._call({"op": "exec", "sql": sql, "params": list(params)})

    def insert(self, rows: int, table: str = APP_TABLE) -> None:
        """`rows` single-row commits, one per request."""
        for i in range(rows):
            self.execute(f"INSERT INTO {table} (channel, payload) VALUES (?, ?)", (f"ch{i % 3}", "x" * 200))

    def close(self) -> None:
        """Close the connection (SQLite then checkpoints and may delete the -wal and -shm) and exit."""
        if self.running:
            self._call({"op": "close"})
        self.proc.wait(10)

    def kill(self) -> None:
        if self.running:
            self.proc.kill()
        self.proc.wait(10)


def start_app(db: Path, watch: tuple[int, ...] = (), lifetime: float = 300) -> App:
    """An app on `db` that lives until `close()`/`kill()`, until a pid in `watch` exits, or `lifetime` s."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _APP_SERVER, str(db), ",".join(map(str, watch)), str(lifetime)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if not proc.stdout.readline():
        raise AppError(f"the app on {db} did not start")
    return App(db, proc)


def run_app_sql(db: Path, *statements: str) -> None:
    """A short-lived process (a `rails db:…` task) running `statements`, each its own commit, then closing."""
    code = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
        "for sql in sys.argv[2:]:\n"
        "    con.execute(sql)\n"
        "con.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db), *statements], check=True, timeout=60)


def create_new_schema(db: Path, seed_rows: int = 0, payload_bytes: int = 300) -> None:
    """What a migration does to an empty path: WAL mode, a schema with no `_litestream_*` tables, seeds.

    The column is NUMERIC on purpose: that is where the notes' integrity errors show up
    (`NUMERIC value in new_table.channel`) when pages of the old file get mixed in.
    """
    code = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
        "con.execute('PRAGMA journal_mode=WAL')\n"
        f"con.execute('CREATE TABLE {NEW_TABLE} (id INTEGER PRIMARY KEY, channel NUMERIC, payload BLOB)')\n"
        "con.execute('BEGIN')\n"
        "for i in range(int(sys.argv[2])):\n"
        f"    con.execute('INSERT INTO {NEW_TABLE} (channel, payload) VALUES (?, ?)', (i, b's' * {payload_bytes}))\n"
        "con.execute('COMMIT')\n"
        "con.close()\n"
    )
    subprocess.run([sys.executable, "-c", code, str(db), str(seed_rows)], check=True, timeout=60)


def wait_checkpointed(db: Path) -> None:
    """Wait until the -wal's current cycle holds no frame of page 1: the file has the current page 1.

    After each commit that changed the schema or grew the file, page 1 sits in the WAL until
    Litestream's checkpoint copies it (and everything before it) into the file and restarts the
    WAL, which then holds a single frame of Litestream's own (`_litestream_seq`).
    """
    wal = sidecars(db)[0]

    def restarted_without_page1() -> bool:
        # SQLite writes the header with the first frame: a header-only read is not a checkpoint.
        head, frames = wal_header(wal), wal_frames(wal)
        return (
            head is not None
            and int.from_bytes(head[12:16], "big") >= 1  # checkpoint sequence: restarted at least once
            and any(commit for _, commit in frames)
            and all(pgno != 1 for pgno, _ in frames)
        )

    wait_for(
        restarted_without_page1,
        STEP_TIMEOUT,
        f"Litestream's checkpoint to leave no page-1 frame in {wal}",
    )


def purge(db: Path) -> None:
    """Rails `db:drop`: `FileUtils.rm(db)`, then `rm_f` of its -shm and -wal."""
    db.unlink()
    for path in sidecars(db)[::-1]:
        path.unlink(missing_ok=True)


# --- the files' own bytes, /proc ---------------------------------------------------------------


def wal_header(path: Path) -> bytes | None:
    """The first 32 bytes of a -wal or a 0.3 shadow WAL; None when there is no full header."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except FileNotFoundError:
        return None
    return head if len(head) == 32 else None


def wal_salts(path: Path) -> tuple[int, int] | None:
    head = wal_header(path)
    return None if head is None else (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big"))


def wal_frames(path: Path) -> list[tuple[int, int]]:
    """(pgno, commit) of the frames of the -wal's current cycle: from the header on, while the salts match.

    Frames left from an earlier cycle carry other salts (salt-1 grows on every restart), so the
    salt test stops where SQLite's checksum chain would.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if len(data) < 32:
        return []
    page_size, salts = int.from_bytes(data[8:12], "big"), data[16:24]
    frames, offset = [], 32
    while offset + 24 + page_size <= len(data) and data[offset + 8 : offset + 16] == salts:
        frames.append(
            (int.from_bytes(data[offset : offset + 4], "big"), int.from_bytes(data[offset + 4 : offset + 8], "big"))
        )
        offset += 24 + page_size
    return frames


def ltx_wal_salts(path: Path) -> tuple[int, int]:
    """walSalt1/walSalt2 of an LTX file's header (offsets 64 and 68, big-endian)."""
    with open(path, "rb") as f:
        head = f.read(72)
    return int.from_bytes(head[64:68], "big"), int.from_bytes(head[68:72], "big")


def ltx_txids(path: Path) -> tuple[int, int]:
    """(minTXID, maxTXID) from an LTX file name, `<min:016x>-<max:016x>.ltx`."""
    low, high = path.name.removesuffix(".ltx").split("-")
    return int(low, 16), int(high, 16)


def newest_shadow_wal(db: Path) -> Path:
    """0.3: the current generation's highest-index shadow WAL, `generations/<gen>/wal/<index>.wal`."""
    generation = (meta_dir(db) / "generation").read_text().strip()
    return max((meta_dir(db) / "generations" / generation / "wal").glob("*.wal"))


def newest_local_ltx(db: Path) -> Path:
    """0.5: the local L0 file with the highest TXID, `ltx/0/<min>-<max>.ltx`."""
    return max((meta_dir(db) / "ltx" / "0").glob("*.ltx"), key=ltx_txids)


@dataclass(frozen=True)
class OpenFile:
    """One descriptor a process holds on a file, as /proc/<pid>/fd shows it."""

    fd: int
    target: str  # the link text: the path, plus " (deleted)" once the inode is gone from that path
    inode: int

    @property
    def deleted(self) -> bool:
        return self.target.endswith(" (deleted)")

    @property
    def path(self) -> str:
        return self.target.removesuffix(" (deleted)")


def open_files(pid: int, db: Path) -> list[OpenFile]:
    """The descriptors of `pid` on `db`, its -wal and its -shm (not the meta dir or the replica)."""
    wanted = {str(db), *map(str, sidecars(db))}
    found = []
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            inode = os.stat(f"/proc/{pid}/fd/{name}").st_ino
        except OSError:
            continue
        if target.removesuffix(" (deleted)") in wanted:
            found.append(OpenFile(int(name), target, inode))
    return sorted(found, key=lambda f: f.fd)


# --- restore -----------------------------------------------------------------------------------


def restore(dep: Deployment, out: Path, *flags: str, db: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`litestream restore -config <root>/litestream.yml -o OUT [flags] DB`, as an operator runs it."""
    config = dep.root / "litestream.yml"
    cmd = [str(binary(dep.version)), "restore", "-config", str(config), "-o", str(out), *flags, str(db or dep.db())]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def integrity_check(db: Path) -> list[str]:
    """`PRAGMA integrity_check` of a file nobody else uses (a restore's output); ["ok"] when sound."""
    con = sqlite3.connect(db)
    try:
        return [str(row[0]) for row in con.execute("PRAGMA integrity_check")]
    except sqlite3.DatabaseError as exc:
        return [f"{type(exc).__name__}: {exc}"]
    finally:
        con.close()


def live_integrity(db: Path) -> list[str]:
    """`integrity_check` of the live database without touching it: a copy of db and -wal (never -shm)."""
    with tempfile.TemporaryDirectory(prefix="litefix-live-") as scratch:
        copy = Path(scratch) / db.name
        shutil.copyfile(db, copy)
        if sidecars(db)[0].exists():
            shutil.copyfile(sidecars(db)[0], sidecars(copy)[0])
        return integrity_check(copy)


@dataclass(frozen=True)
class Restored:
    """What `restore -o` into a scratch directory gave: exit code, output, and the file's health."""

    code: int
    output: str
    integrity: list[str]
    rows: int | None  # rows of `table`, None if the query failed or nothing was written
    tables: list[str]

    @property
    def sound(self) -> bool:
        return self.code == 0 and self.integrity == ["ok"]


def restore_and_check(dep: Deployment, *flags: str, table: str = APP_TABLE, db: Path | None = None) -> Restored:
    """Restore into a temporary directory, inspect the result, and leave nothing behind."""
    with tempfile.TemporaryDirectory(prefix="litefix-restore-") as scratch:
        out = Path(scratch) / "restored.sqlite3"
        proc = restore(dep, out, *flags, db=db)
        if proc.returncode or not out.exists():
            return Restored(proc.returncode, proc.stdout + proc.stderr, [], None, [])
        integrity = integrity_check(out)
        con = sqlite3.connect(out)
        try:
            tables = sorted(r[0] for r in con.execute("SELECT name FROM sqlite_schema WHERE type='table'"))
            try:
                rows: int | None = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            except sqlite3.DatabaseError:
                rows = None
        except sqlite3.DatabaseError:
            tables, rows = [], None
        finally:
            con.close()
        return Restored(proc.returncode, proc.stdout + proc.stderr, integrity, rows, tables)


# --- what the scenarios return -----------------------------------------------------------------


@dataclass(frozen=True)
class CleanPoint:
    """A replica state from before the damage that restores to a sound database with `rows` rows.

    0.3 restores it by generation (`restore -generation`); `timestamp` is the newest file of that
    generation, so it lies inside the generation's [start, end] as 0.3's `-timestamp` requires.
    0.5 restores it by `-txid` (16 hex digits) or `-timestamp` (the moment it was confirmed).
    """

    rows: int
    timestamp: str  # RFC 3339 with nanoseconds, UTC
    generation: str | None = None  # 0.3
    txid: str | None = None  # 0.5

    def restore_flags(self) -> list[str]:
        return ["-generation", self.generation] if self.generation else ["-txid", str(self.txid)]


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What every scenario did: where, with which Litestream processes, and what they logged."""

    version: str
    db: Path
    replicators: tuple[Replicator, ...]
    expected_log: tuple[str, ...]  # regexes of lines the scenario waited for in the replicators' logs

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(r.pid for r in self.replicators)

    @property
    def replica(self) -> Path:
        return self.db.parent / "replica" / self.db.name

    def log(self) -> str:
        return "".join(r.log() for r in self.replicators)


def rfc3339(epoch_ns: int) -> str:
    seconds, nanos = divmod(epoch_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def files_under(path: Path) -> Iterator[Path]:
    return (p for p in path.rglob("*") if p.is_file())


def wait_replicated(dep: Deployment, rows: int, table: str = APP_TABLE) -> CleanPoint:
    """Wait until a restore of the replica's latest state is sound and has `rows` rows; describe it."""

    def caught_up() -> bool:
        got = restore_and_check(dep, table=table)
        return got.sound and got.rows == rows

    wait_for(caught_up, STEP_TIMEOUT, f"the replica of {dep.db()} to hold {rows} rows of {table}")
    replica = dep.replica()
    if is_v03(dep.version):
        generation = (meta_dir(dep.db()) / "generation").read_text().strip()
        newest = max(p.stat().st_mtime_ns for p in files_under(replica / "generations" / generation))
        return CleanPoint(rows, rfc3339(newest), generation=generation)
    txid = max(ltx_txids(p)[1] for p in replica.glob("ltx/*/*.ltx"))
    return CleanPoint(rows, rfc3339(time.time_ns()), txid=f"{txid:016x}")


def start_replicating(dep: Deployment, config: Path | None = None, ready: str | None = None) -> Replicator:
    """`litestream replicate`, returned once its first snapshot of the database is in the replica
    (or once it logged `ready`)."""
    rep = dep.replicate(config)
    rep.wait_for_log(ready or ("snapshot written" if is_v03(dep.version) else "snapshot complete"), STEP_TIMEOUT)
    return rep


def healthy_deployment(dep: Deployment, rows: int = 30) -> tuple[Replicator, CleanPoint]:
    """The starting point of every scenario: migrated, replicating, `rows` rows replicated."""
    migrate(dep.db(), 10)
    rep = start_replicating(dep)
    write_rows(dep.db(), rows - 10)
    return rep, wait_replicated(dep, rows)


def q(text: str) -> str:
    return re.escape(text)


# --- S1 ----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Initialised(Outcome):
    """S1: a database a migration made, then Litestream took it over. Healthy."""

    had_litestream_tables: bool  # before replicate started (always False: the migration made the file)
    replicated: CleanPoint


def migration_before_replication(dep: Deployment) -> Initialised:
    """S1: `db:migrate` creates the WAL database, then `litestream replicate` starts on it.

    Answers the incident's first question: Litestream initialises a file it did not create
    (`_litestream_seq` and `_litestream_lock` appear, a generation/LTX is written), and the
    replica restores to what the app wrote.
    """
    db = dep.db()
    migrate(db, 10)
    had_tables = has_litestream_tables(db)
    rep = start_replicating(dep)
    write_rows(db, 20)
    replicated = wait_replicated(dep, 30)
    expected = (
        ("initialized db", "snapshot written", "wal segment written")
        if is_v03(dep.version)
        else ("initialized db", "snapshot complete")
    )
    return Initialised(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=expected,
        had_litestream_tables=had_tables,
        replicated=replicated,
    )


# --- S2 purge ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Replaced(Outcome):
    """The file at the path was replaced under a running Litestream."""

    clean: CleanPoint  # the replica's state just before the replacement
    old_inode: int  # the database file Litestream opened
    new_inode: int  # the one at the path now
    app_rows: int  # rows the app wrote into the new file


@contextmanager
def paused(rep: Replicator) -> Iterator[None]:
    """Hold `rep` still (SIGSTOP … SIGCONT): what the files go through meanwhile, it never sees."""
    os.kill(rep.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(rep.pid, signal.SIGCONT)


def purge_and_recreate(rep: Replicator, db: Path, seed_rows: int = 0, payload_bytes: int = 300) -> tuple[str, str]:
    """Purge `db` and let a migration recreate and seed it, then wait until Litestream misses the -wal.

    Two orderings are pinned down, because each otherwise depends on where Litestream's ticks fall:

    - The migration runs while Litestream is paused, as it does between two looks in production
      (monitor-interval is 1 s by default). A sync that catches the new file while the seed is
      still in its -wal snapshots those pages from the WAL and can leave a *sound* replica; 0.3
      also starts an extra generation (`wal truncated`) off the migration's half-written WAL.
    - The app writes only after Litestream has logged the missing -wal. If the migration and the
      app's first commit both fall between two syncs, 0.5 logs no error at all (only DEBUG
      `reason="wal header salt reset, snapshotting"`).

    Returns the regexes of that error and of the line that shows Litestream has moved on to the
    new file once the app writes.
    """
    with paused(rep):
        purge(db)
        create_new_schema(db, seed_rows, payload_bytes)
    stat_error = f"stat {db}-wal: no such file or directory"
    if is_v03(rep.version):
        missing = f"cannot verify wal state: {q(stat_error)}"
        # The app's first commit: Litestream sees either its frames ("overwritten") or, when its
        # look falls between SQLite's write of the header and of the first frame, the header alone.
        # Both start a generation the same way; which one is Litestream's scheduling, not ours.
        reasons = "wal (overwritten|truncated) by another process|wal header only, mismatched"
        noticed = f'sync: new generation".*reason="({reasons})"'
    else:
        # Paused inside a checkpoint, 0.5 resumes it and fails where the checkpoint opens the -wal
        # (`checkpoint: open …`, `checkpoint: cannot copy wal after passive checkpoint: … detect full
        # checkpoint: open wal file: open …`, both seen under load) instead of `cannot verify wal state:
        # open wal file: stat …`; it then logs no other sync error for 30 s (SyncErrorLogInterval), so
        # the first sync error naming this -wal as missing is the one.
        gone = f"{q(f'{db}-wal')}: no such file or directory"
        missing = f'msg="sync error" .*{gone}'
        noticed = "sync recovered"
    rep.wait_for_log(missing, STEP_TIMEOUT)
    return missing, noticed


def purge_under_litestream(dep: Deployment) -> Replaced:
    """S2 purge: Rails `db:drop` + `db:create`/`db:schema:load` while replicate runs, then the app writes.

    rm db, -shm, -wal; a migration process recreates the file (its close removes the new -wal,
    since no one else has the new inode open); the app then writes through a new process that
    stays open until Litestream has noticed, and closes. Every descriptor Litestream holds on the
    database ends up `(deleted)`.

    Waits for: 0.3 `cannot verify wal state: stat <db>-wal: no such file or directory` (while no
    -wal exists) and `sync: new generation … by another process` (once the app's -wal appears);
    0.5 one `sync error … cannot verify wal state: open wal file: stat …` and `sync recovered`.
    """
    db = dep.db()
    rep, clean = healthy_deployment(dep)
    old = db.stat().st_ino
    missing, noticed = purge_and_recreate(rep, db)
    app = start_app(db, watch=(rep.pid,))
    app.insert(10, NEW_TABLE)
    rep.wait_for_log(noticed, STEP_TIMEOUT)
    app.insert(10, NEW_TABLE)
    app.close()
    return Replaced(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=(missing, noticed),
        clean=clean,
        old_inode=old,
        new_inode=db.stat().st_ino,
        app_rows=20,
    )


# --- S2 rename ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SharedWal(Replaced):
    """S2 rename: a new file at the path, still sharing the old -wal/-shm with Litestream."""

    app: App  # still running, holding the shared -wal open (it ends when Litestream does)
    wal_inode: int
    shm_inode: int
    seconds_to_error: float  # from the app's first commit to Litestream's error line
    app_errors: tuple[str, ...]  # what SQLite told the app afterwards


def rename_over_under_litestream(dep: Deployment) -> SharedWal:
    """S2 rename: `mv new.db db` under a running replicate, the old -wal/-shm left at the path.

    On 0.3.13 this produces the incident's exact line, `checkpoint: mode=PASSIVE err=release read
    lock: no such table: _litestream_seq`, about 0.1 s after the app's first commit. The ordering
    that makes it certain, from the mechanism (db.go `Sync` → `checkpoint` → `execCheckpoint`)
    and checked by leaving each step out:

    1. Before the mv, no frame of page 1 may be waiting in the -wal to be checkpointed. SQLite
       readers skip frames up to the checkpointed mark and read those pages from the file (the
       *new* file, after the mv), but a later page-1 frame they read from the shared WAL: the app
       then sees the *old* schema (`no such table: new_table`), writes it back with the table in
       it, and nothing goes missing. So wait for Litestream's checkpoint to restart the WAL.
    2. The app's first transaction is a schema change (as a migration's is): it puts the new
       file's page 1, a schema without `_litestream_seq`, into the shared WAL. Plain inserts that
       do not grow the file never write page 1, and no error comes at all.
    3. The app is one long-lived process. A short-lived one's close checkpoints the new inode
       and deletes the -wal (no one else holds the new inode), which turns the run into
       `cannot verify wal state … no such file` instead.
    4. The new file is older than checkpoint-interval (mtime set 10 s back, as a file built
       earlier and moved in would be). Not needed for the line, only for its speed: 0.3
       checkpoints when the WAL holds more than one page and the file *at the path* was last
       modified longer ago than the interval, so a fresh file delays it by the interval (1 s
       here, 1 min by default).

    The next sync then checkpoints; `PRAGMA wal_checkpoint(PASSIVE)` succeeds and the re-acquire
    of the read lock (`BEGIN; SELECT COUNT(1) FROM _litestream_seq`) reads the app's page 1 from
    the shared WAL. On 0.5.17 the same action fails earlier in the checkpoint, on the barrier
    insert: `checkpoint: _litestream_lock: SQL logic error: no such table: _litestream_lock (1)`.
    The app stays up writing (it ends when the replicator stops), so the shared WAL remains.
    """
    db = dep.db()
    wal, shm = sidecars(db)
    rep, clean = healthy_deployment(dep)
    old = db.stat().st_ino
    wait_checkpointed(db)
    new = db.with_name("new.sqlite3")
    create_new_schema(new)
    before = time.time() - 10
    os.utime(new, (before, before))
    os.rename(new, db)
    app = start_app(db, watch=(rep.pid,))
    started = time.monotonic()
    app.execute("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)")
    app.execute("INSERT INTO schema_migrations (version) VALUES ('20240101000000')")
    if is_v03(dep.version):
        expected = q(f'level=ERROR msg="sync error" db={db} error="{SEED_LINE}"')
    else:
        expected = q(
            'msg="sync error" system=store db=' + db.name + ' error="checkpoint: _litestream_lock: '
            'SQL logic error: no such table: _litestream_lock (1)"'
        )
    rep.wait_for_log(expected, STEP_TIMEOUT)
    seconds = time.monotonic() - started
    errors = []
    for _ in range(10):
        try:
            app.insert(1, NEW_TABLE)
        except AppError as exc:
            errors.append(str(exc))
    return SharedWal(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=(expected,),
        clean=clean,
        old_inode=old,
        new_inode=db.stat().st_ino,
        app_rows=10 - len(errors),
        app=app,
        wal_inode=wal.stat().st_ino,
        shm_inode=shm.stat().st_ino,
        seconds_to_error=seconds,
        app_errors=tuple(errors),
    )


# --- a copy moved over the path ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CopyMovedOver(Outcome):
    """A copy of the database renamed over the path under a running replicate, -wal/-shm left in place."""

    rep: Replicator
    copy_rows: int  # rows in the file now at the path
    current_rows: int  # rows in the file Litestream holds, all of them on the replica


def older_copy_moved_over(dep: Deployment) -> CopyMovedOver:
    """An operator puts back an older backup (`sqlite3 db .backup` taken earlier) with `mv` while
    replicate runs; the app is stopped. Everything written after the backup is in the file Litestream
    still holds and on the replica; the file at the path is the stale one.

    The app writes 200 rows after the backup, so the held file grows (SQLite rewrites page 1 and
    bumps its change counter, and Litestream's checkpoint copies it into the file). Waits until the replica
    restores to all 210 rows, and for Litestream's checkpoint, before the move."""
    db = dep.db()
    migrate(db, 10)
    rep = start_replicating(dep)
    older = db.with_name("backup.sqlite3")
    src, dst = sqlite3.connect(db), sqlite3.connect(older)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    migrate(db, 200)  # the app's next writes: 22 kB of rows, so the file grows past the backup
    wait_replicated(dep, 210)
    wait_checkpointed(db)
    os.rename(older, db)
    return CopyMovedOver(
        version=dep.version, db=db, replicators=(rep,), expected_log=(), rep=rep, copy_rows=10, current_rows=210
    )


@contextmanager
def identical_copy_moved_over(dep: Deployment) -> Iterator[CopyMovedOver]:
    """`cp db db.tmp && mv db.tmp db` under a running replicate (a deploy script "refreshing" the file):
    the same bytes under a new inode. Litestream is held still (`paused`) from the copy until the block
    ends, so that its next checkpoint, which writes only the file it holds, cannot make the two differ
    before they are looked at."""
    db = dep.db()
    rep, clean = healthy_deployment(dep)
    wait_checkpointed(db)
    with paused(rep):
        copy = db.with_name("db.tmp")
        shutil.copyfile(db, copy)
        os.rename(copy, db)
        yield CopyMovedOver(
            version=dep.version,
            db=db,
            replicators=(rep,),
            expected_log=(),
            rep=rep,
            copy_rows=clean.rows,
            current_rows=clean.rows,
        )


# --- S5 seq ------------------------------------------------------------------------------------

SchemaChange = Literal["drop_seq", "schema_load"]


@dataclass(frozen=True, kw_only=True)
class DroppedInPlace(Outcome):
    """S5: Litestream's table dropped inside the same file Litestream has open."""

    clean: CleanPoint
    inode: int  # unchanged: the file was never replaced
    change: SchemaChange


def seq_dropped_in_place(dep: Deployment, change: SchemaChange = "drop_seq") -> DroppedInPlace:
    """S5: `DROP TABLE _litestream_seq` (or a schema load dropping every table) while replicate runs.

    The file keeps its inode; a short-lived task drops the table(s), then the app writes, so the
    WAL holds more than one page when the checkpoint interval next comes round. Litestream never
    re-creates its tables while running, so every checkpoint fails the same way until a restart.

    Waits for: 0.3 the incident's line, twice (it recurs on every checkpoint), for both changes;
    0.5 `checkpoint: reacquire read lock: … no such table: _litestream_seq (1)` then `sync
    recovered` for `drop_seq`, and `checkpoint: _litestream_lock: … no such table:
    _litestream_lock (1)` for `schema_load` (which drops that table too).
    """
    db = dep.db()
    rep, clean = healthy_deployment(dep)
    if change == "drop_seq":
        run_app_sql(db, "DROP TABLE _litestream_seq")
    else:  # `db:schema:load`: drop every table, then create the app's tables again, empty
        run_app_sql(
            db,
            "DROP TABLE _litestream_seq",
            "DROP TABLE _litestream_lock",
            f"DROP TABLE {APP_TABLE}",
            f"CREATE TABLE {APP_TABLE} (id INTEGER PRIMARY KEY, channel TEXT, payload TEXT)",
        )
    write_rows(db, 10)
    if is_v03(dep.version):
        expected: tuple[str, ...] = (q(f'level=ERROR msg="sync error" db={db} error="{SEED_LINE}"'),)
        rep.wait_for_log(expected[0], STEP_TIMEOUT, count=2)
    elif change == "drop_seq":
        expected = (
            q("checkpoint: reacquire read lock: SQL logic error: no such table: _litestream_seq (1)"),
            "sync recovered",
        )
        for pattern in expected:
            rep.wait_for_log(pattern, STEP_TIMEOUT)
    else:
        expected = (q("checkpoint: _litestream_lock: SQL logic error: no such table: _litestream_lock (1)"),)
        rep.wait_for_log(expected[0], STEP_TIMEOUT)
    return DroppedInPlace(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=expected,
        clean=clean,
        inode=db.stat().st_ino,
        change=change,
    )


# --- stale meta dir ----------------------------------------------------------------------------

StaleCause = Literal["wal_restart", "restored"]


@dataclass(frozen=True, kw_only=True)
class StaleMeta(Outcome):
    """Litestream is stopped; the database moved on without it, so its meta dir describes another WAL.

    `meta_wal_header` is the newest shadow WAL's first 32 bytes (0.3) or the newest local L0
    file's walSalt1/walSalt2 as 8 bytes (0.5); `live_wal_header` the -wal's first 32 bytes.
    """

    cause: StaleCause
    stopped_pid: int
    meta_file: Path
    meta_wal_header: bytes
    live_wal_header: bytes
    rows: int  # rows in the live database now
    restart_log: tuple[str, ...]  # what the next `replicate` logs (see `restart`)


def stale_meta_dir(dep: Deployment, cause: StaleCause = "wal_restart") -> StaleMeta:
    """Stop Litestream, then let the database change without it so its meta dir no longer matches.

    `wal_restart`: the app writes, runs `PRAGMA wal_checkpoint(TRUNCATE)` and writes again, so
    the WAL restarts with new salts. `restored`: the database (and its -wal/-shm) is replaced by
    `litestream restore` of the replica, then the app writes. Either way the app is then killed,
    so its -wal stays on disk (a clean close would checkpoint it away, and Litestream's next start
    would then see no WAL at all: `primary wal header: EOF`, a different state).

    Leaves Litestream stopped. `restart(dep)` starts it again; it then logs 0.3 `init: cannot
    determine last wal position, clearing generation … wal header mismatch` and a new generation,
    0.5 a full snapshot (DEBUG `msg=sync … snap=true reason="wal truncated by another process"`).
    """
    db = dep.db()
    rep, clean = healthy_deployment(dep)
    rep.stop()
    if cause == "restored":
        purge(db)
        proc = restore(dep, db)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    app = start_app(db)
    app.insert(5)
    if cause == "wal_restart":
        app.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        app.insert(5)
    app.kill()
    live = wal_header(sidecars(db)[0])
    assert live is not None, "the app's -wal should have stayed on disk"
    if is_v03(dep.version):
        meta_file = newest_shadow_wal(db)
        meta = wal_header(meta_file)
        assert meta is not None
        restart_log: tuple[str, ...] = (
            "init: cannot determine last wal position, clearing generation.*wal header mismatch",
            'sync: new generation".*reason="no generation exists"',
        )
    else:
        meta_file = newest_local_ltx(db)
        salt1, salt2 = ltx_wal_salts(meta_file)
        meta = salt1.to_bytes(4, "big") + salt2.to_bytes(4, "big")
        restart_log = (
            'msg=sync .*snap=true reason="(wal truncated by another process|wal header salt reset, snapshotting)"',
        )
    rows = clean.rows + (5 if cause == "restored" else 10)
    return StaleMeta(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=(),
        cause=cause,
        stopped_pid=rep.pid,
        meta_file=meta_file,
        meta_wal_header=meta,
        live_wal_header=live,
        rows=rows,
        restart_log=restart_log,
    )


def restart(dep: Deployment, expected_log: tuple[str, ...] = ()) -> Replicator:
    """Start `litestream replicate` again (a new log file) and wait for each of `expected_log`."""
    rep = dep.replicate()
    for pattern in expected_log:
        rep.wait_for_log(pattern, STEP_TIMEOUT)
    return rep


# --- S7 two ------------------------------------------------------------------------------------

Overlap = Literal["same_db", "different_dbs"]


@dataclass(frozen=True, kw_only=True)
class TwoReplicators(Outcome):
    """S7 two: two replicate processes writing into one replica path (`expected_log` is the second's)."""

    overlap: Overlap
    configs: tuple[Path, ...]
    dbs: tuple[Path, ...]  # the database each process replicates (the same one twice for `same_db`)
    uploaded_twice: tuple[str, ...]  # `same_db`: positions (0.3) / L0 TXIDs (0.5) both processes uploaded


def uploads(log: str, version: str) -> set[str]:
    """What a replicator's log says it uploaded: 0.3 WAL segment positions, 0.5 L0 TXIDs."""
    if is_v03(version):
        return set(re.findall(r'msg="wal segment written" .*?position=(\S+)', log))
    return set(re.findall(r'msg="ltx file uploaded" .*?level=0 minTXID=(\w+)', log))


def two_replicators_one_replica(dep: Deployment, overlap: Overlap = "same_db") -> TwoReplicators:
    """S7 two: two `replicate` processes, two configs, one replica path.

    `same_db`: both configs name the same database (a deploy where the old container's
    Litestream still runs while the new one starts). The app keeps writing until both
    processes have uploaded the same thing: one WAL segment position (0.3, both append to the
    shared meta dir's shadow WAL) or one L0 TXID (0.5, each overwrites the other's file).
    Neither logs an error for it reliably (the notes saw `client write: stat …tmp` and `rename
    ltx file …` only sometimes), so the overlap is what this guarantees.

    `different_dbs`: a second database (`production_queue.sqlite3`), configured by a copy-paste
    slip with the first one's replica path, in its own process. 0.3 gives it its own generation
    next to the first one's in that path; 0.5 logs `detected database behind replica` and `fetched
    latest L0 file from replica`, then continues the *first* database's TXID sequence with its own
    pages. Returns once the second has uploaded app writes there.
    """
    first = dep.db()
    second = first if overlap == "same_db" else dep.db("production_queue.sqlite3")
    replica = dep.replica(first.name)
    migrate(first, 10)
    if second != first:
        migrate(second, 25)
    configs = (
        dep.write_config(dep.root / "litestream.yml", names=(first.name,)),
        dep.write_config(dep.root / "litestream-second.yml", names=(second.name,), replica_of=lambda _: replica),
    )
    one = start_replicating(dep, configs[0])
    if second == first:  # the replica is already there: no snapshot of its own, so wait for its first sync
        ready: tuple[str, ...] = ('msg="replica sync"',)
    elif is_v03(dep.version):
        ready = ('sync: new generation".*reason="no generation exists"', "snapshot written")
    else:
        ready = ("detected database behind replica", "fetched latest L0 file from replica")
    two = start_replicating(dep, configs[1], ready=ready[0])
    for pattern in ready[1:]:
        two.wait_for_log(pattern, STEP_TIMEOUT)
    app = start_app(second, watch=(one.pid, two.pid))
    try:
        if second == first:

            def both_uploaded() -> set[str]:
                app.insert(1)
                return uploads(one.log(), dep.version) & uploads(two.log(), dep.version)

            twice = wait_for(both_uploaded, STEP_TIMEOUT, "both replicators to upload the same segment/TXID")
            assert isinstance(twice, set)
        else:
            before = len(uploads(two.log(), dep.version))
            app.insert(10)
            wait_for(
                lambda: len(uploads(two.log(), dep.version)) > before,
                STEP_TIMEOUT,
                f"the second replicator to upload {second.name}'s writes into {replica}",
            )
            twice = set()
    finally:
        app.close()
    return TwoReplicators(
        version=dep.version,
        db=first,
        replicators=(one, two),
        expected_log=ready,
        overlap=overlap,
        configs=configs,
        dbs=(first, second),
        uploaded_twice=tuple(sorted(twice)),
    )


# --- S7 replicagone ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ReplicaGone(Outcome):
    """S7 replicagone: the replica directory was deleted under a running Litestream."""

    clean: CleanPoint  # the state that was in the deleted directory
    rows: int
    new_files: tuple[Path, ...]  # what Litestream wrote into the replica path afterwards


def replica_dir_deleted(dep: Deployment) -> ReplicaGone:
    """S7 replicagone: `rm -rf` of the replica directory while replicate runs, then the app writes.

    Neither version notices: 0.3 keeps uploading WAL segments into the generation, which now has
    no snapshot; 0.5 keeps uploading L0 files from the next TXID with no L9 snapshot under them.
    Returns once such files exist (and the replica has no snapshot).
    """
    db = dep.db()
    rep, clean = healthy_deployment(dep)
    replica = dep.replica()
    # `rm -rf` as Litestream sees it, without racing it: rmtree of a directory Litestream is writing
    # into can fail with ENOTEMPTY, so the path vanishes at once (a rename) and the rest is removed after.
    gone = replica.with_name(replica.name + ".deleted")
    replica.rename(gone)
    shutil.rmtree(gone)
    write_rows(db, 10)
    pattern = "generations/*/wal/*.wal.lz4" if is_v03(dep.version) else "ltx/0/*.ltx"
    files = wait_for(lambda: sorted(replica.glob(pattern)), STEP_TIMEOUT, f"new files under {replica}/{pattern}")
    assert isinstance(files, list)
    return ReplicaGone(
        version=dep.version, db=db, replicators=(rep,), expected_log=(), clean=clean, rows=40, new_files=tuple(files)
    )


# --- older copy --------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OlderCopy(Outcome):
    """Litestream stopped; an older copy of the database put in place, so the replica is ahead of it."""

    stopped_pid: int
    live_rows: int  # rows in the older copy now at the path
    replica_point: CleanPoint  # the replica's newest state, ahead of the copy
    copy_point: CleanPoint  # the replica state the copy was taken at


def older_copy_put_in_place(dep: Deployment) -> OlderCopy:
    """A skipped restore / an old volume: the path gets a copy from before the replica's newest state.

    The copy is taken with SQLite's backup API while everything is healthy (30 rows), the app
    writes 30 more rows that reach the replica, Litestream stops, and db, -wal and -shm are
    replaced by the copy. The meta dir stays as the newer state left it.
    """
    db = dep.db()
    rep, copy_point = healthy_deployment(dep)
    with tempfile.TemporaryDirectory(prefix="litefix-old-volume-") as scratch:
        copy = Path(scratch) / db.name
        src, dst = sqlite3.connect(db), sqlite3.connect(copy)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        write_rows(db, 30)
        newest = wait_replicated(dep, 60)
        rep.stop()
        purge(db)
        shutil.copyfile(copy, db)
    return OlderCopy(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=(),
        stopped_pid=rep.pid,
        live_rows=copy_point.rows,
        replica_point=newest,
        copy_point=copy_point,
    )


# --- S7 malformed ------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Malformed(Replaced):
    """S7 malformed: after a purge and a seeding migration, the replica's latest state is corrupt."""

    seeded_rows: int


def malformed_after_purge(dep: Deployment, seed_rows: int = 4000) -> Malformed:
    """S7 malformed: purge, a migration seeds `seed_rows` rows, a little app traffic.

    The new generation's snapshot (0.3) / the new L0 files (0.5) mix pages read through the
    descriptor on the old, deleted file with WAL frames of the new one, so the latest state in the
    replica is corrupt, while the live file is fine. Returns once the app's last writes are in the
    replica; `clean` (the old generation / a TXID before the purge) still restores soundly.
    """
    db = dep.db()
    migrate(db, 10)
    rep = start_replicating(dep)
    run_app_sql(
        db,
        f"INSERT INTO {APP_TABLE} (channel, payload) SELECT 'seed', printf('%.300c', 'x') "
        "FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
        "SELECT i FROM n)",
    )
    write_rows(db, 10)
    clean = wait_replicated(dep, 2020)
    wait_checkpointed(db)
    old = db.stat().st_ino
    missing, noticed = purge_and_recreate(rep, db, seed_rows, payload_bytes=16)
    app = start_app(db, watch=(rep.pid,))
    app.insert(20, NEW_TABLE)
    rep.wait_for_log(noticed, STEP_TIMEOUT)
    wait_for(
        lambda: (r := restore_and_check(dep, table=NEW_TABLE)).code == 0 and r.integrity != ["ok"],
        STEP_TIMEOUT,
        "the replica's latest state to restore corrupt",
    )
    app.close()
    return Malformed(
        version=dep.version,
        db=db,
        replicators=(rep,),
        expected_log=(missing, noticed),
        clean=clean,
        old_inode=old,
        new_inode=db.stat().st_ino,
        app_rows=20,
        seeded_rows=seed_rows,
    )
