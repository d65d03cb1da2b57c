"""The processes a repair starts die with it, and a leftover from a killed run is found and stopped.

A `litestream replicate` that outlives a killed `init` keeps writing to the replica; a
`--resume` that then starts a second one on the same database and replica breaks the
replica's chain (measured: `replica-gap` twice in 120 kills). So each child runs in its
own process group with a parent-death signal, and before `--resume` or `--rollback` does
anything, every process whose command line names this repair's scratch directory is
stopped (found in /proc, where a child survives only if the kernel's signal was missed,
e.g. litefix was killed between fork and prctl).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from litefix.system import children

STOP_TIMEOUT = 30.0


def start_child(
    argv: Sequence[str], env: dict[str, str], stdout: IO[Any] | int | None = None
) -> subprocess.Popen[bytes]:
    """Popen in its own process group, SIGTERMed by the kernel if litefix dies first; its stderr joins stdout."""
    return children.start_child(argv, env, stdout, subprocess.STDOUT if stdout is not None else None)


def run_child(argv: Sequence[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """Run to the end (or `timeout`, then SIGKILL the group); exit code and combined output."""
    proc = children.start_child(argv, env, subprocess.PIPE, subprocess.STDOUT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        children.signal_group(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return -signal.SIGKILL, out.decode(errors="replace") + f"\n(killed after {timeout:.0f}s)"
    return proc.returncode, out.decode(errors="replace")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        children.signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            children.signal_group(proc.pid, signal.SIGKILL)
            proc.wait()


def leftovers(scratch: Path, proc: str = "/proc") -> list[int]:
    """Pids whose command line names a file under `scratch` (this repair's private config)."""
    marker = os.fsencode(str(scratch) + os.sep)
    found = []
    try:
        pids = [int(p) for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return []
    for pid in pids:
        if pid == os.getpid():
            continue
        try:
            with open(f"{proc}/{pid}/cmdline", "rb") as fh:
                argv = fh.read(1 << 16).split(b"\0")
        except OSError:
            continue
        if any(arg.startswith(marker) for arg in argv):
            found.append(pid)
    return found


def stop_leftovers(scratch: Path) -> list[int]:
    """SIGTERM (then SIGKILL after STOP_TIMEOUT) every leftover child of an earlier run; their pids."""
    pids = leftovers(scratch)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.monotonic() + STOP_TIMEOUT
    for pid in pids:
        while _exists(pid):
            if time.monotonic() > deadline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
                break
            time.sleep(0.05)
    return pids


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b") ", 1)[-1][:1] != b"Z"
    except OSError:
        return False
