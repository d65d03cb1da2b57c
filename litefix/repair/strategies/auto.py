"""Pick a strategy from the findings, and say why — or say why none is safe."""

from __future__ import annotations

from litefix.repair.strategies import Situation

NEEDS_RESTORE = {
    "database-missing",
    "not-a-database",
    "database-empty",
    "database-truncated",
    "wal-corrupt",
    "wal-mismatch",
    "integrity-failed",
    "replica-ahead",
}
NEEDS_INIT = {
    "litestream-tables-missing",
    "litestream-state-mismatch",
    "replica-gap",
    "replica-missing",
    "replica-corrupt",
}


def choose(s: Situation) -> tuple[str | None, str]:
    """(strategy, why); strategy None = nothing to do, "refuse" = no safe automatic choice."""
    codes = s.codes
    has_replica = s.replica is not None and s.replica_format not in (None, "missing", "empty")
    if "litestream-duplicate" in codes:
        return "refuse", (
            "two replicators share this database or its replica: stop the extra Litestream and give "
            "each database its own replica path before repairing"
        )
    if "litestream-replaced" in codes:
        if s.live_file_sound():
            return "init", (
                "a running Litestream holds a replaced file; the live file passes quick_check, so a "
                "fresh generation/snapshot from it makes the replica right again"
            )
        if has_replica:
            return "restore", (
                "a running Litestream holds a replaced file and the live file is damaged: restore the "
                "newest clean position"
            )
        return (
            "refuse",
            "the live file is damaged and there is no replica: quarantine it by hand (--strategy quarantine)",
        )
    restore_codes = sorted(codes & NEEDS_RESTORE)
    if restore_codes:
        if has_replica:
            return "restore", f"{', '.join(restore_codes)}: the replica holds the last good state"
        if codes <= {"database-missing"}:
            return None, "no database and no replica: nothing to restore (a first deploy? the app will create it)"
        return "refuse", (
            f"{', '.join(restore_codes)} but no replica to restore from; `--strategy quarantine` "
            "moves the damaged files aside (the app then starts with an empty database)"
        )
    if "replica-diverged" in codes:
        return "refuse", (
            "the replica and the database disagree and the evidence cannot say which is right: choose "
            "`--strategy init` (keep the local file) or `--strategy restore` (keep the replica)"
        )
    init_codes = sorted(codes & NEEDS_INIT)
    if init_codes:
        return "init", f"{', '.join(init_codes)}: the local file is the truth; Litestream re-initialises from it"
    return None, "no finding calls for a repair"
