"""The curated signatures: Litestream log lines measured with the real binaries, what they mean and what to do.

Each signature was reproduced with the real 0.3.13 or 0.5.17 binary (tests/logs/ holds the
captures, named in `captured`) or is backed by the upstream issue or commit that explains it
(`upstream`). `applies` limits a signature's cause to the releases where it holds: the same
words can come from a bug in 0.3.2 and from a replaced file in 0.3.13, and a version the log
rules out must never get the other release's cause. Data, not logic: the table is long on
purpose (see environment.py for the cloud and system errors at the end of a wrapped chain).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from litefix.model import JSON, Severity

V03, V05 = "0.3.13", "0.5.17"
DIAGNOSE = "litefix diagnose DB"


@dataclass(frozen=True)
class Signature:
    """A known log line: how to recognise it and what to tell the person who pasted it.

    `pattern` is searched in `LogRecord.text`; a named group `db` supplies the database when the
    line has no `db=` field. `levels`, when set, restricts the match to lines at those levels.
    `versions` lists the Litestream versions that emit it; "(reported)" marks one we know from
    the notes or the binary's strings but did not reproduce. `captured` names the files in
    tests/logs/ that show it (the tests check each one). `applies` is the release range its cause
    holds for (catalogue spec, e.g. "0.3.5..0.3.14"; empty: every release); `fixed_in` names the
    release that fixed the bug behind the line and `upstream` the issue or commit that says so.
    """

    id: str
    pattern: str
    severity: Severity
    title: str
    meaning: str
    versions: tuple[str, ...]
    cause: str = ""
    fix: str = ""
    codes: tuple[str, ...] = ()
    command: str = ""
    levels: frozenset[str] = frozenset()
    captured: tuple[str, ...] = ()
    applies: str = ""
    fixed_in: str = ""
    upstream: str = ""
    hints: tuple[tuple[str, str], ...] = ()  # (words of a catalogued message in the chain, detail to show)
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    def match(self, level: str | None, text: str) -> re.Match[str] | None:
        """`text` is a record's `LogRecord.text`, computed once by the caller for every signature."""
        if self.levels and (level or "") not in self.levels:
            return None
        return self.regex.search(text)

    def to_json(self) -> dict[str, JSON]:
        return {
            "id": self.id,
            "severity": self.severity.value,
            "title": self.title,
            "meaning": self.meaning,
            "versions": list(self.versions),
            "cause": self.cause,
            "fix": self.fix,
            "codes": list(self.codes),
            "command": self.command,
            "applies": self.applies,
            "fixed_in": self.fixed_in,
            "upstream": self.upstream,
        }


_REPLACED_STEPS = (
    "Check the live database first (`litefix diagnose DB --integrity full`). If it is sound, restarting "
    "Litestream is enough: 0.3 starts a new generation, 0.5 takes a full snapshot, and the replica's latest "
    "state equals live again (verified). If it is not, restore a point in time from before the event to a "
    "temporary path (0.3: pick the generation with `litestream generations`, then `restore -generation <id> "
    "-o tmp`; 0.5: `restore -timestamp <before> -o tmp -integrity-check full`), stop the app, delete db, -wal "
    "and -shm, move tmp into place, remove the meta dir and start Litestream. From then on, stop Litestream "
    "before anything removes, renames or restores the database file (Rails db:drop/db:purge/db:reset included)."
)
_REPLACED_FIX = "Stop Litestream, put the right file in place (or restore it), restart it. " + _REPLACED_STEPS
_REPLACED_STEPS_INLINE = "c" + _REPLACED_STEPS[1:]  # the same steps, continuing a sentence
_SILENT_REPLICA = (
    "Whatever the log says next, the replica now restores without complaint to a mix of the old and the new "
    "file (its snapshot reads pages through a descriptor on the old, deleted inode)."
)

