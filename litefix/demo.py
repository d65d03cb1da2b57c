"""The incident, reproduced with the real Litestream, then diagnosed and repaired by litefix.

A Rails 8 app's four databases are replicated; the cable database's migration
builds a new file and moves it over the path while `litestream replicate` runs
(the incident's entrypoint started replication before the background
migrations finished). Litestream 0.3.13 then logs the seed line:

    checkpoint: mode=PASSIVE err=release read lock: no such table: _litestream_seq

The steps that make it certain, measured: no page-1 frame waiting in the -wal
before the move; the app's first transaction after it is a schema change (as a
migration's is); the app keeps one connection open (a closing one would delete
the shared -wal); the moved file is older than checkpoint-interval (for speed).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from litefix.config import load_config
from litefix.diagnose.context import Context, Options
from litefix.diagnose.runner import diagnose_in
from litefix.errors import LitefixError
from litefix.formats.wal import scan_wal
from litefix.render.diagnosis import diagnosis_text
from litefix.render.repair import plan_text, repair_text
from litefix.repair.strategies import RepairOptions
from litefix.repair.workflow import execute_plan, plan_repair
from litefix.replicas.pages import LocalPages, compare
from litefix.system.litestream import Binary, Invocation, LitestreamNotFound, find_binary

DATABASES = ("production.sqlite3", "production_cache.sqlite3", "production_queue.sqlite3", "production_cable.sqlite3")
CABLE = "production_cable.sqlite3"
TABLES = {
    "production.sqlite3": "users",
    "production_cache.sqlite3": "solid_cache_entries",
    "production_queue.sqlite3": "solid_queue_jobs",
    "production_cable.sqlite3": "solid_cable_messages",
}
TIMEOUT = 30.0

# The app: one connection kept open (a Rails server), statements read from stdin, one per line.
APP = r"""
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
print("ready", flush=True)
for line in sys.stdin:
    try:
        con.execute(line)
        print("ok", flush=True)
    except sqlite3.Error as exc:
        print(f"error: {exc}", flush=True)
"""


class DemoFailed(LitefixError):
    """The reproduction did not reach the state it was built for; the message says which step."""


def _config(version_03: bool, root: Path) -> str:
    lines = ["dbs:"]
    for name in DATABASES:
        lines += [f"  - path: {root / name}", "    monitor-interval: 100ms", "    checkpoint-interval: 1s"]
        replica = root / "replica" / name
        if version_03:
            lines += ["    replicas:", "      - type: file", f"        path: {replica}", "        sync-interval: 100ms"]
        else:
            lines += ["    replica:", "      type: file", f"      path: {replica}", "      sync-interval: 100ms"]
    return "\n".join(lines) + "\n"


def _migrate(db: Path, table: str, rows: int = 20) -> None:
    """What `bin/rails db:migrate` leaves: a WAL-mode file with a schema and some rows, no Litestream tables."""
    con = sqlite3.connect(db, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, body BLOB)")
        for i in range(rows):
            con.execute(f"INSERT INTO {table} (name, body) VALUES (?, ?)", (f"row {i}", b"x" * 100))
    finally:
        con.close()


def _wait(predicate: Callable[[], object], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoFailed(f"timed out waiting for {what}")
        time.sleep(0.05)


def _holds(pid: int, path: Path) -> bool:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        return any(os.readlink(fd_dir / fd) == str(path) for fd in os.listdir(fd_dir))
    except OSError:
        return False


def _no_page1_waiting(db: Path) -> bool:
    """Litestream has checkpointed and restarted the WAL, and nothing since has put page 1 in it.

    A header alone proves nothing: SQLite writes it with the first frame, so a read in between
    sees an empty cycle while Litestream's own page 1 is on its way. Moving the file over then
    leaves the app reading the old schema from the WAL, and the incident never comes.
    """
    wal = Path(f"{db}-wal")
    if not wal.exists():
        return False
    scan = scan_wal(str(wal), collect_pages=True)
    return (
        scan.header is not None
        and scan.header.checkpoint_seq >= 1
        and scan.committed_frames >= 1
        and 1 not in (scan.page_frames or {})
    )


@dataclass
class Replicator:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _replicate(binary: Binary, config: Path, log: Path) -> Replicator:
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [binary.path, "replicate", "-config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=Invocation(binary).environment(),
        )
    return Replicator(proc, log)


@contextmanager
def _app(db: Path) -> Iterator[Callable[[str], str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdout.readline()

    def execute(sql: str) -> str:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(sql.replace("\n", " ") + "\n")
        proc.stdin.flush()
        answer = proc.stdout.readline().strip()
        if answer != "ok":
            raise DemoFailed(f"the app's `{sql}` answered {answer!r}")
        return answer

    try:
        yield execute
    finally:
        proc.kill()  # the deploy stops the app; no clean close, like a container stop
        proc.wait()


def error_lines(log: str) -> list[str]:
    """Litestream's ERROR lines, each once with its count, timestamps dropped."""
    counts = Counter(re.sub(r"^time=\S+ ", "", line) for line in log.splitlines() if "level=ERROR" in line)
    return [f"{n:>3}x {line}" for line, n in counts.most_common(6)]


