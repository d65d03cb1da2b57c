"""Progress bars on stderr (bytes, speed, ETA), drawn by rich; rich is imported when a bar starts."""

from __future__ import annotations

from typing import Any

from litefix.replicas.progress import Task


class RichReporter:
    """One rich Progress for the whole command, started with its first task."""

    def __init__(self) -> None:
        self._progress: Any = None

    def task(self, what: str, total: int | None) -> Task:
        if self._progress is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._progress.start()
        task = _RichTask(self._progress, self._progress.add_task(what, total=total))
        self._progress.refresh()  # drawn at once: a short task is still seen, not only the next tick
        return task

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class _RichTask:
    def __init__(self, progress: Any, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, n: int) -> None:
        self._progress.advance(self._id, n)

    def close(self) -> None:
        self._progress.remove_task(self._id)
