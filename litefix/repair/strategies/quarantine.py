"""Move the database and everything beside it into a quarantine, with a manifest. Nothing else."""

from __future__ import annotations

import os
import stat

from litefix.model import RepairPlan
from litefix.repair.args import QuarantineArgs, VerifyQuarantineArgs
from litefix.repair.strategies import Refusal, Situation, prelude
from litefix.system.files import kind_of


def refuse_special(paths: list[str]) -> None:
    """A FIFO or device where a database or sidecar belongs: hashing it would hang or never end."""
    for path in paths:
        mode = os.lstat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
            raise Refusal(
                f"{path} is a {kind_of(mode)}, not a file: litefix moves only files and directories aside; "
                "remove or rename it yourself"
            )


def plan(s: Situation) -> RepairPlan:
    paths = s.local_paths()
    if not paths:
        raise Refusal(f"nothing to quarantine: no database, -wal, -shm or meta dir at {s.db}")
    refuse_special(paths)
    steps = prelude(s)
    steps.append(QuarantineArgs(paths).step("move aside, with sha256 and size of every file in the manifest"))
    steps.append(VerifyQuarantineArgs(paths).step("every moved byte is in the quarantine and matches its hash"))
    return RepairPlan(s.db, "quarantine", "the path is left empty: restore it or let the app create it", tuple(steps))
