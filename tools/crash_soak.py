"""Kill -9 litefix repairs at random moments, hundreds of times, and check each recovery.

`make soak` (or `python tools/crash_soak.py --kills 300 --jobs 2`). Each round copies a
replicated site (the real Litestream, 0.3.13 or 0.5.17), breaks it the way a strategy
exists for (restore: database deleted; init: database recreated by a migration;
quarantine: as is), starts `litefix repair`, SIGKILLs it after a random delay within the
repair's measured duration, then either rolls back (every original file must be back
byte for byte, no Litestream child of litefix alive, no `repair-unfinished`) or resumes
(the repair must complete). A round whose repair finished before the kill counts apart.
Prints one line per failure and the counts at the end; exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.litestream_harness import has_litestream_tables  # noqa: E402
from tests.test_repair import DB, Site, _break_for, copy_site, digests, replicated_site  # noqa: E402

NAMES = [DB, f"{DB}-wal", f"{DB}-shm", f".{DB}-litestream"]
STRATEGIES = ("restore", "init", "quarantine")
VERSIONS = ("0.3.13", "0.5.17")


def children_of(site: Site) -> list[int]:
    marker = os.fsencode(str(site.root / ".litefix" / "scratch"))
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(int(pid))
        except OSError:
            continue
    return found


def repair_argv(site: Site, strategy: str) -> list[str]:
    config = ["--config", str(site.config)]
    return [sys.executable, "-m", "litefix", "repair", str(site.db), *config, "--strategy", strategy, "--yes"]


def measure(template: Path, version: str, strategy: str, work: Path) -> float:
    """Seconds the journal of one repair exists: the window in which a kill leaves a repair unfinished."""
    site = copy_site(template, work / f"measure-{version}-{strategy}", version)
    _break_for(strategy, site)
    journal = site.root / ".litefix" / "repairs" / f"{DB}.journal"
    proc = subprocess.Popen(
        repair_argv(site, strategy), env=site.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while not journal.exists() and proc.poll() is None:
        time.sleep(0.001)
    began = time.monotonic()
    while journal.exists() and proc.poll() is None:
        time.sleep(0.001)
    window = time.monotonic() - began
    proc.wait()
    return max(window, 0.01)


def journal_events(journal: Path) -> list[dict[str, object]]:
    """The events litefix would read: whole JSON lines, up to a torn one."""
    out: list[dict[str, object]] = []
    if not journal.exists():
        return out
    for line in journal.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            break
        if isinstance(event, dict):
            out.append(event)
    return out


def one_round(n: int, template: Path, version: str, strategy: str, duration: float, work: Path) -> tuple[str, str]:
    """(outcome, detail): outcome is rollback-ok, resume-ok, finished-first, or failed-…"""
    rng = random.Random(n)
    site = copy_site(template, work / f"round-{n}", version)
    try:
        _break_for(strategy, site)
        before = digests(site.root, NAMES)
        proc = subprocess.Popen(
            repair_argv(site, strategy), env=site.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        journal = site.root / ".litefix" / "repairs" / f"{DB}.journal"
        if rng.random() < 0.95:  # most kills inside the journalled window, some before it
            while not journal.exists() and proc.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, duration * 1.05))
        else:
            time.sleep(rng.uniform(0, 0.5))
        if proc.poll() is not None:
            return "finished-first", ""
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if not journal.exists() and list((journal.parent / "history").glob("*.journal")):
            return "finished-first", "killed after the journal was archived"
        events = journal_events(journal)
        if events and events[-1].get("event") == "end":
            return "finished-first", "killed after the journal's last event"
        if not events:  # killed before the journal's first event: nothing may have changed
            after = digests(site.root, NAMES)
            if after != before:
                changed = sorted(set(before.items()) ^ set(after.items()))
                return "failed-unjournalled-change", f"{site.root}: {changed}"
            return "killed-before-start", ""
        if rng.random() < 0.5:
            rolled = site.litefix("repair", site.db, "--rollback")
            if rolled.code not in (0, 1):
                return "failed-rollback-exit", f"{rolled.code}: {rolled.err.strip()[-300:]}"
            if digests(site.root, NAMES) != before:
                return "failed-rollback-bytes", rolled.out[-300:]
            if children_of(site):
                return "failed-orphan", str(children_of(site))
            return "rollback-ok", ""
        resumed = site.litefix("repair", site.db, "--resume")
        if resumed.code != 0:
            return "failed-resume", f"{resumed.code}: {(resumed.out + resumed.err).strip()[-300:]}"
        if strategy != "quarantine" and not has_litestream_tables(site.db):
            return "failed-resume-tables", ""
        if children_of(site):
            return "failed-orphan", str(children_of(site))
        return "resume-ok", ""
    finally:
        if not os.environ.get("SOAK_KEEP"):
            shutil.rmtree(site.root, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="litefix-soak-"))
    try:
        templates = {}
        for version in VERSIONS:
            (work / f"template-{version}").mkdir()
            replicated_site(work / f"template-{version}", version)
            templates[version] = work / f"template-{version}"
        durations = {(v, s): measure(templates[v], v, s, work) for v in VERSIONS for s in STRATEGIES}
        print("measured journalled windows (s):", {f"{v}/{s}": round(d, 2) for (v, s), d in durations.items()})
        rng = random.Random(args.seed)
        rounds = [(args.seed * 100_000 + i, rng.choice(VERSIONS), rng.choice(STRATEGIES)) for i in range(args.kills)]
        counts: Counter[str] = Counter()
        lock = threading.Lock()

        def run(item: tuple[int, str, str]) -> None:
            n, version, strategy = item
            outcome, detail = one_round(n, templates[version], version, strategy, durations[(version, strategy)], work)
            with lock:
                counts[outcome] += 1
                counts[f"{strategy}/{version}"] += 1
                if outcome.startswith("failed"):
                    print(f"FAILED round {n} {strategy} {version}: {outcome} {detail}", flush=True)

        started = time.monotonic()
        with ThreadPoolExecutor(args.jobs) as pool:
            list(pool.map(run, rounds))
        killed = sum(v for k, v in counts.items() if k in ("rollback-ok", "resume-ok") or k.startswith("failed"))
        failed = sum(v for k, v in counts.items() if k.startswith("failed"))
        print(
            f"soak (seed {args.seed}): {args.kills} rounds in {time.monotonic() - started:.0f}s; "
            f"{killed} killed mid-repair and recovered-or-failed, {failed} failed"
        )
        for key in sorted(counts):
            print(f"  {key}: {counts[key]}")
        return 1 if failed else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
