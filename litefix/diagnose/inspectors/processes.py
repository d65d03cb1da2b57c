"""Who holds the database open right now, and is it still the file at the path?

A process whose descriptor for the database is deleted, or is another inode than
the path now has, is writing into a file nobody will ever read again. When that
process is Litestream, its replica is being built from the wrong file: the
incident's root cause. Reading /proc costs one readlink per open descriptor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from litefix.codes import CODES, RESTORE
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.errors import ConfigError
from litefix.model import JSON, Finding
from litefix.system.held import compare_pages, read_copy
from litefix.system.procfs import Descriptor, Holder, litestream_processes, replicate_command_db, replicate_config_path

if TYPE_CHECKING:
    from litefix.config import DatabaseConfig, LitestreamConfig


def _role(ctx: Context, d: Descriptor) -> str:
    if d.target == ctx.wal_path:
        return "wal"
    if d.target == ctx.shm_path:
        return "shm"
    return "db"


def _state(ctx: Context, role: str, d: Descriptor) -> str:
    """current: the path's inode now; deleted: unlinked; replaced: the path holds another inode."""
    current = {"db": ctx.db_state, "wal": ctx.wal_state, "shm": ctx.shm_state}[role]
    if current.exists and (current.inode, current.device) == (d.inode, d.device):
        return "current"
    return "deleted" if d.deleted or not current.exists else "replaced"


@dataclass(frozen=True)
class CurrentCopy:
    """Which copy of a database replaced under Litestream holds the newest data, and the facts that say so.

    `copy` is "path" (the file at the path: a new database), "held" (the file Litestream holds, and
    its replica: the path has an older copy), "same" (equal page for page; only the inode differs)
    or "unknown" (`clause` says why)."""

    copy: str
    clause: str  # the words for the finding's message, each naming the fact it rests on
    facts: dict[str, JSON]


def _writers(ctx: Context, holders: list[Holder]) -> list[Holder]:
    """Processes other than Litestream that hold the database file now at the path: its writers."""
    return [
        h
        for h in holders
        if not h.is_litestream
        and any(_role(ctx, d) == "db" and _state(ctx, "db", d) == "current" for d in h.descriptors)
    ]


def _current_copy(ctx: Context, holder: Holder, writers: list[Holder]) -> CurrentCopy:
    """Compare the file at the path with the one `holder` (Litestream) still holds: the held one is read
    through /proc/PID/fd/N, headers and schema of each file alone (a shared -wal belongs to one of them),
    pages compared in a bounded stream. Nothing is guessed: facts that disagree give "unknown"."""
    stale = next(d for d in holder.descriptors if _role(ctx, d) == "db" and _state(ctx, "db", d) != "current")
    held_at = f"/proc/{holder.pid}/fd/{stale.fd}"
    path, held = read_copy(ctx.real_db), read_copy(held_at)
    facts: dict[str, JSON] = {
        "path_copy": path.to_json(),
        "held_copy": held.to_json(),
        "path_writers": [h.pid for h in writers],
    }

    def verdict(copy: str, clause: str) -> CurrentCopy:
        return CurrentCopy(copy, clause, {"current_copy": copy, **facts})

    where = f"the file Litestream holds (pid {holder.pid}, fd {stale.fd})"
    if not ctx.db_state.exists and not held.error:
        return verdict("held", f"nothing is at the path: the current data is on the replica and in {where}")
    if held.error or path.error or path.header is None or held.header is None:
        return verdict("unknown", f"which copy is current is unknown: {held.error or path.error}")
    pages = compare_pages(ctx.real_db, held_at, path.header.page_size)
    facts["pages"] = pages.to_json()
    if pages.identical:
        return verdict(
            "same",
            f"the file at the path and {where} are equal page for page ({pages.equal_pages} pages): "
            "only the inode differs so far",
        )
    a, b = path.header, held.header
    headers = (
        f"change counter {a.change_counter} and {a.page_count} pages at the path, "
        f"{b.change_counter} and {b.page_count} in the one Litestream holds"
    )
    if path.has_litestream_tables is False:
        return verdict(
            "path",
            f"the file at the path is a new database (no _litestream_seq/_litestream_lock: Litestream never "
            f"initialised it; {headers}), and the replica is still built from the old one",
        )
    if path.has_litestream_tables is None:
        return verdict("unknown", "which copy is current is unknown: the schema of the file at the path is unreadable")
    if writers:
        pids = ", ".join(str(h.pid) for h in writers)
        return verdict(
            "unknown",
            f"which copy is current is unknown: the file at the path is a copy of a replicated database ({headers}) "
            f"and pid {pids} writes it, so each may hold writes the other lacks",
        )
    if a.change_counter < b.change_counter:
        # SQLite bumps the counter whenever it writes page 1; nothing but Litestream holds the path's file, and
        # it was put there after Litestream opened the other: everything written since went to the held one
        return verdict(
            "held",
            f"the file at the path is an older copy ({headers}; no other process holds it): the current data is "
            f"on the replica and in {where}",
        )
    compared = "its pages differ" if pages.compared else f"its pages were not compared ({pages.why_not})"
    return verdict(
        "unknown",
        f"which copy is current is unknown: the file at the path is not older by its header ({headers}) and {compared}",
    )