def run_version(binary: Binary, say: Callable[[str], None], workdir: Path) -> bool:
    """The whole story for one Litestream version; returns True when the repaired replica restores equal."""
    is_03 = binary.generation == "0.3"
    root = workdir / f"litestream-{binary.version}"
    root.mkdir(parents=True)
    config = root / "litestream.yml"
    config.write_text(_config(is_03, root))
    cable = root / CABLE
    say(f"\n=== Litestream {binary.version}: {root}")
    say(
        "1. The entrypoint: migrate production, start `litestream replicate`, migrate queue/cache/cable "
        "in the background."
    )
    for name in DATABASES:
        _migrate(root / name, TABLES[name])
    rep = _replicate(binary, config, root / "litestream.log")
    try:
        _wait(lambda: _holds(rep.proc.pid, cable), "Litestream to open the cable database")
        _wait(lambda: _no_page1_waiting(cable), "Litestream's first checkpoint")
        say(
            "2. The cable migration builds its file elsewhere and moves it over the path: "
            f"`mv new.sqlite3 {CABLE}` while Litestream runs."
        )
        new = root / "new.sqlite3"
        _migrate(new, TABLES[CABLE], 5)
        earlier = time.time() - 10
        os.utime(new, (earlier, earlier))
        os.rename(new, cable)
        with _app(cable) as app:
            app("CREATE TABLE schema_migrations (version TEXT PRIMARY KEY)")
            app("INSERT INTO schema_migrations VALUES ('20240101000000')")
            pattern = "no such table: _litestream_seq" if is_03 else "no such table: _litestream_lock"
            _wait(lambda: pattern in rep.text(), f"Litestream to log `{pattern}`")
            say("3. Litestream's own log:")
            for line in error_lines(rep.text()):
                say(f"   {line[:200]}")
            options = Options(config=str(config), litestream=binary.path, loaded_config=load_config(str(config)))
            say(f"4. litefix diagnose {cable}:")
            say(_indent(diagnosis_text(diagnose_in(Context(str(cable), options)))))
        say(f"5. litefix repair {cable} --stop-litestream --yes (the app is stopped for the deploy):")
        ctx = Context(str(cable), options)
        _diagnosis, plan = plan_repair(ctx, RepairOptions("auto", stop_litestream=True))
        say(_indent(plan_text(plan)))
        if plan.refused:
            return False
        report = execute_plan(ctx, plan, lambda _m: None)
        say(_indent(repair_text(report)))
    finally:
        rep.stop()
    return _replicates_cleanly(binary, config, cable, root, say)


def _replicates_cleanly(binary: Binary, config: Path, cable: Path, root: Path, say: Callable[[str], None]) -> bool:
    say("6. Litestream again, for two seconds of writes:")
    rep = _replicate(binary, config, root / "after-repair.log")
    try:
        _wait(lambda: _holds(rep.proc.pid, cable), "Litestream to open the repaired database")
        con = sqlite3.connect(cable, isolation_level=None)
        con.execute("CREATE TABLE IF NOT EXISTS after_repair (x)")
        for i in range(10):
            con.execute("INSERT INTO after_repair VALUES (?)", (i,))
            time.sleep(0.1)
        con.close()
        time.sleep(1.0)
    finally:
        rep.stop()
    errors = error_lines(rep.text())
    say(f"   Litestream errors: {len(errors)}" + "".join(f"\n   {e}" for e in errors))
    out = root / "restored.sqlite3"
    result = Invocation(binary).run(["restore", "-config", str(config), "-o", str(out), str(cable)])
    if result.code:
        say(f"   restore failed: {result.text}")
        return False
    wal = Path(f"{cable}-wal")
    mine = LocalPages.open(str(cable), scan_wal(str(wal), collect_pages=True) if wal.exists() else None)
    same = compare(mine, LocalPages.open(str(out)))
    say(
        f"7. litestream restore -o {out.name}: page checksum {same.checksum_b:016x}, live database "
        f"{same.checksum_a:016x}: {'equal' if same.equal else 'DIFFERENT'} ({same.pages_a} pages)"
    )
    return same.equal and not errors


def _indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def run_demo(binaries: list[Binary], say: Callable[[str], None], keep: str | None = None) -> bool:
    workdir = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="litefix-demo-"))
    ok = True
    try:
        for binary in binaries:
            try:
                ok = run_version(binary, say, workdir) and ok
            except DemoFailed as exc:
                say(f"   the reproduction stalled: {exc.message} (files kept in {workdir})")
                keep, ok = str(workdir), False
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return ok


def demo_binaries(paths: list[str] | None) -> list[Binary]:
    """The binaries to run the story with: each --litestream given, else the one litefix would use."""
    if paths:
        found = [find_binary(p) for p in paths]
        return [b for b in found if b is not None]
    binary = find_binary()
    if binary is None:
        raise LitestreamNotFound(
            "the demo runs the real Litestream, and none was found",
            "`make demo` installs 0.3.13 and 0.5.17; or pass --litestream PATH (repeatable)",
        )
    return [binary]
