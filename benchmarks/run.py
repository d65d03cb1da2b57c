#!/usr/bin/env python3
"""litefix beside its alternatives, on the same files, in the same run.

    python benchmarks/run.py [--sizes 10M,256M,1G] [--huge] [--runs 5] [--out benchmarks/results.md]

For each size it builds (once, cached in benchmarks/data/) a WAL database with a 64 MB
-wal of committed frames and an in-sync Litestream 0.5 file replica, then measures the
median wall time and peak RSS of each command over --runs runs, with the page cache warm
(every command runs once before it is timed). Ratios are computed pair by pair within the
run: never against numbers from another machine or another day.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from install_litestream import ensure  # noqa: E402

LITESTREAM = "0.5.17"
WAL_BYTES = 64 << 20
SIZES = {"10M": 10 << 20, "256M": 256 << 20, "1G": 1 << 30, "4G": 4 << 30}
RAILS = ("production.sqlite3", "production_cache.sqlite3", "production_queue.sqlite3", "production_cable.sqlite3")


@dataclass
class Measure:
    label: str
    seconds: float
    rss_mb: float


def run(cmd: Sequence[str] | str, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one command and everything it starts."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, shell=isinstance(cmd, str), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # diagnose exits 1 on findings; anything else is a broken measurement
        raise SystemExit(f"benchmark command failed ({code}): {cmd}")
    return elapsed, usage.ru_maxrss / 1024


def timed(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one run: CPU time is what a loaded machine's wall clock hides."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"benchmark command failed: {cmd}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def measure(label: str, cmd: Sequence[str] | str, runs: int, env: dict[str, str] | None = None) -> Measure:
    run(cmd, env)  # warm the page cache and the interpreter's files
    samples = [run(cmd, env) for _ in range(runs)]
    return Measure(label, statistics.median(s for s, _ in samples), max(r for _, r in samples))


# --- building the files --------------------------------------------------------------------------


def config(db: Path, replica: Path) -> str:
    return (
        f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n    checkpoint-interval: 24h\n"
        "    min-checkpoint-page-count: 100000000\n"
        f"    replica:\n      type: file\n      path: {replica}\n      sync-interval: 100ms\n"
    )


def fill(con: sqlite3.Connection, table: str, nbytes: int, seed: int) -> None:
    """Rows of half-random, half-repetitive bytes: LZ4 compresses them about as well as real data."""
    rng = random.Random(seed)
    row = 3000
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, body BLOB)")
    con.execute("BEGIN")
    for _ in range(nbytes // (row + 100)):
        body = rng.randbytes(row // 2) + bytes(row // 2)
        con.execute(f"INSERT INTO {table} (body) VALUES (?)", (body,))
    con.execute("COMMIT")


APP = """
import os, random, signal, sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("PRAGMA wal_autocheckpoint=0")
rng = random.Random(2)
con.execute("CREATE TABLE recent (id INTEGER PRIMARY KEY, body BLOB)")
rows = int(sys.argv[2]) // 3100
for start in range(0, rows, 200):  # transactions of 200 rows: the -wal is about the data written
    con.execute("BEGIN")
    for _ in range(min(200, rows - start)):
        con.execute("INSERT INTO recent (body) VALUES (?)", (rng.randbytes(1500) + bytes(1500),))
    con.execute("COMMIT")