_WHAT_IT_HOLDS = {
    "shared-wal": "holds the old, deleted database file while the -wal/-shm at the path are still the ones it "
    "opened: two database files now share one WAL",
    "purge": "holds only deleted or replaced files: the database was removed and recreated under it",
    "sidecar-replaced": "holds a -wal or -shm that was deleted or replaced under it",
}


def _litestream_replaced(
    ctx: Context, holders: list[Holder], holder: Holder, case: str, evidence: dict[str, object]
) -> Finding:
    """The finding for a Litestream that holds a replaced file, worded from what was read: which copy
    holds the newest data, and whether writes are being lost now (only when a process writes the file
    at the path) or what happens next."""
    message = f"Litestream (pid {holder.pid}) {_WHAT_IT_HOLDS[case]}"
    code = CODES["litestream-replaced"]
    if case == "sidecar-replaced":
        consequence = (
            "the app and Litestream no longer share one -wal/-shm, so its read lock no longer holds off the app's "
            "checkpoints and it can miss the app's writes until it is restarted"
        )
        return code.finding(f"{message}: {consequence}", evidence)
    writers = _writers(ctx, holders)
    current = _current_copy(ctx, holder, writers)
    evidence.update(current.facts)
    pids = ", ".join(str(h.pid) for h in writers)
    if case == "shared-wal" and writers:
        consequence = f"pid {pids} writes the file at the path, so its writes are being lost right now"
    elif case == "shared-wal":
        consequence = (
            "no process but Litestream holds the file at the path yet: the first one to open it will read and "
            "write the other file's WAL, mixing the two"
        )
    elif writers:
        consequence = f"pid {pids} writes the file at the path, which Litestream does not replicate"
    else:
        consequence = "Litestream no longer replicates the file at the path"
    if current.copy != "held":
        return code.finding(f"{message} and {consequence}; {current.clause}", evidence)
    hint = (
        "Stop that Litestream (its last sync completes the replica), then restore the replica; the file at the "
        "path is moved to the quarantine, not deleted: `litefix repair DB --strategy restore --stop-litestream`"
    )
    return code.finding(f"{message} and {consequence}; {current.clause}", evidence, hint=hint, strategies=(RESTORE,))