SIGNATURES: tuple[Signature, ...] = (
    Signature(
        pattern=r"release read lock: context canceled",
        id="shutdown-during-checkpoint",
        severity=Severity.INFO,
        title="Litestream was stopped while a checkpoint was running",
        meaning=(
            "At shutdown 0.3 cancels its context; a checkpoint that was re-acquiring its read lock at that moment "
            "fails with `context canceled`, which is then logged as `error closing db` and `failed to run`, and "
            "the process exits 1 after an ordinary SIGINT/SIGTERM."
        ),
        versions=(V03,),
        cause="A normal stop (deploy, restart) while a checkpoint was due: 0.3's `Close` runs that checkpoint "
        "itself (the WAL holds more than one frame and the file is older than checkpoint-interval), and its "
        "read-lock re-acquire sees the cancelled context.",
        fix="Nothing for this line. Read the errors logged before the shutdown; an exit code of 1 here is not "
        "by itself a failure.",
        captured=("v03-two-replicators.log",),
    ),
    Signature(
        pattern=r"release read lock: no such table: _litestream_seq",
        id="release-read-lock-seq-missing",
        severity=Severity.ERROR,
        title="_litestream_seq vanished under a running Litestream (the production error)",
        meaning=(
            "The database file was replaced or recreated under a running Litestream, or its tables were dropped "
            "in place. 'release read lock' is a misnomer: the PASSIVE checkpoint succeeded, and what fails is "
            "re-acquiring the read lock after it (`BEGIN; SELECT COUNT(1) FROM _litestream_seq`), because one of "
            "Litestream's pooled connections now sees a schema without its table. Litestream creates that table "
            "only at start and never re-creates it while running, so it fails on every checkpoint and holds no "
            "read lock until it is restarted. 0.5.17 logs the same condition as `checkpoint: reacquire read "
            "lock: … no such table: _litestream_seq`."
        ),
        versions=(V03,),
        cause=(
            "Reproduced two ways with 0.3.13: (1) the file was replaced while replicate ran (`mv new.db db`, or "
            "rm + a complete new file) and the old -wal/-shm stayed at the path, so the new file and the old one "
            "share one WAL and the app's writes are lost (60 inserted, 0 left in one run); (2) the table was "
            "dropped in place (`DROP TABLE _litestream_seq`, or a schema load that drops every table), which "
            "keeps the replica consistent. A database that a migration created *before* Litestream started is "
            "not the cause: Litestream initialises such a file (`sync: new generation … no generation exists`)."
        ),
        fix=(
            "Stop Litestream, put the right file in place (or restore it), restart it. If only the table was "
            "dropped in place, the restart alone fixes it (verified: init re-creates the table and the replica "
            "equals live). If the file was replaced, " + _REPLACED_STEPS_INLINE
        ),
        codes=("litestream-replaced", "litestream-tables-missing"),
        command=DIAGNOSE,
        captured=("v03-rename-over.log", "v03-seq-dropped.log"),
    ),
    Signature(
        pattern=r"reacquire read lock: .*no such table: _litestream_seq",
        id="reacquire-read-lock-seq-missing",
        severity=Severity.ERROR,
        title="_litestream_seq vanished under a running Litestream (0.5 form of the production error)",
        meaning=(
            "After a checkpoint, Litestream 0.5 re-acquires its read lock by reading _litestream_seq and the "
            "table is gone; it never re-creates it while running. 0.5 prints this line at most once per 30 s "
            "and logs `sync recovered` in between, so one line can stand for a failure on every checkpoint "
            "(one line and four recoveries in four seconds, measured)."
        ),
        versions=(V05,),
        cause=(
            "The table was dropped in place: `DROP TABLE _litestream_seq`, or a schema load that drops every "
            "table (0.5 reports that one as the `_litestream_lock` error). Replacing the file under 0.5 shows up "
            "as `cannot verify wal state` or the `_litestream_lock` error instead."
        ),
        fix=(
            "Stop Litestream, put the right file in place, restart it. If the table was dropped in place, a "
            "restart is all it takes (verified: the replica kept up). If the file was also replaced, "
            + _REPLACED_STEPS_INLINE
        ),
        codes=("litestream-tables-missing", "litestream-replaced"),
        command=DIAGNOSE,
        captured=("v05-seq-dropped.log",),
    ),
    Signature(
        pattern=r"_litestream_lock: (?:SQL logic error: )?no such table: _litestream_lock",
        id="lock-table-missing",
        severity=Severity.ERROR,
        title="_litestream_lock vanished under a running Litestream",
        meaning=(
            "At a checkpoint that restarts the WAL, Litestream writes to _litestream_lock to hold off other "
            "writers, and the table is missing from what its connection sees. It is created only at start."
        ),
        versions=(V03, V05),
        cause=(
            "The table was dropped in place (`DROP TABLE _litestream_lock`; in 0.5 also a schema load that drops "
            "every table), or, in 0.5.17, the file was renamed over a running Litestream after a checkpoint: in "
            "that run the live database itself came out corrupt (`database disk image is malformed` on the new "
            "table) and the replica mirrored it."
        ),
        fix=(
            "Stop Litestream. If only the table was dropped, restart it (verified for both versions). If the file "
            "was replaced, a restart does not help when the live file is corrupt: restore a point in time from "
            "before the event (0.5: `restore -timestamp <before> -o tmp -integrity-check full`), stop the app, "
            "delete db, -wal and -shm, move tmp into place, remove the meta dir and start Litestream."
        ),
        codes=("litestream-tables-missing", "litestream-replaced"),
        command=DIAGNOSE,
        captured=("v03-lock-dropped.log", "v05-lock-dropped.log", "v05-rename-over-after-checkpoint.log"),
    ),
    Signature(
        pattern=r"ensure wal exists: .*no such table: _litestream_seq",
        id="ensure-wal-seq-missing",
        severity=Severity.ERROR,
        title="Litestream cannot touch _litestream_seq before a sync: the file was replaced",
        meaning=(
            "Before each sync 0.3 writes to _litestream_seq so that a WAL exists, and its connection sees a "
            "schema without the table. In the runs that produced it, page 1 of the *new* file was read out of a "
            "-wal shared by the old and the new database file."
        ),
        versions=(V03,),
        cause=(
            "The database file was replaced under a running Litestream while the old -wal/-shm stayed (`mv` over "
            "it, or rm + a new file): two database files share one WAL, the app loses writes and the replica is "
            "corrupt. It comes with `release read lock: no such table` and many `sync: new generation … wal "
            "overwritten by another process` lines."
        ),
        fix=_REPLACED_FIX,
        codes=("litestream-replaced",),
        command=DIAGNOSE,
        captured=("v03-rename-over.log",),
    ),
    Signature(
        pattern=r"no such table: _litestream_seq",
        id="seq-table-missing",
        severity=Severity.ERROR,
        title="Litestream's connections see a database without _litestream_seq",
        meaning=(
            "A replica upload (`monitor error`), a snapshot (`snapshotter error`) or a checkpoint needed "
            "_litestream_seq and one of Litestream's pooled connections sees a schema without it. The `monitor "
            "error` form was reproduced; the `snapshotter error` and bare `checkpoint: … err=no such table` forms "
            "are reported by the notes (a purge under load)."
        ),
        versions=(V03,),
        cause=(
            "The file was replaced or recreated under a running Litestream; the notes saw these lines when the "
            "Go connection pool grew onto the new file during a purge (Rails db:drop + create) under load, and "
            "with a rename over the database."
        ),
        fix=_REPLACED_FIX,
        codes=("litestream-replaced", "litestream-tables-missing"),
        command=DIAGNOSE,
        captured=("v03-rename-over.log",),
    ),
    Signature(
        pattern=r"initialize shadow wal: read header: EOF",
        id="shadow-wal-empty",
        severity=Severity.ERROR,
        title="Litestream cannot start a generation: the -wal at the path stays empty",
        meaning=(
            "0.3 found a -wal shorter than its 32-byte header, treated it as missing and tried to write one "
            "through its own connection; the -wal at the path is still empty because that connection is on "
            "another (deleted) inode. Nothing is replicated while this repeats."
        ),
        versions=(V03,),
        cause=(
            "The database was recreated under a running Litestream and a process holds the new file open with an "
            "empty -wal (reproduced: Rails-style purge, then an app connection on the new file). The notes also "
            "saw it when the connection pool grew during a purge under load."
        ),
        fix=_REPLACED_FIX,
        codes=("litestream-replaced",),
        command=DIAGNOSE,
        captured=("v03-purge-app-holds-empty-wal.log",),
    ),
    Signature(
        pattern=r"^(?:error closing db|failed to run) client write: stat \S+\.wal\.lz4\.tmp: no such file",
        id="shutdown-upload-race",
        severity=Severity.INFO,
        title="Litestream 0.3's final upload raced its own replica goroutine at shutdown",
        meaning=(
            "Measured from a single 0.3.13 process: at shutdown the final replica sync and the replica's own "
            "goroutine both handle the same `.wal.lz4.tmp`, and one finds it gone. Logged as `error closing db` / "
            "`failed to run`, exit 1. On its own it is not a second replicator."
        ),
        versions=(V03 + " (reported)",),
        cause="A normal stop right after a write.",
        fix="Nothing for this line; if the same error appears while Litestream runs (not at shutdown), two "
        "processes replicate one database: see `litefix diagnose DB`.",
    ),
    Signature(
        pattern=r"client write: stat \S+\.tmp: no such file"
        r"|cannot copy to shadow wal: remove \S+\.tmp: no such file"
        r"|(?:rename|write) ltx file: rename ",
        id="duplicate-replicator",
        severity=Severity.ERROR,
        title="Two Litestream processes replicate the same database",
        meaning=(
            "Each process renames or removes the other's temporary files: 0.3 logs `client write: stat ….tmp` "
            "(replica upload) or `cannot copy to shadow wal: remove ….tmp` (meta dir), 0.5 logs `sync: rename ltx "
            "file: rename ….ltx.tmp …`. With 0.3 the replica silently falls behind live (30 of 80 rows in one "
            "run of the notes), and a run can show no error at all; 0.5's restores equalled live in the runs."
        ),
        versions=(V03, V05),
        cause="A deploy overlap (the old container still running), or Litestream started twice (systemd and a "
        "container, two `-exec` wrappers) for one database and replica.",
        fix="Stop the duplicate process (`litefix diagnose DB` lists the processes holding the database), then "
        "restart the remaining one; 0.3 then starts a new generation with a full snapshot.",
        codes=("litestream-duplicate",),
        command=DIAGNOSE,
        captured=("v03-two-replicators.log", "v05-two-replicators.log"),
    ),
    Signature(
        pattern=r"cannot verify wal state: (?:open wal file: )?stat (?P<db>\S+?)(?:-wal)?: no such file or directory"
        r"|extract timestamp from LTX header: open \S+-wal: no such file or directory"
        r"|checkpoint: (?:\S.*)?open \S+-wal: no such file or directory",
        id="wal-vanished",
        applies="0.3.3..0.3.14 0.5.0-beta1..",
        severity=Severity.ERROR,
        title="The database or its -wal disappeared under a running Litestream",
        meaning=(
            "Litestream keeps a read transaction open, so SQLite cannot delete the -wal of a database it "
            "replicates; when the -wal (or the file) is gone, the file at the path is no longer the one "
            "Litestream has open. " + _SILENT_REPLICA + " 0.3 repeats the line on every tick while the new file "
            "has no -wal and then starts a new generation; 0.5.17 logs one line, then `sync recovered`, and "
            "then nothing. When the -wal goes while 0.5 is inside a checkpoint, the line is `checkpoint: open …-wal: "
            "no such file or directory` or `checkpoint: cannot copy wal after passive checkpoint: … open wal file: "
            "open …-wal: no such file or directory` instead (both seen in the test suite under load)."
        ),
        versions=(V03, V05),
        cause=(
            "The database was deleted and recreated while replicate ran: Rails db:drop/db:purge/db:reset "
            "(rm db, then rm -f -shm -wal), a rename over it after which the app's last connection checkpointed "
            "and deleted the shared -wal (both reproduced), or a restore into the path (from the notes)."
        ),
        fix=_REPLACED_FIX,
        codes=("litestream-replaced", "replica-corrupt"),
        command=DIAGNOSE,
        captured=(
            "v03-purge.log",
            "v05-purge.log",
            "v03-rename-over-after-checkpoint.log",
            "v05-rename-over.log",
            "v03-malformed.log",
        ),
    ),
    Signature(
        pattern=r"missing initial wal segment",
        id="missing-initial-wal-segment",
        severity=Severity.ERROR,
        title="The replica lost a WAL segment: restore cannot replay past it",
        meaning=(
            "0.3 restore found WAL segments for a shadow index but not the one at offset 0, so the replica has a "
            "hole and it will not build a database across it (`cannot find max wal index for restore`)."
        ),
        versions=(V03,),
        cause=(
            "Files deleted from the replica: a bucket lifecycle rule, manual cleanup, a partial copy. Reproduced "
            "by deleting the first segment of a middle index; losing the newest index's first segment gave no "
            "error at all."
        ),
        fix=(
            "Restore a point before the hole (`litestream restore -index <below the missing one> -o tmp`, or an "
            "older generation from `litestream generations`), check it, and start Litestream with a fresh meta "
            "dir so it writes a new generation with a full snapshot."
        ),
        codes=("replica-gap",),
        command=DIAGNOSE,
        captured=("v03-restore-missing-segment.txt",),
    ),
    Signature(
        pattern=r"non-contiguous (?:ltx files|transaction ids|transaction files)",
        id="non-contiguous-ltx",
        severity=Severity.ERROR,
        title="The replica's LTX files have a gap in their TXID sequence",
        meaning=(
            "0.5 restore found that the LTX files do not chain (`have up to X but next file starts at Y`) and "
            "refuses to build a database across the gap. Compaction has a sibling message, `non-contiguous "
            "transaction ids in input files` (in the 0.5.17 binary; not reproduced)."
        ),
        versions=(V05,),
        cause="Ranked: (1) an LTX file missing from the replica (lifecycle rule, manual cleanup, partial copy; "
        "reproduced by deleting one level-0 file with 0.5.17); (2) with 0.5.0–0.5.7 (`non-contiguous transaction "
        "files: prev=… filename=…`), the restore planner looking only at level-0 files after L0 retention had "
        "deleted them although L1/L9 held the data (issue #1084); 0.5.10 rewrote the planner and words the error "
        "`non-contiguous ltx files: have up to … but next file starts at …`.",
        fix=(
            "Restore to a point before the gap (`restore -txid <16 hex digits>` or `-timestamp`), with "
            "`-integrity-check full`. Then restart Litestream so it writes a fresh level-9 snapshot, and check "
            "a new restore with `-integrity-check full`."
        ),
        codes=("replica-gap",),
        command=DIAGNOSE,
        captured=("v05-restore-ltx-gap.txt",),
    ),
    Signature(
        pattern=r"no snapshots available",
        id="no-snapshots-available",
        severity=Severity.ERROR,
        title="The replica has WAL segments but no snapshot to start from",
        meaning=(
            "0.3 restore picked a generation with no snapshot, so there is nothing to apply its WAL to. 0.5.17 "
            "says `no matching backup files available` in the same situation."
        ),
        versions=(V03,),
        cause=(
            "The replica directory (or bucket prefix) was deleted while replicate ran. Litestream logs no error "
            "for that and keeps writing WAL segments into a generation without a snapshot (reproduced: the "
            "replicate log stayed clean)."
        ),
        fix=(
            "A plain restart is not enough for 0.3 (verified): stop Litestream, `rm -rf` its meta dir "
            "(`.<db>-litestream` next to the database), start it; it begins a new generation with a snapshot. "
            "0.5: a restart is enough (it snapshots at start)."
        ),
        codes=("replica-gap",),
        command=DIAGNOSE,
        captured=("v03-restore-replica-gone.txt",),
    ),
    Signature(
        pattern=r"database disk image is malformed",
        id="database-malformed",
        severity=Severity.ERROR,
        title="SQLite found a damaged page: database disk image is malformed",
        meaning=(
            "A b-tree page does not parse. In a Litestream setup the usual source is a replica written while the "
            "database was replaced under a running Litestream: it restores without complaint to a mix of the old "
            "and the new file, and queries or the restore itself then fail."
        ),
        versions=(V03, V05, "any SQLite reader"),
        cause=(
            "Reproduced with 0.3.13: purge + reseed under a running Litestream, then `restore` failed with `cannot "
            "apply wal: database disk image is malformed`. With 0.5.17 a rename over the database left the live "
            "file itself malformed. The notes saw restores exit 0 and the app fail at its first query."
        ),
        fix=(
            "Do not keep replicating the damaged state. Run `litefix diagnose DB --integrity full` on the live "
            "file; restore a point in time from before the event to a temporary path (0.3: `restore -generation "
            "<old>`; 0.5: `restore -timestamp <before> -integrity-check full`), check it, stop the app, delete db, "
            "-wal and -shm, move it into place, remove the meta dir and start Litestream."
        ),
        codes=("integrity-failed", "replica-corrupt"),
        command="litefix diagnose DB --integrity full",
        captured=("v03-malformed-restore.txt",),
    ),
    Signature(
        pattern=r"database is locked",
        id="database-locked",
        severity=Severity.WARNING,
        title="Litestream's checkpoint could not get its lock",
        meaning=(
            "Another connection held the lock a checkpoint needs. 0.3 logs it as `checkpoint: mode=PASSIVE "
            "err=database is locked` and retries at the next interval."
        ),
        versions=(V03, V05 + " (reported)"),
        cause=(
            "Reproduced with 0.3.13 by an app that runs its own `PRAGMA wal_checkpoint(TRUNCATE)` after every "
            "write: every Litestream checkpoint failed, yet the replica stayed equal to live. A long write "
            "transaction does the same. The app side of the same fight: while Litestream runs, the app's `PRAGMA "
            "journal_mode=DELETE` fails with `database is locked`."
        ),
        fix="Let Litestream own checkpoints: no `wal_checkpoint(TRUNCATE|RESTART)` in the app while it runs, and a "
        "busy_timeout in the app. If it persists, find the long write transaction: `litefix diagnose DB` names the "
        "pid that holds the write lock (database-locked) or pins the WAL (checkpoint-blocked).",
        codes=("database-locked", "checkpoint-blocked"),
        command="litefix diagnose DB",
        captured=("v03-app-truncate.log",),
    ),
    Signature(
        pattern=r"cannot load aws config: unable to add custom RootCAs|AWS_CA_BUNDLE",
        id="aws-ca-bundle",
        severity=Severity.ERROR,
        title="Litestream 0.5.17 cannot start its S3 client because AWS_CA_BUNDLE is set",
        meaning=(
            "The AWS SDK cannot add the bundle to the HTTP client Litestream gives it, so replicate exits at start "
            "(`cannot open store: initialize replica client …`) and restore fails (`get v0.3.x time bounds: …`). "
            "Nothing is replicated."
        ),
        versions=(V05,),
        cause="`AWS_CA_BUNDLE` in Litestream's environment (common on corporate hosts and CI images). 0.3.13 is "
        "not affected.",
        fix="Unset it for the Litestream process only, e.g. `env -u AWS_CA_BUNDLE litestream replicate …` "
        "(verified). If the endpoint really needs that CA, it has to come from the system trust store instead "
        "(not tested).",
        captured=("v05-aws-ca-bundle.log", "v05-restore-aws-ca-bundle.txt"),
    ),
    Signature(
        pattern=r"cannot restore, output path already exists(?: and is not empty)?: (?P<db>.+?)"
        r"(?:\. Use -force to overwrite)?$",
        id="restore-output-exists",
        severity=Severity.ERROR,
        title="restore refused to overwrite an existing database file",
        meaning=(
            "`litestream restore` will not write over a file that exists (0.5.17: a non-empty one) and exits 1. "
            "0.3.13 looks for backups first: with no replica it says `no matching backups found` instead."
        ),
        versions=(V03, V05),
        cause="An entrypoint that runs `litestream restore DB` on every boot, after the first boot (a persistent "
        "volume) or after a migration created the file.",
        fix=(
            "Use `restore -if-db-not-exists` in entrypoints (exit 0 when the file exists). To really replace the "
            "file: stop Litestream and the app, move db, -wal and -shm aside, then restore (0.5 `-force` removes "
            "them, but only use it with Litestream stopped). Never restore into the path while replicate runs."
        ),
        command=DIAGNOSE,
        captured=("v03-restore-exists.txt", "v05-restore-exists.txt"),
    ),
    Signature(
        pattern=r"database not found in config: (?P<db>\S+)",
        id="database-not-in-config",
        severity=Severity.ERROR,
        title="The database path is not in Litestream's config",
        meaning="Commands that take a database path look it up in the config's `dbs` list and found no entry.",
        versions=(V03, V05),
        cause="A path spelled differently from the config (relative vs absolute, another directory), or the wrong "
        "`-config` file.",
        fix="Pass the path exactly as the config lists it (`litestream databases` shows them), or the right "
        "`-config`; a replica URL (`file:///…`, `s3://…`) works without a config.",
        captured=("v03-restore-not-in-config.txt", "v05-restore-not-in-config.txt"),
    ),
    Signature(
        pattern=r"no matching backups found|no matching backup files available",
        id="no-backups-skipped",
        severity=Severity.INFO,
        levels=frozenset({"INFO"}),
        title="restore -if-replica-exists found no replica and did nothing",
        meaning="Nothing was restored and the command exited 0: the expected result of a first deploy.",
        versions=(V03, V05),
        cause="No replica yet for this database.",
        fix="Nothing, if this is the first deploy: the app creates the database and Litestream initialises it at "
        "start. Otherwise check the replica path, bucket and credentials.",
        captured=("v03-restore-if-replica-exists.txt", "v05-restore-if-replica-exists.txt"),
    ),
    Signature(
        pattern=r"no matching backups found|no matching backup files available",
        id="no-backups",
        severity=Severity.ERROR,
        title="restore found nothing to restore",
        meaning=(
            "No backup matches the database (or the requested point in time), and restore exits 1. 0.3.13 says "
            "`no matching backups found`, 0.5.17 `no matching backup files available`, which is also what 0.5 "
            "says when the replica directory was deleted."
        ),
        versions=(V03, V05),
        cause=(
            "No replica yet (first deploy), a wrong replica path, bucket or credentials, a `-timestamp` before the "
            "first backup or (0.3) in the gap between two generations, or (0.5) a deleted replica directory."
        ),
        fix=(
            "On a first boot use `restore -if-replica-exists` (exit 0 without a replica). Otherwise list what "
            "exists (0.3: `litestream generations DB`; 0.5: `litestream ltx -level all DB`) and pick a time inside "
            "it. After a deleted replica, 0.5 needs only a restart to write a new snapshot."
        ),
        command=DIAGNOSE,
        captured=(
            "v03-restore-no-backups.txt",
            "v05-restore-no-backups.txt",
            "v05-restore-replica-gone.txt",
        ),
    ),
    Signature(
        pattern=r"database already exists, skipping",
        id="restore-skipped",
        severity=Severity.INFO,
        title="restore -if-db-not-exists kept the existing database file",
        meaning="The file at the path exists, so nothing was restored (exit 0).",
        versions=(V03, V05),
        cause="Every boot after the first, with a persistent volume.",
        fix="Nothing, as long as that file is the one Litestream replicated. A file a migration created after a "
        "failed restore is not: check it before trusting it.",
        captured=("v03-restore-if-db-not-exists.txt", "v05-restore-if-db-not-exists.txt"),
    ),
    Signature(
        pattern=r"(?:^failed to run |^)exit status (?P<status>\d+)\s*$",
        id="exec-exit-status",
        severity=Severity.ERROR,
        title="The process started by `replicate -exec` failed",
        meaning=(
            "The child exited with that status and Litestream shut down. Litestream itself exits 1 whatever the "
            'child\'s code was (0.3.13 logs `failed to run error="exit status N"`, 0.5.17 prints `Error: exit '
            "status N`), so a supervisor sees 1, not N."
        ),
        versions=(V03, V05),
        cause="The app under `-exec` crashed or was stopped; its own log says why.",
        fix="Read the app's log. If the supervisor needs the app's exit code, run the app under your own wrapper "
        "instead of relying on Litestream's.",
        captured=("v03-exec-exit.log", "v05-exec-exit.log"),
    ),
    Signature(
        pattern=r"clearing generation",
        id="generation-cleared-at-start",
        severity=Severity.WARNING,
        title="At start, the WAL did not continue what Litestream had replicated",
        meaning=(
            "0.3 compared the -wal with the shadow WAL in its meta dir (`wal header mismatch …` or `primary wal "
            "header: EOF`), dropped that generation and starts a new one with a full snapshot. The old generation "
            "stays in the replica for point-in-time restores."
        ),
        versions=(V03,),
        cause=(
            "The WAL changed while Litestream was not running: it was killed (-9) while the app kept writing, the "
            "journal mode went to DELETE and back, or a restore or another database's -wal was put at the path "
            "(reproduced: the first two)."
        ),
        fix="Usually nothing: this is the recovery working, and the verified repair for a replaced file ends with "
        "exactly this line. If a restore put a stale or foreign -wal next to the database, check the live data.",
        command=DIAGNOSE,
        captured=("v03-restart-after-kill.log", "v03-restart-after-journal-delete.log"),
    ),
    Signature(
        pattern=r"^sync: new generation .*by another process",
        id="generation-reset-by-other-process",
        severity=Severity.WARNING,
        title="Something else rewrote the WAL: Litestream started a new generation",
        meaning=(
            "0.3 found the WAL overwritten or truncated behind its back and starts a new generation with a full "
            "snapshot; restores use the latest generation. Many of these in a row are a symptom, not a recovery."
        ),
        versions=(V03,),
        cause=(
            "The database replaced under a running Litestream (dozens in a row after a rename over it; one after "
            "a purge, with `cannot verify wal state`), or a second replicate process on the same database."
        ),
        fix="Look at the errors around it. If it repeats, treat it as a replaced file. " + _REPLACED_FIX,
        codes=("litestream-replaced", "litestream-duplicate"),
        command=DIAGNOSE,
        captured=("v03-rename-over.log", "v03-purge.log", "v03-malformed.log"),
    ),
    Signature(
        pattern=r"^sync: new generation .*no generation exists",
        id="generation-started",
        severity=Severity.INFO,
        title="Litestream initialised the database and started replicating it",
        meaning=(
            "First sync of a database without a generation: 0.3 created _litestream_seq and _litestream_lock in "
            "it and wrote a full snapshot. This is also the answer to the incident's open question: a file that a "
            "migration created before replicate started is initialised like any other."
        ),
        versions=(V03,),
        cause="The first start for this database, or the first start after its generation was cleared or its "
        "meta dir removed.",
        fix="Nothing: this is how replication starts.",
        captured=("v03-init.log",),
    ),
    Signature(
        pattern=r"detected database behind replica|fetched latest L0 file from replica",
        id="database-behind-replica",
        severity=Severity.INFO,
        title="Litestream 0.5 continues the replica's TXID sequence after a restore",
        meaning=(
            "With no local LTX files, the database's TXID (0) is behind the replica's, so 0.5 fetches the "
            "replica's latest level-0 file and continues from its TXID."
        ),
        versions=(V05,),
        cause="The first start after a restore onto a fresh machine, or after `litestream reset`.",
        fix="Nothing, if the file at the path is the restored one. If an older or foreign copy is there instead, "
        "the replica now continues from the wrong history: check it.",
        captured=("v05-restore-then-replicate.log",),
    ),
    Signature(
        pattern=r"^sync recovered",
        id="sync-recovered",
        severity=Severity.INFO,
        title="A 0.5 sync succeeded after failing (the cause may still be there)",
        meaning=(
            "It does NOT mean the cause is gone. 0.5.17 prints a `sync error` line at most once per 30 s but logs "
            "every recovery, so several recoveries after one error line mean the fault recurred (a dropped "
            "_litestream_seq fails every checkpoint). After a replaced file the sync recovers while the replica "
            "stays corrupt."
        ),
        versions=(V05,),
        cause="Whatever the `sync error` line before it says.",
        fix="Explain the error line before it; count how many recoveries follow it.",
        captured=("v05-seq-dropped.log", "v05-purge.log", "v05-two-replicators.log"),
    ),
)


_ROUTINE_MESSAGES = (
    "litestream",
    "initialized db",
    "replicating to",
    "write snapshot",
    "snapshot written",
    "write wal segment",
    "wal segment written",
    "snapshot complete",
    "compaction complete",
    "starting compaction monitor",
    "starting L0 retention monitor",
    "signal received, litestream shutting down",
    "subprocess exited, litestream shutting down",
    "litestream shut down",
    "restoring snapshot",
    "restoring wal files",
    "downloaded wal",
    "applied wal",
    "renaming database from temporary location",
    "post-restore integrity check passed",
)

ROUTINE = Signature(
    pattern="^(?:" + "|".join(re.escape(m) for m in _ROUTINE_MESSAGES) + ")$",
    id="routine",
    severity=Severity.INFO,
    title="Routine Litestream activity",
    meaning="Start-up, snapshots, WAL segments, compactions, restores, shutdown, and every DEBUG line that no "
    "other signature claims: nothing to act on.",
    versions=(V03, V05),
    captured=("v03-init.log", "v05-init.log"),
)