print("done", flush=True)
sys.stdin.readline()
os.kill(os.getpid(), signal.SIGKILL)  # a crash, not a close: the -wal keeps its committed frames
"""


def build(name: str, size: int, litestream: Path) -> tuple[Path, Path]:
    """db with a 64 MB -wal of committed frames, and its in-sync 0.5 replica; cached between runs."""
    root = DATA / name
    db, cfg = root / "app.db", root / "litestream.yml"
    done = root / ".done"
    if done.exists():
        return db, cfg
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    cfg.write_text(config(db, root / "replica"))
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    fill(con, "base", size, 1)
    con.close()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(root / "litestream.log", "wb") as log:
        rep = subprocess.Popen(
            [str(litestream), "replicate", "-config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    app = None
    try:
        deadline = time.monotonic() + 900
        while not list((root / "replica" / "ltx").glob("*/0000000000000001-*.ltx")):
            if time.monotonic() > deadline or rep.poll() is not None:
                raise SystemExit(f"no snapshot in {root / 'replica'}; see {root / 'litestream.log'}")
            time.sleep(0.2)
        app = subprocess.Popen(
            [sys.executable, "-c", APP, str(db), str(WAL_BYTES)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert app.stdout is not None
        app.stdout.readline()
        time.sleep(3)  # several sync intervals: the replica catches up
    finally:
        rep.send_signal(signal.SIGTERM)  # its final sync
        rep.wait(300)
        if app is not None and app.stdin is not None:
            app.stdin.write("\n")
            app.stdin.flush()
            app.wait(30)
    done.write_text("ok\n")
    return db, cfg


# A day of a 0.5 replicate log as `journalctl -o short-iso` prints it: routine lines with changing
# TXIDs, a few wrapped errors (S3 403 with varying request ids, a full disk) and 0.3 lines.
_LOG_LINES = (
    'time={t} level=INFO msg="replica sync" system=store db=app.db txid.replica={a:016x} txid.db={b:016x}',
    'time={t} level=INFO msg="ltx file uploaded" system=store db=app.db filename=0000/{a:016x}-{b:016x}.ltx size={n}',
    "time={t} level=DEBUG msg=checkpoint db=app.db mode=PASSIVE result=0,{n},{n}",
    'time={t} level=INFO msg="l0 retention enforced" db=app.db deleted={n}',
    'time={t} level=ERROR msg="monitor error" db=app.db replica=s3 error="write ltx file: s3: upload to '
    "db/0000/{a:016x}-{b:016x}.ltx: operation error S3: PutObject, https response error StatusCode: 403, "
    'RequestID: {a:X}, HostID: {b:x}, api error AccessDenied: Access Denied" consecutive_errors={n} backoff=2s',
    'time={t} level=INFO msg="wal segment written" db=/data/app.db replica=s3 position={a:016x}/{b:08x}:{n}',
    'time={t} level=ERROR msg="sync error" system=store db=app.db error="write /data/.app.db-litestream/ltx/0/'
    '{a:016x}-{b:016x}.ltx.tmp: no space left on device" consecutive_errors={n} backoff=4s',
)


def journald_log(size: int) -> Path:
    """A journald export of Litestream lines, `size` bytes (built once, cached in benchmarks/data/)."""
    path = DATA / f"litestream-journal-{size >> 20}M.log"
    if path.exists() and path.stat().st_size >= size:
        return path
    DATA.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    weights = (40, 30, 15, 5, 1, 8, 1)
    with open(path.with_suffix(".tmp"), "w") as out:
        written = 0
        second = 0
        while written < size:
            chunk = []
            for _ in range(2000):
                second += 1
                stamp = f"2026-11-26T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:{second % 60:02d}"
                template = rng.choices(_LOG_LINES, weights)[0]
                a = rng.randrange(1 << 40)
                body = template.format(t=stamp + ".123Z", a=a, b=a + 1, n=rng.randrange(1, 5000))
                chunk.append(f"{stamp}+0000 web-1 litestream[4242]: {body}\n")
            text = "".join(chunk)
            out.write(text)
            written += len(text)
    path.with_suffix(".tmp").rename(path)
    return path


def rails_set(litestream: Path) -> Path:
    """Four small healthy databases (the Rails 8 set) replicated and in sync, for `litefix check`."""
    root = DATA / "rails"
    cfg = root / "litestream.yml"
    if (root / ".done").exists():
        return cfg
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    text = "dbs:\n" + "".join(config(root / name, root / "replica" / name).split("dbs:\n", 1)[1] for name in RAILS)
    cfg.write_text(text)
    for i, name in enumerate(RAILS):
        con = sqlite3.connect(root / name, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        fill(con, "t", 1 << 20, i)
        con.close()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(root / "litestream.log", "wb") as log:
        rep = subprocess.Popen(
            [str(litestream), "replicate", "-config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    time.sleep(3)
    rep.send_signal(signal.SIGTERM)
    rep.wait(60)
    (root / ".done").write_text("ok\n")
    return cfg


def replica_files(cfg: Path) -> list[str]:
    return [str(p) for p in sorted((cfg.parent / "replica").rglob("*.ltx"))]


def runtime_python() -> str:
    """litefix installed as a user installs it: a fresh venv, `pip install .` (bytecode compiled, C built),
    without the test tools, whose plugins slow every import of the shared libraries."""
    venv = DATA / "venv"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    sources = [ROOT / "pyproject.toml", ROOT / "setup.py", *sorted((ROOT / "litefix").rglob("*.[pc]*"))]
    if not stamp.exists() or max(p.stat().st_mtime for p in sources) > stamp.stat().st_mtime:
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(ROOT)], check=True
        )
        stamp.write_text("ok\n")
    return str(python)


# --- the report -----------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / (1 << 30)
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, Litestream {LITESTREAM}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10M,256M,1G")
    parser.add_argument("--huge", action="store_true", help="also 4 GiB")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.md"))
    parser.add_argument("--explain-size", default="1G", help="size of the journald log for `explain` (0: skip)")
    parser.add_argument(
        "--s3-sizes", default="256M,1G", help="sizes also replicated to a local S3 server ('' for none)"
    )
    parser.add_argument(
        "--monitor-only", action="store_true", help="only `verify` and `metrics` (their own results file)"
    )
    args = parser.parse_args()
    if args.monitor_only:
        return monitor_main(args.runs, ROOT / "benchmarks" / "results-monitor.md")
    sizes = args.sizes.split(",") + (["4G"] if args.huge else [])
    litestream = ensure(LITESTREAM)
    python = runtime_python()
    litefix = [python, "-m", "litefix"]
    env = {**os.environ, "LITEFIX_LITESTREAM": str(litestream)}
    env.pop("AWS_CA_BUNDLE", None)
    rows: list[tuple[str, Measure, str]] = []
    verdicts: list[str] = []

    base_python = measure("python -c pass", [python, "-c", "pass"], args.runs)
    help_ = measure("litefix --help", [*litefix, "--help"], args.runs, env)
    rows += [("-", base_python, ""), ("-", help_, "")]
    verdicts.append(_verdict(help_.seconds < 0.3, f"`--help` under 0.3 s: {help_.seconds:.3f} s"))
    rails = rails_set(litestream)
    check = measure("litefix check (4 healthy databases)", [*litefix, "check", "--config", str(rails)], args.runs, env)
    rows.append(("4 x 1 MB", check, ""))
    verdicts.append(
        _verdict(check.seconds < 1.0, f"`check` of four healthy databases under 1 s: {check.seconds:.3f} s")
    )

    if args.explain_size != "0":
        size = SIZES.get(args.explain_size) or int(args.explain_size)
        log = journald_log(size)
        # wc -l, not grep -c: GNU grep stops at the first match when its output is /dev/null. wc also
        # warms the page cache, so explain runs once (a 1 GB pass takes about a minute).
        wc = measure("wc -l (journald log)", f"wc -l {log} > /dev/null", args.runs)
        wall, rss, cpu = timed([*litefix, "explain", str(log)], env)
        explain = Measure("litefix explain (journald log)", wall, rss)
        nbytes = log.stat().st_size
        rate, cpu_rate = nbytes / wall / 1e6, nbytes / cpu / 1e6
        load = os.getloadavg()[0]
        rows += [(args.explain_size, wc, ""), (args.explain_size, explain, f"{rate:.0f} MB/s ({cpu_rate:.0f} on CPU)")]
        verdicts.append(
            _verdict(
                rate >= 20 and rss < 200,
                f"`explain` of a {args.explain_size} journald log at >= 20 MB/s in bounded memory: "
                f"{rate:.0f} MB/s wall, {cpu_rate:.0f} MB/s on CPU time (load average {load:.1f}), "
                f"{rss:.0f} MB peak RSS",
            )
        )

    diagnose_times = []
    file_diagnose: dict[str, float] = {}
    for size in sizes:
        db, cfg = build(size, SIZES[size], litestream)
        wal = f"{db}-wal"
        cat_wal = measure("cat -wal > /dev/null", f"cat {wal} > /dev/null", args.runs)
        diag = measure("litefix diagnose", [*litefix, "diagnose", str(db), "--config", str(cfg)], args.runs, env)
        floor = cat_wal.seconds + base_python.seconds
        rows += [(size, cat_wal, ""), (size, diag, f"{diag.seconds / floor:.1f}x (cat -wal + python)")]
        diagnose_times.append(diag.seconds)
        file_diagnose[size] = diag.seconds
        both = measure(
            "cat database, -wal and replica", f"cat {db} {wal} {' '.join(replica_files(cfg))} > /dev/null", args.runs
        )
        compare = measure(
            "litefix diagnose --compare",
            [*litefix, "diagnose", str(db), "--config", str(cfg), "--compare"],
            args.runs,
            env,
        )
        out = DATA / size / "restored.db"
        restore_md5 = measure(
            "litestream restore -o tmp + md5sum both",
            f"rm -f {out}* && env -u AWS_CA_BUNDLE {litestream} restore -config {cfg} -o {out} {db} && "
            f"md5sum {db} {out} > /dev/null",
            max(1, min(args.runs, 3)),
        )
        rows += [
            (size, both, ""),
            (
                size,
                compare,
                f"{compare.seconds / both.seconds:.1f}x reading both, "
                f"{restore_md5.seconds / compare.seconds:.1f}x faster than restore+md5",
            ),
            (size, restore_md5, ""),
        ]
        for m in (diag, compare):
            verdicts.append(_verdict(m.rss_mb < 100, f"{size} {m.label}: peak RSS {m.rss_mb:.0f} MB (< 100 MB)"))
        verdicts.append(
            _verdict(
                diag.seconds <= 1.5 * floor,
                f"{size} diagnose within 1.5x of cat -wal + python: {diag.seconds / floor:.2f}x",
            )
        )
        if size in ("1G", "4G"):
            verdicts.append(
                _verdict(
                    restore_md5.seconds >= 10 * compare.seconds,
                    f"{size} --compare 10x faster than restore+md5: {restore_md5.seconds / compare.seconds:.1f}x",
                )
            )
            verdicts.append(
                _verdict(
                    compare.seconds <= 2 * both.seconds,
                    f"{size} --compare within 2x of reading both sides: {compare.seconds / both.seconds:.2f}x",
                )
            )
    from objstore import object_store_case  # the S3 case: benchmarks/objstore.py

    for size in [s for s in args.s3_sizes.split(",") if s]:
        db, _cfg = build(size, SIZES[size], litestream)
        file_seconds = file_diagnose.get(size) or min(diagnose_times)
        s3_rows, s3_verdicts = object_store_case(
            size, db, DATA, litestream, litefix, args.runs, file_seconds, measure, _verdict
        )
        rows += s3_rows
        verdicts += s3_verdicts
    spread = max(diagnose_times) / min(diagnose_times)
    verdicts.append(_verdict(spread < 1.5, f"diagnose independent of database size: slowest/fastest {spread:.2f}x"))

    table = ["| size | command | median s | peak RSS MB | ratio |", "|---|---|---:|---:|---|"]
    table += [f"| {size} | {m.label} | {m.seconds:.3f} | {m.rss_mb:.0f} | {note} |" for size, m, note in rows]
    text = (
        f"Machine: {machine()}\n\nMedian of {args.runs} warm runs; -wal of 64 MB of committed frames; "
        f"replica: Litestream {LITESTREAM} file replica, in sync.\n\n"
        + "\n".join(table)
        + "\n\n"
        + "\n".join(verdicts)
        + "\n"
    )
    Path(args.out).write_text(text)
    print(text)
    return monitor_main(args.runs, ROOT / "benchmarks" / "results-monitor.md")


# --- verify and metrics -------------------------------------------------------------------------------

ROUND_TRIP = """
import secrets, sqlite3, subprocess, sys, time, shutil, os, glob
litestream, cfg, db, out = sys.argv[1:5]
replica = os.path.join(os.path.dirname(db), "replica")
def top():
    names = glob.glob(os.path.join(replica, "ltx", "*", "*.ltx"))
    return max(int(os.path.basename(n).split("-")[1][:16], 16) for n in names)
