"""Delete and re-restore — where "delete" means quarantine.

Restore into litefix's scratch directory first, check it, and only then move the
local files aside and the restored one into place: the path is empty for the
length of two renames. Every -wal, -shm, -journal and .tmp-* leftover goes too,
because both Litestream versions restore next to a stale -wal with exit 0 and
SQLite then merges it into the "restored" database (measured).
"""

from __future__ import annotations

from litefix.model import RepairPlan
from litefix.repair.args import (
    MoveIntoPlaceArgs,
    QuarantineArgs,
    RestoreToTempArgs,
    VerifyDatabaseArgs,
    VerifyQuarantineArgs,
    VerifyRestoredArgs,
)
from litefix.repair.strategies import Refusal, Situation, prelude
from litefix.repair.strategies.quarantine import refuse_special


def point_args(s: Situation) -> list[str]:
    o = s.options
    if o.timestamp:
        return ["-timestamp", o.timestamp]
    if o.generation:
        return ["-generation", o.generation]
    if o.txid:
        try:
            return ["-txid", f"{int(o.txid, 16):016x}"]
        except ValueError:
            raise Refusal(f"--txid {o.txid!r} is not a hexadecimal TXID") from None
    return []


def plan(s: Situation) -> RepairPlan:
    replica = s.replica
    binary = s.ctx.binary
    if replica is None:
        raise Refusal(f"no replica to restore {s.db} from: pass --config (with this database) or --replica URL")
    if unreadable := s.replica_unreadable:
        raise Refusal(f"{unreadable}: fix that first, a restore would fail the same way")
    if s.replica_format in ("missing", "empty"):
        raise Refusal(f"the replica {replica.location} is empty: there is nothing to restore")
    if binary is None:
        raise Refusal("restoring needs the litestream binary: install it or pass --litestream PATH")
    point = point_args(s)
    config = s.ctx.config.source_path if s.ctx.config else None
    local = s.local_paths()
    refuse_special(local)
    steps = prelude(s)
    steps += [
        RestoreToTempArgs(s.db, replica.to_json(), binary.path, config, s.source(), point, not point).step(
            f"restore {' '.join(point) or 'the newest position that passes an integrity check'} into "
            "litefix's scratch directory, away from the live path"
        ),
        VerifyRestoredArgs(s.db, replica.to_json(), binary.path, config).step(
            "integrity_check, and the same page checksums as the replica at that position"
        ),
    ]
    if local:
        steps += [
            QuarantineArgs(local).step(
                "move the current database, every -wal/-shm/-journal/.tmp-* leftover and the stale "
                "meta dir aside (a leftover -wal would be merged into the restored file)"
            ),
            VerifyQuarantineArgs(local).step("every moved byte is in the quarantine and matches its hash"),
        ]
    steps += [
        MoveIntoPlaceArgs(s.db).step(
            "an atomic rename of the checked file onto the database path, with the owner and mode of the one "
            "it replaces"
        ),
        VerifyDatabaseArgs(s.db).step("quick_check of the database at its path"),
    ]
    return RepairPlan(s.db, "restore", f"from {replica.location}", tuple(steps))
