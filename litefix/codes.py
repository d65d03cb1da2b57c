"""Every finding code litefix can emit: its severity, meaning, fix, and the repair policy for it.

This table is the single source of truth: inspectors build findings from it, the README's
finding-code table is generated from it, and the policy columns (`strategies`, `auto`,
`unattended`, `leftover`) are what `repair --strategy auto`, `check --fix` and the README all
read (repair/policy.py). Codes are stable; never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from litefix.model import JSON, Finding, Severity, Strategy

RESTORE, INIT, QUARANTINE = Strategy.RESTORE, Strategy.INIT, Strategy.QUARANTINE


class Auto(StrEnum):
    """What `repair --strategy auto` does about a code. When several codes are found, the first of
    BLOCK, LIVE_FILE, RESTORE, ASK, INIT present decides (repair/policy.py)."""

    NOTHING = "nothing"  # no repair is needed, or none litefix can make (restart a process, fix a config)
    RESTORE = "restore"  # the replica holds the last good state (needs a replica with data)
    INIT = "init"  # the local file is the truth; Litestream re-initialises from it
    LIVE_FILE = "live-file"  # init when the live file passes quick_check, else restore
    ASK = "ask"  # two repairs fit and the evidence cannot choose: a human picks one
    BLOCK = "block"  # no repair is safe until a human acts (stop a process, give each database its replica)

    def __str__(self) -> str:
        return self.value


NOTHING, AUTO_RESTORE, AUTO_INIT, LIVE_FILE, ASK, BLOCK = (
    Auto.NOTHING,
    Auto.RESTORE,
    Auto.INIT,
    Auto.LIVE_FILE,
    Auto.ASK,
    Auto.BLOCK,
)


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    meaning: str
    fix: str
    strategies: tuple[Strategy, ...] = ()  # the repairs that fix it
    auto: Auto = Auto.NOTHING  # what `--strategy auto` does about it
    unattended: bool = False  # `check --fix` may run auto's choice for it without a human
    leftover: bool = False  # about a sidecar or Litestream's state: moot once the database is gone

    def finding(
        self,
        message: str,
        evidence: Mapping[str, JSON] | None = None,
        *,
        hint: str | None = None,
        severity: Severity | None = None,
        strategies: tuple[Strategy, ...] | None = None,
    ) -> Finding:
        return Finding(
            code=self.code,
            severity=severity or self.severity,
            message=message,
            evidence=dict(evidence or {}),
            strategies=self.strategies if strategies is None else strategies,
            hint=self.fix if hint is None else hint,
        )


def _codes(*codes: Code) -> dict[str, Code]:
    return {c.code: c for c in codes}


CODES: dict[str, Code] = _codes(
    # --- the database file -------------------------------------------------------------
    Code(
        "database-missing",
        Severity.ERROR,
        "Nothing (or a dangling symlink) at the database path.",
        "Restore it from the replica before the app starts: `litefix repair DB --strategy restore`.",
        (RESTORE,),
        auto=AUTO_RESTORE,
        unattended=True,
    ),
    Code(
        "database-empty",
        Severity.WARNING,
        "The database file has 0 bytes; SQLite will treat it as a new, empty database.",
        "If data was expected, move it aside and restore: `litefix repair DB --strategy restore`.",
        (RESTORE, QUARANTINE),
        auto=AUTO_RESTORE,
    ),
    Code(
        "not-a-database",
        Severity.ERROR,
        "The path is a directory, or its first bytes are not an SQLite header.",
        "Move it aside and restore the real database: `litefix repair DB --strategy restore`.",
        (QUARANTINE, RESTORE),
        auto=AUTO_RESTORE,
    ),
    Code(
        "not-wal-mode",
        Severity.WARNING,
        "The database is in rollback-journal mode; Litestream silently converts it to WAL at start.",
        "Run `PRAGMA journal_mode=WAL` once (Rails 8 and Litestream both expect WAL).",
        (),
    ),
    Code(
        "database-truncated",
        Severity.ERROR,
        "The file is shorter than the page count in its own header: pages are missing.",
        "Restore from the replica: `litefix repair DB --strategy restore`.",
        (RESTORE, QUARANTINE),
        auto=AUTO_RESTORE,
    ),
    Code(
        "hot-journal",
        Severity.WARNING,
        "A rollback journal holds an interrupted transaction that the next writer will roll back.",
        "Let SQLite roll it back by opening the database once with its owner's app, or restore.",
        (RESTORE, QUARANTINE),
    ),
    Code(
        "sqlite-wal-reset-bug",
        Severity.INFO,
        "The last writer's SQLite (3.7.0–3.51.2, no backport) has the WAL-reset race that can corrupt WAL databases.",
        "Upgrade the app's SQLite to 3.51.3+ (or 3.50.7 / 3.44.6); run `--integrity full` now and then.",
        (),
    ),
    # --- the WAL ------------------------------------------------------------------------
    Code(
        "wal-corrupt",
        Severity.ERROR,
        "The -wal has a bad header (magic, version, page size or checksum): SQLite ignores all of it.",
        "Stop writers, move the database and its -wal aside, and restore: `litefix repair DB --strategy restore`.",
        (QUARANTINE, RESTORE),
        auto=AUTO_RESTORE,
        leftover=True,
    ),
    Code(
        "wal-torn-tail",
        Severity.WARNING,
        "Bytes after the last valid commit in the -wal: an interrupted write that SQLite will discard.",
        "Nothing to do if no commit was lost; SQLite ignores the tail. Check the app's last writes.",
        (),
        auto=NOTHING,
        leftover=True,
    ),
    Code(
        "wal-mismatch",
        Severity.ERROR,
        "The -wal cannot belong to this database file (page size or page 1 disagree): a foreign or stale WAL.",
        "Stop writers; quarantine the -wal with the database, then restore: `litefix repair DB --strategy restore`.",
        (QUARANTINE, RESTORE),
        auto=AUTO_RESTORE,
        leftover=True,
    ),
    # --- the wal-index ------------------------------------------------------------------
    Code(
        "shm-stale",
        Severity.WARNING,
        "The -shm wal-index disagrees with the -wal (salts, frame count) or its two header copies differ.",
        "Harmless once every process has closed the database (SQLite rebuilds it); otherwise a WAL was swapped.",
        (QUARANTINE,),
        auto=NOTHING,
        leftover=True,
    ),
    # --- Litestream's bookkeeping tables ------------------------------------------------------
    Code(
        "litestream-tables-missing",
        Severity.WARNING,
        "_litestream_seq or _litestream_lock is missing: Litestream never initialised this file, or lost it.",
        "Re-initialise through Litestream (restart it): `litefix repair DB --strategy init`.",
        (INIT,),
        auto=AUTO_INIT,
        unattended=True,
    ),
    # --- Litestream: processes, local state, config, binary -----------------------------------
    Code(
        "litestream-replaced",
        Severity.ERROR,
        "A running Litestream holds a deleted file, or another inode than the path now has: the database was "
        "replaced under it (the incident's root cause). Its replica no longer follows the file at the path; "
        "the finding says which copy holds the newest data.",
        "Copy what it holds, stop that Litestream, check the live file, then re-initialise or restore: "
        "`litefix repair DB --strategy auto --stop-litestream`.",
        (INIT, RESTORE),
        auto=LIVE_FILE,
    ),
    Code(
        "database-replaced",
        Severity.ERROR,
        "A non-Litestream process (the app) still writes to a deleted or different file than the one at the path: "
        "its writes will vanish when it exits.",
        "Restart the process so it opens the file at the path; copy its data first if it matters.",
        (),
    ),
    Code(
        "litestream-state-mismatch",
        Severity.WARNING,
        "Litestream's meta dir no longer matches the database or its -wal: the next start clears the generation "
        "(0.3) or takes a full snapshot (0.5).",
        "Let Litestream re-initialise from the current file: `litefix repair DB --strategy init`.",
        (INIT,),
        auto=AUTO_INIT,
        unattended=True,
        leftover=True,
    ),
    Code(
        "litestream-not-running",
        Severity.WARNING,
        "The config lists this database but no running Litestream replicates it: changes are not backed up.",
        "Start `litestream replicate` (before a deploy this is expected; `litefix boot` starts it last).",
        (),
    ),
    Code(
        "litestream-duplicate",
        Severity.ERROR,
        "Two Litestream processes replicate this database, or two databases/configs share one replica path: the "
        "replica silently falls behind or mixes databases.",
        "Stop the extra process (the previous container?) and give every database its own replica path.",
        (INIT,),
        auto=BLOCK,
    ),
    Code(
        "config-db-missing",
        Severity.WARNING,
        "The Litestream config in use does not list this database: it is not replicated.",
        "Add it to `dbs:` in litestream.yml (or pass the right --config).",
        (),
    ),
    Code(
        "litestream-missing",
        Severity.INFO,
        "No litestream binary was found (--litestream, LITEFIX_LITESTREAM, PATH).",
        "Install Litestream, or point LITEFIX_LITESTREAM at it; litefix needs it for restore/init and remote replicas.",
        (),
    ),
    Code(
        "litestream-version-risk",
        Severity.WARNING,
        "The installed Litestream version has a known defect that matters here.",
        "Upgrade Litestream (0.5.9 or later with SQLite 3.51.3+), or follow the workaround in the evidence.",
        (),
    ),
    # --- the replica ----------------------------------------------------------------------
    Code(
        "replica-missing",
        Severity.WARNING,
        "Nothing at the replica. An error when local state shows the database was replicated before "
        "(the backup is gone); a warning on a first deploy.",
        "Start Litestream so it takes a snapshot (`litefix repair DB --strategy init`), and find out where the "
        "old replica went.",
        (INIT,),
        auto=AUTO_INIT,
    ),
    Code(
        "replica-ahead",
        Severity.ERROR,
        "The replica holds transactions the local database never had: a restore was skipped, or an older file "
        "was put in place. Starting Litestream now would bury the newer data.",
        "Restore the replica's newest clean state: `litefix repair DB --strategy restore`.",
        (RESTORE,),
        auto=AUTO_RESTORE,
    ),
    Code(
        "replica-not-restored",
        Severity.ERROR,
        "The database has no Litestream state of its own (no meta dir, no _litestream_* tables) while its "
        "replica holds data: the restore before the app started was skipped or failed, and a migration made a "
        "fresh file. Starting Litestream now makes that empty file the replica's newest state (0.3: a new "
        "generation; 0.5: a snapshot), burying the real data.",
        "Restore before Litestream starts: `litefix repair DB --strategy restore` (the fresh file goes to the "
        "quarantine), then run the migrations again; `litefix boot` does both in that order.",
        (RESTORE,),
        auto=AUTO_RESTORE,
        unattended=True,
    ),
    Code(
        "replica-behind",
        Severity.WARNING,
        "Local changes are not yet on the replica, beyond `--max-lag`.",
        "Check that Litestream runs and can write to the replica (its log; `litefix explain`).",
        (),
    ),
    Code(
        "replica-diverged",
        Severity.ERROR,
        "The replica is another lineage (another database, generation or container wrote it), or its pages "
        "differ from the local database at the same position.",
        "Decide which side is right: re-initialise from the local file (`--strategy init`) or restore "
        "(`--strategy restore`).",
        (INIT, RESTORE),
        auto=ASK,
    ),
    Code(
        "replica-gap",
        Severity.ERROR,
        "The replica's chain is broken (a missing WAL segment or LTX file, or a 0.3 generation without a "
        "snapshot): its latest state cannot be restored.",
        "Make Litestream start a fresh snapshot: `litefix repair DB --strategy init`.",
        (INIT,),
        auto=AUTO_INIT,
    ),
    Code(
        "replica-corrupt",
        Severity.ERROR,
        "The replica's latest state restores to a database that fails its integrity check (measured after a "
        "database was replaced under a running Litestream).",
        "Restore the newest clean position named in the evidence, then re-initialise: "
        "`litefix repair DB --strategy restore`.",
        (RESTORE, INIT),
        auto=AUTO_INIT,
    ),
    Code(
        "replica-stale",
        Severity.WARNING,
        "The newest replica object is older than `--max-age` although the database changed since.",
        "Check that Litestream runs and reaches the replica.",
        (),
    ),
    Code(
        "replica-unreachable",
        Severity.ERROR,
        "The replica could not be read: the storage refused or did not answer (`reason` in the evidence: "
        "no-credentials, access-denied, no-such-bucket, wrong-region, tls, bad-endpoint, connection-refused, "
        "timeout), or the litestream binary failed (its stderr is in the evidence).",
        "Fix what the reason names (credentials, bucket, endpoint, network), then rerun.",
        (),
    ),
    # --- the deployment around the databases (the pre-deploy gate) --------------------------
    Code(
        "database-not-persistent",
        Severity.WARNING,
        "The database is on tmpfs/ramfs, in a container's overlay layer, or under /tmp: it is gone after a "
        "reboot or redeploy, and every boot depends on restoring it from the replica.",
        "Put the databases on a volume that outlives the container, and point litestream.yml at it.",
        (),
    ),
    Code(
        "database-not-replicated",
        Severity.WARNING,
        "The app's config/database.yml (the RAILS_ENV entries) names an SQLite database that the Litestream "
        "config does not list: it is never backed up, and a redeploy starts it empty.",
        "Add it to `dbs:` in litestream.yml (with its own replica path), unless losing it is fine (a cache).",
        (),
    ),
    Code(
        "replica-not-persistent",
        Severity.WARNING,
        "A file replica is on tmpfs/ramfs, in a container's overlay layer, or under /tmp: the backup is gone "
        "with the machine.",
        "Replicate to storage that outlives the machine (object storage, or a mounted volume).",
        (),
    ),
    Code(
        "replica-shared",
        Severity.ERROR,
        "Two databases replicate into one replica location — in this config, in another config Litestream "
        "reads on this machine (LITESTREAM_CONFIG, /etc/litestream.yml), or in the config of a running "
        "Litestream: the replica mixes their files (0.3) or TXIDs (0.5), and a restore can bring back the "
        "other database.",
        "Give every database its own replica path, then re-initialise each: `litefix repair DB --strategy init`.",
        (INIT,),
        auto=BLOCK,
    ),
    Code(
        "litestream-already-running",
        Severity.ERROR,
        "Before boot, a Litestream process already replicates, waits for, or restores into a database of "
        "this config (the previous container, a leftover `replicate`, a background restore). Restoring or "
        "migrating under it replaces the file under a running replicator (the incident), and starting "
        "another one makes two replicators on one replica.",
        "Stop it first (the old container, or `kill PID`), then boot; `litefix boot` starts Litestream only "
        "after restore, migrations and this check.",
        (),
        auto=BLOCK,
    ),
    # --- locks, disk space and the binary's SQLite (the everyday production failures) --------
    Code(
        "checkpoint-blocked",
        Severity.WARNING,
        "A read transaction held for over a second pins an old WAL frame: no checkpoint can copy the frames "
        "after it and the -wal cannot restart, so it grows. Held by the app (a stuck job, an open console), "
        "or by Litestream itself when its syncs fail (it checkpoints only after a sync). An error past 1 GiB.",
        "End that transaction (a stuck job, an open console, a leaked connection: the pid and command are in "
        "the evidence); keep read transactions short. Litestream checkpoints by itself once it is released.",
        (),
    ),
    Code(
        "database-locked",
        Severity.WARNING,
        "A process has held SQLite's write lock (WAL byte 120 of the -shm, or RESERVED/PENDING/EXCLUSIVE "
        "of the database file) for over a second without committing: other writers, Litestream's "
        "checkpoints included, fail with `database is locked` once their busy_timeout runs out.",
        "Commit or end that transaction (the pid and command are in the evidence); give the app a "
        "busy_timeout (Rails: `timeout: 5000`) so short waits do not fail.",
        (),
    ),
    Code(
        "disk-low",
        Severity.WARNING,
        "The filesystem of the database (or of Litestream's meta dir) has less free space than the -wal and "
        "Litestream's local copy of it need. An error when it cannot hold even the -wal's normal size; "
        "info when only a restore or VACUUM (a second copy of the database) would not fit.",
        "Free space or grow the volume now: when it fills, every write fails with "
        "`database or disk is full` and Litestream stops with `no space left on device`.",
        (),
    ),
    Code(
        "meta-dir-growing",
        Severity.WARNING,
        "Litestream's meta dir keeps files that should have reached the replica long ago (0.3 shadow WAL "
        "files, 0.5 L0 LTX files): the replica is unreachable or too slow, and the local copy grows until "
        "the disk is full.",
        "Check Litestream's log for the replica error (`litefix explain`), fix the replica; the files are "
        "removed once they are uploaded. Never delete them by hand while Litestream runs.",
        (),
    ),
    Code(
        "litestream-sqlite-too-old",
        Severity.ERROR,
        "The schema uses SQL that the SQLite inside the installed Litestream cannot parse: Litestream "
        "fails with `malformed database schema (…)` and replicates nothing.",
        "Upgrade Litestream to a release whose SQLite parses the schema (the evidence names the syntax and "
        "the version it needs), or avoid that syntax in the schema.",
        (),
    ),
    # --- litefix's own repairs --------------------------------------------------------------
    Code(
        "repair-unfinished",
        Severity.ERROR,
        "A litefix repair was interrupted (killed, disk full); its journal says which steps ran and its "
        "quarantine holds every moved file.",
        "Finish it with `litefix repair DB --resume`, or undo it with `litefix repair DB --rollback`.",
        (),
        auto=BLOCK,
    ),
    # --- integrity ----------------------------------------------------------------------
    Code(
        "integrity-failed",
        Severity.ERROR,
        "PRAGMA integrity_check (or quick_check) reports damage, or SQLite cannot read the schema.",
        "Restore the newest clean point from the replica: `litefix repair DB --strategy restore`.",
        (RESTORE, QUARANTINE),
        auto=AUTO_RESTORE,
    ),
    # --- `litefix verify`: the end-to-end round trip ------------------------------------------
    Code(
        "verify-not-replicated",
        Severity.ERROR,
        "verify refused: no Litestream replicates this database (the config does not list it or gives it "
        "no replica, or no running Litestream holds it), so a write could never reach a replica.",
        "Start `litestream replicate` with a config that lists this database (or run it through "
        "`litefix boot`), then verify again.",
        (),
    ),
    Code(
        "verify-refused",
        Severity.ERROR,
        "verify refused to write: `diagnose` finds an error on this database (named in the evidence); a "
        "round trip through a replica that is already wrong proves nothing.",
        "Run `litefix diagnose DB` and fix what it names (usually `litefix repair DB`), then verify again.",
        (),
    ),
    Code(
        "verify-write-failed",
        Severity.ERROR,
        "verify could not write its sentinel row within the busy timeout (another writer held the lock) or "
        "SQLite refused the write.",
        "Retry when the database is less busy, or raise `--busy-timeout`; the evidence has SQLite's error.",
        (),
    ),
    Code(
        "verify-not-syncing",
        Severity.ERROR,
        "The sentinel row did not reach the replica within `--timeout`: the running Litestream did not take "
        "the write (its local position did not move) or did not upload it.",
        "Read Litestream's log (`litefix explain`), restart `litestream replicate`, then verify again.",
        (),
    ),
    Code(
        "verify-replica-unreachable",
        Severity.ERROR,
        "verify could not read the replica (storage, credentials or network failed), before or while waiting "
        "for the sentinel row.",
        "Fix the replica's storage, credentials or endpoint (the evidence has the error), then verify again.",
        (),
    ),
    Code(
        "verify-unreadable",
        Severity.ERROR,
        "The replica caught up with the write, but the sentinel row cannot be read from its pages (a broken "
        "page, a b-tree that does not hold it): the replica does not restore what was written.",
        "Restore-test it: `litefix diagnose DB --verify-restore`, then re-initialise the replica "
        "(`litefix repair DB --strategy init`).",
        (INIT,),
    ),
)


def get(code: str) -> Code:
    return CODES[code]