before = top()
token = secrets.token_hex(16)
con = sqlite3.connect(db, isolation_level=None, timeout=5)
con.execute("CREATE TABLE IF NOT EXISTS _baseline_verify (id INTEGER PRIMARY KEY, token TEXT, t REAL)")
con.execute("INSERT INTO _baseline_verify (token, t) VALUES (?, ?)", (token, time.time()))
con.close()
while top() <= before:  # wait for the replica to move (no fixed sleep: the fairest restore-based check)
    time.sleep(0.05)
for path in glob.glob(out + "*"):
    os.unlink(path)
subprocess.run([litestream, "restore", "-config", cfg, "-o", out, db], check=True, capture_output=True)
found = sqlite3.connect(out).execute("SELECT 1 FROM _baseline_verify WHERE token = ?", (token,)).fetchone()
sys.exit(0 if found else 2)
"""


def live_database(name: str, size: int, litestream: Path) -> tuple[Path, Path, subprocess.Popen[bytes]]:
    """A database of `size` bytes replicated by a running Litestream 0.5 (file replica, 100 ms sync): the
    state `verify` runs against. The files are cached; Litestream is started for this run."""
    root = DATA / name
    db, cfg = root / "app.db", root / "litestream.yml"
    if not (root / ".done").exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        cfg.write_text(
            f"dbs:\n  - path: {db}\n    monitor-interval: 100ms\n"
            f"    replica:\n      type: file\n      path: {root / 'replica'}\n      sync-interval: 100ms\n"
        )
        con = sqlite3.connect(db, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        fill(con, "base", size, 3)
        con.close()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(root / "litestream.log", "ab") as log:
        rep = subprocess.Popen(
            [str(litestream), "replicate", "-config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 900
    while not list((root / "replica" / "ltx").glob("*/0000000000000001-*.ltx")) or not list(
        (root / "replica" / "ltx" / "0").glob("*.ltx")
    ):
        if time.monotonic() > deadline or rep.poll() is not None:
            raise SystemExit(f"no snapshot in {root / 'replica'}; see {root / 'litestream.log'}")
        time.sleep(0.2)
    (root / ".done").write_text("ok\n")
    return db, cfg, rep


def many_databases(count: int, litestream: Path) -> Path:
    """`count` small databases in one config, each with a file replica Litestream wrote once."""
    root = DATA / f"many-{count}"
    cfg = root / "litestream.yml"
    if (root / ".done").exists():
        return cfg
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    names = [f"db{i:03d}.sqlite3" for i in range(count)]
    cfg.write_text("dbs:\n" + "".join(config(root / n, root / "replica" / n).split("dbs:\n", 1)[1] for n in names))
    for i, name in enumerate(names):
        con = sqlite3.connect(root / name, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        fill(con, "t", 64 << 10, i)
        con.close()
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    with open(root / "litestream.log", "wb") as log:
        rep = subprocess.Popen(
            [str(litestream), "replicate", "-config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 300
    while len(list((root / "replica").glob("*/ltx/9/*.ltx"))) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    rep.send_signal(signal.SIGTERM)
    rep.wait(60)
    (root / ".done").write_text("ok\n")
    return cfg


def scrape_seconds(python: str, cfg: Path, env: dict[str, str], runs: int) -> float:
    """Median time of an HTTP scrape of `litefix metrics --listen` with the cache off (every scrape collects)."""
    import socket
    import urllib.request

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            python,
            "-m",
            "litefix",
            "metrics",
            "--config",
            str(cfg),
            "--listen",
            f"127.0.0.1:{port}",
            "--cache-seconds",
            "0",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("litefix metrics --listen did not start") from None
                time.sleep(0.2)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=120).read()
            times.append(time.perf_counter() - started)
        return statistics.median(times)
    finally:
        server.terminate()
        server.wait(30)


def monitor_main(runs: int, out_path: Path) -> int:
    """`verify` on 1 GiB beside a restore-based round trip, and `metrics` for 4 and 100 databases."""
    litestream = ensure(LITESTREAM)
    python = runtime_python()
    litefix = [python, "-m", "litefix"]
    env = {**os.environ, "LITEFIX_LITESTREAM": str(litestream)}
    env.pop("AWS_CA_BUNDLE", None)
    rows: list[tuple[str, Measure, str]] = []
    verdicts: list[str] = []
    db, cfg, rep = live_database("verify-1G", SIZES["1G"], litestream)
    try:
        verify = measure("litefix verify (pages)", [*litefix, "verify", str(db), "--config", str(cfg)], runs, env)
        out = DATA / "verify-1G" / "restored.db"
        baseline = measure(
            "write, wait, litestream restore, look up the row",
            [python, "-c", ROUND_TRIP, str(litestream), str(cfg), str(db), str(out)],
            max(1, min(runs, 3)),
            env,
        )
        restore = measure(
            "litefix verify --restore",
            [*litefix, "verify", str(db), "--config", str(cfg), "--restore"],
            1,
            env,
        )
    finally:
        rep.send_signal(signal.SIGTERM)
        rep.wait(300)
    ratio = baseline.seconds / verify.seconds
    rows += [
        ("1G", verify, f"{ratio:.1f}x faster than the restore round trip"),
        ("1G", baseline, ""),
        ("1G", restore, ""),
    ]
    verdicts.append(_verdict(ratio >= 10, f"1G verify 10x faster than the restore-based round trip: {ratio:.1f}x"))
    for label, target in (("4 databases (the Rails set)", rails_set(litestream)), ("100 databases", None)):
        cfg_n = target or many_databases(100, litestream)
        one_shot = measure(
            f"litefix metrics, {label}, one process", [*litefix, "metrics", "--config", str(cfg_n)], runs, env
        )
        scrape = scrape_seconds(python, cfg_n, env, runs)
        rows.append(("-", one_shot, ""))
        rows.append(("-", Measure(f"HTTP scrape of metrics --listen, {label}, cache off", scrape, 0), ""))
    table = ["| size | command | median s | peak RSS MB | note |", "|---|---|---:|---:|---|"]
    table += [f"| {size} | {m.label} | {m.seconds:.3f} | {m.rss_mb:.0f} | {note} |" for size, m, note in rows]
    text = (
        f"Machine: {machine()}\n\nMedian of {runs} warm runs (the restore round trip: of {max(1, min(runs, 3))}); "
        f"Litestream {LITESTREAM} running, file replica, 100 ms sync.\n\n"
        + "\n".join(table)
        + "\n\n"
        + "\n".join(verdicts)
        + "\n"
    )
    out_path.write_text(text)
    print(text)
    return 0


def _verdict(ok: bool, text: str) -> str:
    return f"- {'met' if ok else 'NOT met'}: {text}"


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    raise SystemExit(main())
