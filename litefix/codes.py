"""Every finding code litefix can emit: its usual severity, what it means, how to fix it.

This table is the single source of truth: inspectors build findings from it, the
README's finding-code table is checked against it, and repair strategies read
`strategies` from it. Codes are stable; never rename one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from litefix.model import JSON, Finding, Severity, Strategy

RESTORE, INIT, QUARANTINE = Strategy.RESTORE, Strategy.INIT, Strategy.QUARANTINE


@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    meaning: str
    fix: str
    strategies: tuple[Strategy, ...] = ()

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
    ),
    Code(
        "database-empty",
        Severity.WARNING,
        "The database file has 0 bytes; SQLite will treat it as a new, empty database.",
        "If data was expected, move it aside and restore: `litefix repair DB --strategy restore`.",
        (RESTORE, QUARANTINE),
    ),
    Code(
        "not-a-database",
        Severity.ERROR,
        "The path is a directory, or its first bytes are not an SQLite header.",
        "Move it aside and restore the real database: `litefix repair DB --strategy restore`.",
        (QUARANTINE, RESTORE),
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
    ),
    Code(
        "wal-torn-tail",
        Severity.WARNING,
        "Bytes after the last valid commit in the -wal: an interrupted write that SQLite will discard.",
        "Nothing to do if no commit was lost; SQLite ignores the tail. Check the app's last writes.",
        (),
    ),
    Code(
        "wal-mismatch",
        Severity.ERROR,
        "The -wal cannot belong to this database file (page size or page 1 disagree): a foreign or stale WAL.",
        "Stop writers; quarantine the -wal with the database, then restore: `litefix repair DB --strategy restore`.",
        (QUARANTINE, RESTORE),
    ),
    # --- the wal-index ------------------------------------------------------------------
    Code(
        "shm-stale",
        Severity.WARNING,
        "The -shm wal-index disagrees with the -wal (salts, frame count) or its two header copies differ.",
        "Harmless once every process has closed the database (SQLite rebuilds it); otherwise a WAL was swapped.",
        (QUARANTINE,),
    ),
    # --- Litestream's bookkeeping tables ------------------------------------------------------
    Code(
        "litestream-tables-missing",
        Severity.WARNING,
        "_litestream_seq or _litestream_lock is missing: Litestream never initialised this file, or lost it.",
        "Re-initialise through Litestream (restart it): `litefix repair DB --strategy init`.",
        (INIT,),
    ),
    # --- integrity ----------------------------------------------------------------------
    Code(
        "integrity-failed",
        Severity.ERROR,
        "PRAGMA integrity_check (or quick_check) reports damage, or SQLite cannot read the schema.",
        "Restore the newest clean point from the replica: `litefix repair DB --strategy restore`.",
        (RESTORE, QUARANTINE),
    ),
)


def get(code: str) -> Code:
    return CODES[code]
