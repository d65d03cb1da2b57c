"""The object-store case of `make bench`: the same databases replicated to a local S3 server.

For each size, a copy of the benchmark database (and its -wal) is replicated by the real Litestream
0.5 to a moto server on 127.0.0.1, then timed, in the same run: `litefix diagnose --compare` (ranged,
parallel reads of the files a restore would read) beside `litestream restore` from the same server +
`md5sum` of both files, and the listing-only `litefix diagnose` beside `litestream ltx -level all`.
moto keeps objects in memory and is written in Python, so its absolute figures are slower than a
real store; the ratios compare both tools against the same server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_REGION": "us-east-1"}


def _config(db: Path, endpoint: str) -> str:
    return (
        f"dbs:\n  - path: {db}\n    replica:\n      type: s3\n      bucket: bench\n      path: app\n"
        f"      endpoint: {endpoint}\n      region: us-east-1\n      force-path-style: true\n"
        "      sync-interval: 1s\n"
    )


def replicate_to_s3(source_db: Path, workdir: Path, litestream: Path) -> tuple[Any, Path, Path, dict[str, str]]:
    """(server, db, config, env): a copy of `source_db` replicated to a fresh local S3 server."""
    sys.path.insert(0, str(ROOT))
    from tests.s3server import start_server

    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    db = workdir / "app.db"
    shutil.copy(source_db, db)
    if Path(f"{source_db}-wal").exists():
        shutil.copy(f"{source_db}-wal", f"{db}-wal")
    server = start_server(workdir / "moto.log")
    server.create_bucket("bench")
    cfg = workdir / "litestream.yml"
    cfg.write_text(_config(db, server.endpoint))
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update(CREDENTIALS)
    log_path = workdir / "litestream.log"
    with open(log_path, "wb") as log:
        rep = subprocess.Popen(
            [str(litestream), "replicate", "-config", str(cfg)], stdout=log, stderr=subprocess.STDOUT, env=env
        )
    try:
        deadline = time.monotonic() + 1800
        while b"snapshot complete" not in log_path.read_bytes():
            if time.monotonic() > deadline or rep.poll() is not None:
                raise SystemExit(f"no snapshot reached the S3 server; see {log_path}")
            time.sleep(0.5)
        time.sleep(3)
    finally:
        rep.send_signal(signal.SIGTERM)
        rep.wait(600)
    return server, db, cfg, env


def object_store_case(
    size: str,
    source_db: Path,
    data: Path,
    litestream: Path,
    litefix: Sequence[str],
    runs: int,
    file_diagnose_seconds: float,
    measure: Callable[..., Any],
    verdict: Callable[[bool, str], str],
) -> tuple[list[tuple[str, Any, str]], list[str]]:
    """Rows for the results table and verdicts for the issue's targets."""
    server, db, cfg, env = replicate_to_s3(source_db, data / f"s3-{size}", litestream)
    env = {**env, "LITEFIX_LITESTREAM": str(litestream)}
    label = f"{size} S3"
    try:
        diag = measure(
            "litefix diagnose (S3 listing)", [*litefix, "diagnose", str(db), "--config", str(cfg)], runs, env
        )
        ltx = measure(
            "litestream ltx -level all (S3)",
            [str(litestream), "ltx", "-config", str(cfg), "-level", "all", str(db)],
            runs,
            env,
        )
        compare = measure(
            "litefix diagnose --compare (S3)",
            [*litefix, "diagnose", str(db), "--config", str(cfg), "--compare"],
            runs,
            env,
        )
        out = data / f"s3-{size}" / "restored.db"
        restore_md5 = measure(
            "litestream restore from S3 + md5sum both",
            f"rm -f {out}* && {litestream} restore -config {cfg} -o {out} {db} && md5sum {db} {out} > /dev/null",
            max(1, min(runs, 3)),
            env,
        )
    finally:
        server.proc.terminate()
        server.proc.wait(30)
    rows = [
        (label, diag, f"{diag.seconds / file_diagnose_seconds:.1f}x the file-replica diagnose"),
        (label, ltx, ""),
        (label, compare, f"{restore_md5.seconds / compare.seconds:.1f}x faster than restore+md5"),
        (label, restore_md5, ""),
    ]
    verdicts = [
        verdict(
            restore_md5.seconds >= 10 * compare.seconds,
            f"{label} --compare 10x faster than restore+md5: {restore_md5.seconds / compare.seconds:.1f}x",
        ),
        verdict(
            diag.seconds <= 2 * file_diagnose_seconds,
            f"{label} diagnose within 2x of the file-replica diagnose: {diag.seconds / file_diagnose_seconds:.2f}x",
        ),
        verdict(compare.rss_mb < 100, f"{label} --compare peak RSS {compare.rss_mb:.0f} MB (< 100 MB)"),
    ]
    return rows, verdicts