def _summary(facts: dict[str, JSON]) -> str:
    holders = facts.get("holders") or []
    assert isinstance(holders, list)
    return "no process holds it" if not holders else f"held by pid {', '.join(str(h['pid']) for h in holders)}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    scan = ctx.processes
    if scan.error:
        raise Skip(f"could not inspect processes: {scan.error}")
    report = Report()
    report.facts["holders"] = [h.to_json() for h in scan.holders]
    if scan.unreadable:
        report.facts["unreadable_processes"] = scan.unreadable
        report.facts["note"] = (
            f"could not inspect {scan.unreadable} processes of other users (permission denied); "
            "run as root to see them all"
        )
    sound_litestreams: list[Holder] = []
    for holder in scan.holders:
        states: dict[str, list[str]] = {}
        for d in holder.descriptors:
            role = _role(ctx, d)
            states.setdefault(role, []).append(_state(ctx, role, d))
        evidence: dict[str, object] = {
            "pid": holder.pid,
            "command": holder.command,
            "descriptors": [
                {**d.to_json(), "role": _role(ctx, d), "state": _state(ctx, _role(ctx, d), d)}
                for d in holder.descriptors
            ],
            "path_inodes": {
                "db": ctx.db_state.inode if ctx.db_state.exists else None,
                "wal": ctx.wal_state.inode if ctx.wal_state.exists else None,
                "shm": ctx.shm_state.inode if ctx.shm_state.exists else None,
            },
        }
        stale_db = any(s != "current" for s in states.get("db", []))
        stale_any = any(s != "current" for group in states.values() for s in group)
        shares_wal = stale_db and any(s == "current" for r in ("wal", "shm") for s in states.get(r, []))
        if holder.is_litestream:
            if not stale_any:
                sound_litestreams.append(holder)
                continue
            case = "shared-wal" if shares_wal else ("purge" if stale_db else "sidecar-replaced")
            evidence["case"] = case
            report.findings.append(_litestream_replaced(ctx, scan.holders, holder, case, evidence))
        elif stale_db:
            report.findings.append(
                CODES["database-replaced"].finding(
                    f"pid {holder.pid} ({holder.command[:80]}) still has the old {ctx.db} open "
                    "(deleted or replaced): its writes go to a file nobody will read again",
                    evidence,
                )
            )
    litestreams = [h for h in scan.holders if h.is_litestream]
    db_config = ctx.config_db
    others = litestream_processes()
    report.facts["litestream_processes"] = [h.pid for h in others]
    if db_config is not None and not litestreams:
        waiting = [h for h in others if _replicates(h, ctx.db)]
        if waiting:
            report.facts["waiting"] = [h.to_json() for h in waiting]
        else:
            source = ctx.config.source_path if ctx.config else "the config"
            report.findings.append(
                CODES["litestream-not-running"].finding(
                    f"no running Litestream replicates {ctx.db}, which {source} lists",
                    {
                        "litestream_pids": [h.pid for h in others],
                        "config": ctx.config.source_path if ctx.config else None,
                    },
                )
            )
    if db_config is not None:
        _check_shared_replica(ctx, db_config, others, report)
    if len(sound_litestreams) > 1:
        report.findings.append(
            CODES["litestream-duplicate"].finding(
                f"{len(sound_litestreams)} Litestream processes replicate {ctx.db} at once "
                f"(pids {', '.join(str(h.pid) for h in sound_litestreams)})",
                {"pids": [h.pid for h in sound_litestreams], "commands": [h.command for h in sound_litestreams]},
            )
        )
    return report


def _process_config(holder: Holder) -> LitestreamConfig | None:
    path = replicate_config_path(holder)
    if not path:
        return None
    from litefix.config import load_config

    try:
        return load_config(path, cwd=holder.cwd or None, how_found="process")
    except (ConfigError, OSError):
        return None  # a config we cannot read is not evidence either way


def _replicates(holder: Holder, db: str) -> bool:
    """Does this litestream process mean to replicate `db` (by its command line or its config)?"""
    if replicate_command_db(holder) == db:
        return True
    config = _process_config(holder)
    return config is not None and config.find_db(db) is not None


def _check_shared_replica(ctx: Context, db_config: DatabaseConfig, others: list[Holder], report: Report) -> None:
    """Two databases replicating into one replica location mix their files (0.3) or TXIDs (0.5)."""
    ours = {r.identity for r in db_config.replicas}  # the location, and the server of an object store
    sources: list[tuple[str, str, str]] = []  # (db path, replica identity, where configured)
    if ctx.config is not None:
        sources += [(d.path, r.identity, ctx.config.source_path) for d in ctx.config.dbs for r in d.replicas]
    for holder in others:
        config = _process_config(holder)
        if config is not None:
            where = f"pid {holder.pid} ({config.source_path})"
            sources += [(d.path, r.identity, where) for d in config.dbs for r in d.replicas]
    clashes = sorted({(path, loc, where) for path, loc, where in sources if loc in ours and path != db_config.path})
    if clashes:
        report.findings.append(
            CODES["litestream-duplicate"].finding(
                f"{clashes[0][1]} is the replica of {ctx.db} and also of {clashes[0][0]} ({clashes[0][2]})",
                {"replica": clashes[0][1], "shared_with": [{"db": p, "configured_in": w} for p, _, w in clashes]},
                hint="give every database its own replica path; then re-initialise both: "
                "`litefix repair DB --strategy init`",
            )
        )
