"""The last `verify` of each database, kept beside it so that `litefix metrics` can report it.

One small JSON file per database under `<db dir>/.litefix/verify/`, replaced atomically
(temporary file in the same directory, fsync, rename): a scrape never reads half a result.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass

from litefix.model import JSON


@dataclass(frozen=True)
class LastVerify:
    time: float  # when the sentinel row was written (seconds since the epoch)
    ok: bool
    latency: float | None  # seconds from commit to the row being readable on the replica
    code: str | None  # the finding code of a failure
    position: str | None

    def to_json(self) -> dict[str, JSON]:
        return {"time": self.time, "ok": self.ok, "latency": self.latency, "code": self.code, "position": self.position}


def state_path(db: str) -> str:
    directory, name = os.path.split(os.path.abspath(db))
    return os.path.join(directory, ".litefix", "verify", f"{name}.json")


def save_last_verify(db: str, last: LastVerify) -> None:
    path = state_path(db)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".verify-", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(last.to_json(), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load_last_verify(db: str) -> LastVerify | None:
    """The last recorded verify, or None when none ran (or its file is unreadable: never fatal to a scrape)."""
    try:
        with open(state_path(db)) as fh:
            data = json.load(fh)
        latency = data.get("latency")
        return LastVerify(
            float(data["time"]),
            bool(data["ok"]),
            float(latency) if latency is not None else None,
            data.get("code"),
            data.get("position"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
