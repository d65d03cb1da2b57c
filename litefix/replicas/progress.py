"""Progress of long remote reads, reported to whoever asked for it (the CLI, on a terminal), or nobody.

The reporter is a context variable, set by `litefix diagnose` when stderr is a terminal and the
output is not JSON: libraries and tests see none, pipes get nothing, and the gate's per-database
threads (which do not inherit it) stay quiet.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol


class Task(Protocol):
    def advance(self, n: int) -> None: ...

    def close(self) -> None: ...


class Reporter(Protocol):
    def task(self, what: str, total: int | None) -> Task: ...


REPORTER: ContextVar[Reporter | None] = ContextVar("litefix_progress", default=None)


@contextmanager
def reporting(what: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """An `advance(bytes)` callable, safe from several threads; a no-op when nobody listens."""
    reporter = REPORTER.get()
    if reporter is None:
        yield lambda _n: None
        return
    task = reporter.task(what, total)
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            task.advance(n)

    try:
        yield advance
    finally:
        task.close()


@contextmanager
def growth(directory: str, advance: Callable[[int], None], every: float = 0.25) -> Iterator[None]:
    """Report the bytes written under `directory`, polled by a thread until the block ends: the progress of
    a child (`litestream restore`) that says nothing about its own."""
    done = threading.Event()

    def total() -> int:
        try:
            return sum(e.stat().st_size for e in os.scandir(directory) if e.is_file())
        except OSError:  # a file renamed or removed between the listing and the stat
            return 0

    def poll() -> None:
        seen = 0
        while not done.wait(every):
            now_bytes = total()
            if now_bytes > seen:
                advance(now_bytes - seen)
                seen = now_bytes

    watcher = threading.Thread(target=poll, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(2)
