"""Progress of long remote reads, reported to whoever asked for it (the CLI, on a terminal), or nobody.

The reporter is a context variable, set by `litefix diagnose` when stderr is a terminal and the
output is not JSON: libraries and tests see none, pipes get nothing, and the gate's per-database
threads (which do not inherit it) stay quiet.
"""

from __future__ import annotations

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
