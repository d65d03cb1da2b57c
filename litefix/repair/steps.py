"""What each repair step does. Every action is safe to run twice (`--resume` re-runs the step
a crash interrupted) and returns JSON facts for the journal and the report.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from litefix.errors import LitefixError, NoSpace, RepairFailed
from litefix.model import JSON, Step
from litefix.repair.args import (
    CheckpointArgs,
    CopyHeldArgs,
    CopyIntoQuarantineArgs,
    MoveIntoPlaceArgs,
    QuarantineArgs,
    ReplicaArgs,
    RestoreToTempArgs,
    RunInitArgs,
    StopLitestreamArgs,
    VerifyDatabaseArgs,
    VerifyQuarantineArgs,
    VerifyReplicaArgs,
    VerifyRestoredArgs,
)
from litefix.repair.children import run_child, start_child, stop
from litefix.repair.faults import crash_point
from litefix.repair.places import ensure_room, free_bytes, match_owner, own_like
from litefix.repair.quarantine import Entry, fsync_dir, move_back_unverified, put_back_copy, sha256_file
from litefix.repair.run import UNDO, Run, Undone, action
from litefix.replicas.pages import Comparison, GenerationPages, LocalPages, LtxPages, compare
from litefix.replicas.plan import PageError, plan_ltx_restore
from litefix.replicas.progress import growth, reporting
from litefix.replicas.reader import ReplicaTarget, ReplicaView, newest_clean_point, read_replica, restore_points
from litefix.system.files import is_regular, is_utf8, sqlite_uri
from litefix.system.litestream import Binary, Invocation
from litefix.system.schema import SchemaError, check_integrity, read_schema

STOP_TIMEOUT = 30.0


def _binary(args: ReplicaArgs) -> Binary:
    return Binary(args.litestream, "plan")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ")[-1][:1] != "Z"
    except OSError:
        return False


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read(1 << 16).replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


# --- moving things aside -------------------------------------------------------------------


@action("quarantine")
def quarantine(run: Run, step: Step) -> dict[str, JSON]:
    args = QuarantineArgs.of(step)
    moved: list[JSON] = []
    for path in args.paths:
        ensure_room(path, os.path.dirname(path), 0, "moving it aside")
        entry = run.quarantine.move_in(path)
        if entry is not None:
            moved.append(entry.name)
    return {"moved": moved, "quarantine": str(run.quarantine.path)}


def _undo_quarantine(run: Run, step: Step, result: dict[str, Any]) -> Undone:
    names = result.get("moved") or [os.path.basename(p) for p in QuarantineArgs.of(step).paths]
    back: list[str] = []
    stuck: list[str] = []
    for name in names:
        entry = run.quarantine.entry(str(name))
        if entry is None or entry.state != "moved":
            continue
        (back if move_back_unverified(run.quarantine, str(name)) else stuck).append(entry.original)
    left = [f"{p} is in {run.quarantine.path}, but something else is at that path now" for p in stuck]
    return Undone(f"put back {', '.join(back)}" if back else "", left)


UNDO["quarantine"] = _undo_quarantine


@action("copy-held")
def copy_held(run: Run, step: Step) -> dict[str, JSON]:
    """Save what a process still holds of a replaced file before that process stops and it vanishes."""
    args = CopyHeldArgs.of(step)
    name = f"held-by-{args.pid}-fd{args.fd}-{os.path.basename(args.target)}"
    if run.quarantine.entry(name) is not None:
        return {"copied": name}
    src = f"/proc/{args.pid}/fd/{args.fd}"
    if not os.path.exists(src):
        return {"copied": None, "note": f"pid {args.pid} no longer holds fd {args.fd}: nothing to save"}
    ensure_room(src, str(run.quarantine.files_dir), os.stat(src).st_size, "copying what it holds")
    entry = run.quarantine.copy_in(src, name, args.target, f"{args.role} held open by pid {args.pid}")
    return {"copied": name, "size": entry.size, "sha256": entry.sha256}


def _before_name(label: str, path: str) -> str:
    return f"before-{label}-{os.path.basename(path)}"


@action("copy-into-quarantine")
def copy_into_quarantine(run: Run, step: Step) -> dict[str, JSON]:
    """A byte copy for undo, of files the repair will change but not move (init)."""
    args = CopyIntoQuarantineArgs.of(step)
    present = [p for p in args.paths if os.path.isfile(p)]
    ensure_room(
        present[0] if present else run.plan.db,
        str(run.quarantine.files_dir),
        sum(os.stat(p).st_size for p in present),
        "copying the database for undo",
    )
    copied: list[JSON] = []
    for path in present:
        name = _before_name(args.label, path)
        run.quarantine.copy_in(path, name, path, "copy taken before the repair changed it")
        copied.append(name)
    return {"copied": copied, "absent": [p for p in args.paths if p not in present]}


def _undo_copy_into_quarantine(run: Run, step: Step, result: dict[str, Any]) -> Undone:
    """Put the copied bytes back where the repair changed them; set aside files the repair created.

    Only after the copy step finished: before that nothing had changed the files.
    """
    if not result:
        return Undone()
    args = CopyIntoQuarantineArgs.of(step)
    back: list[str] = []
    for path in args.paths:
        entry = run.quarantine.entry(_before_name(args.label, path))
        if entry is None:  # absent before the repair: whatever is there now, the repair made
            if os.path.lexists(path):
                run.quarantine.move_in(path, "made by a repair that was rolled back", _aside(path), "set-aside")
                back.append(f"set aside {path}")
            continue
        if os.path.lexists(path) and _digest(path) == (entry.size, entry.sha256):
            continue
        if os.path.lexists(path):
            run.quarantine.move_in(path, "changed by a repair that was rolled back", _aside(path), "set-aside")
        put_back_copy(run.quarantine, entry, path)
        back.append(f"put back the bytes of {path}")
    return Undone("; ".join(back))


UNDO["copy-into-quarantine"] = _undo_copy_into_quarantine


def _aside(path: str) -> str:
    return f"rolled-back-{os.path.basename(path)}"


def _digest(path: str) -> tuple[int, str] | None:
    try:
        return sha256_file(path)
    except (OSError, LitefixError):
        return None


@action("checkpoint")
def checkpoint(run: Run, step: Step) -> dict[str, JSON]:
    """Fold the -wal into the database file and truncate it, so Litestream sees a new WAL and snapshots.

    After a replacement the -wal at the path can still carry the salts Litestream last
    synced; 0.5 then believes the new file continues the old one and sends only the
    changed pages, leaving the replica a mix. A database no process holds (the plan
    refused otherwise), with a byte copy already in the quarantine (its undo).
    """
    import apsw

    db = CheckpointArgs.of(step).path
    wal = db + "-wal"
    ensure_room(db, os.path.dirname(db), os.path.getsize(wal) if os.path.isfile(wal) else 0, "checkpointing")
    try:
        con = apsw.Connection(sqlite_uri(db), flags=apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_URI)
        try:
            row = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            busy, log, done = row if row else (1, -1, -1)
        finally:
            con.close()
    except apsw.FullError as exc:
        raise NoSpace(
            f"cannot checkpoint {db}: no space left on device", "free space, then resume or roll back"
        ) from exc
    except apsw.Error as exc:
        raise RepairFailed(f"cannot checkpoint {db}: {exc}") from exc
    if busy:
        raise RepairFailed(
            f"{db} is busy: another connection kept its -wal from being checkpointed",
            "stop whatever has the database open, then resume",
        )
    match_owner(db, [wal, db + "-shm"])
    return {"wal_frames": log, "checkpointed": done}


@action("verify-quarantine")
def verify_quarantine(run: Run, step: Step) -> dict[str, JSON]:
    args = VerifyQuarantineArgs.of(step)
    problems = run.quarantine.verify()
    still_there = [p for p in args.paths if os.path.lexists(p)]
    if problems or still_there:
        raise RepairFailed(f"quarantine check failed: {(problems + still_there)[0]}")
    return {"verified": [e.name for e in run.quarantine.entries if e.state == "moved"]}


# --- Litestream processes -------------------------------------------------------------------


@action("stop-litestream")
def stop_litestream(run: Run, step: Step) -> dict[str, JSON]:
    args = StopLitestreamArgs.of(step)
    pid = args.pid
    if not _alive(pid):
        return {"stopped": pid, "note": "already stopped"}
    if args.command and _cmdline(pid) != args.command:
        return {"stopped": None, "note": f"pid {pid} is now another process ({_cmdline(pid)[:80]}); left alone"}
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(pid):
        if time.monotonic() > deadline:
            raise RepairFailed(
                f"Litestream pid {pid} did not stop within {STOP_TIMEOUT:.0f}s of SIGTERM",
                f"stop it yourself (kill {pid}), then resume",
            )
        time.sleep(0.05)
    return {"stopped": pid}


UNDO["stop-litestream"] = lambda _run, step, _r: Undone(
    f"Litestream pid {StopLitestreamArgs.of(step).pid} was stopped: start it again"
)


@action("run-litestream-init")
def run_litestream_init(run: Run, step: Step) -> dict[str, JSON]:
    """Let the real Litestream initialise the database (tables, generation or snapshot), then stop it.

    Done means: the replica's newest state equals the database, page for page — not a log
    line (0.5 logs its snapshot only at DEBUG, and after a fresh meta dir first continues
    the replica's TXIDs). The child dies with litefix (children.py); a `--resume` finds and
    stops one that did not.
    """
    args = RunInitArgs.of(step)
    binary = _binary(args)
    ensure_room(args.db, os.path.dirname(args.db), os.path.getsize(args.db), "initialising (Litestream's snapshot)")
    config = run.scratch / "litestream.yml"
    config.write_text(args.config_text)
    config.chmod(0o600)
    log_path = run.scratch / "litestream-init.log"
    started = time.time()
    with open(log_path, "ab") as log:
        proc = start_child(
            [binary.path, "replicate", "-config", str(config), "-no-expand-env"],
            Invocation(binary).environment(),
            stdout=log,
        )
    crash_point("litestream-running")
    checks = 0
    try:
        deadline = time.monotonic() + args.timeout
        while True:
            text = _tail(log_path)
            if "initialized db" in text or checks:
                crash_point("litestream-initialized")
                checks += 1
                if _replica_matches(run, args, binary):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                last = text.strip().splitlines()[-1] if text.strip() else "no output"
                if "no space left" in text:
                    raise NoSpace(f"Litestream cannot initialise {run.plan.db}: no space left on device ({last[:200]})")
                raise RepairFailed(
                    f"Litestream did not bring the replica in line with {run.plan.db} within {args.timeout:.0f}s "
                    f"(exit {proc.poll()}): {last[:300]}",
                    f"its log is {log_path}; fix the cause (replica reachable? credentials?) and resume",
                )
            time.sleep(0.5 if args.replica.get("local_path") else 3.0)
    finally:
        stop(proc)
    match_owner(args.db, [args.db + "-wal", args.db + "-shm", args.meta_dir])
    errors = [line for line in _tail(log_path).splitlines() if "level=ERROR" in line]
    return {"log": str(log_path), "seconds": round(time.time() - started, 2), "checks": checks, "errors": errors[:5]}


def _tail(path: Path, size: int = 1 << 20) -> str:
    """The last MiB of a log litefix's child writes (it can grow while a slow replica is retried)."""
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - size))
        return fh.read(size).decode(errors="replace")


def _undo_run_litestream_init(run: Run, step: Step, _result: dict[str, Any]) -> Undone:
    """Litestream made a new meta dir (the old one, if any, is in the quarantine): set it aside."""
    meta = RunInitArgs.of(step).meta_dir
    if not os.path.lexists(meta):
        return Undone()
    run.quarantine.move_in(meta, "made by a repair that was rolled back", _aside(meta), "set-aside")
    return Undone(
        f"set aside the meta dir Litestream made ({meta}); the replica keeps what Litestream wrote to it "
        "(the old generation or TXIDs are still there)"
    )


UNDO["run-litestream-init"] = _undo_run_litestream_init


def _replica_matches(run: Run, args: ReplicaArgs, binary: Binary) -> bool:
    try:
        return _compare_with_replica(run, args, binary).equal
    except (LitefixError, PageError, OSError, SchemaError, ValueError):
        return False  # not there yet (files being written, replica still empty)


# --- restoring ----------------------------------------------------------------------------


def _view(args: ReplicaArgs, binary: Binary) -> ReplicaView:
    target = ReplicaTarget.from_json(args.replica)
    return read_replica(target, binary, args.config, args.db)


def _source(run: Run, args: ReplicaArgs, binary: Binary) -> list[str]:
    """How to name the replica to `litestream restore`, for any path a file replica has.

    A bare path or file:// URL is parsed by both versions as a URL: a space is not
    unescaped (`no matching backup files`), a newline is refused by net/url. A scratch
    config with the path as a quoted YAML string says it exactly, in both versions.
    """
    target = ReplicaTarget.from_json(args.replica)
    if target.local_path is None or args.source[:1] == ["-config"]:
        return list(args.source)
    config = run.scratch / "restore-source.yml"
    block = "replicas:\n      - " if binary.generation == "0.3" else "replica:\n      "
    # The database path is only the name `restore` looks the replica up by (it writes to -o); YAML is
    # UTF-8, so a path that is not (`app-\\xff.db`) is looked up by a stand-in name instead.
    key = args.db if is_utf8(args.db) else "/litefix/restore-source.db"
    config.write_text(
        f"dbs:\n  - path: {json.dumps(key)}\n    {block}type: file\n"
        f"{'        ' if binary.generation == '0.3' else '      '}path: {json.dumps(target.local_path)}\n"
    )
    return ["-config", str(config), key]


@action("restore-to-temp")
def restore_to_temp(run: Run, step: Step) -> dict[str, JSON]:
    """Restore the chosen (or newest clean) position into litefix's scratch directory, never the live path."""
    args = RestoreToTempArgs.of(step)
    binary = _binary(args)
    source = _source(run, args, binary)
    out_dir = run.scratch / "restore"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    view = _view(args, binary)
    size = _restore_size(view)
    ensure_room(args.db, str(out_dir), size, "restoring")
    out = out_dir / "restored.db"
    point_args = list(args.point)
    label = " ".join(point_args) or "latest"
    tested: list[JSON] = []
    problem = _restore_once(binary, source, point_args, out, size)
    tested.append({"position": label, "ok": problem is None, "detail": problem or "ok"})
    if problem and _out_of_space(problem, out_dir):
        raise NoSpace(f"cannot restore into {out_dir}: no space left on device ({problem[:200]})")
    if problem and not point_args and args.search_clean:
        clean, checks = newest_clean_point(binary, source, restore_points(view)[1:], "quick")
        tested += [
            {"position": c.point.label if c.point else "?", "ok": c.ok, "detail": c.detail[:200]} for c in checks
        ]
        if clean is None:
            raise RepairFailed(
                f"no position of the replica restores to a sound database (latest: {problem})",
                "the replica is unusable; keep the quarantined files and investigate",
            )
        point_args, label = list(clean.args), clean.label
        shutil.rmtree(out_dir, ignore_errors=True)
        out_dir.mkdir(parents=True)
        problem = _restore_once(binary, source, point_args, out, size)
    if problem:
        if _out_of_space(problem, out_dir):
            raise NoSpace(f"cannot restore into {out_dir}: no space left on device ({problem[:200]})")
        raise RepairFailed(f"restore of {label} failed: {problem}")
    return {"path": str(out), "point": label, "point_args": list(point_args), "tested": tested}


def _restore_size(view: ReplicaView) -> int:
    """The restored file's size from the replica listing: the newest LTX header's page count times
    its page size (0.5); for 0.3 the largest snapshot file, a lower bound (0 when unknown)."""
    with_header = [f for f in view.ltx if f.header is not None and f.max_txid is not None]
    if with_header:
        newest = max(with_header, key=lambda f: (f.max_txid or 0, -f.level))
        assert newest.header is not None
        return newest.header.commit * newest.header.page_size
    sizes = [f.size for f in view.ltx]
    for gen in view.generations:
        sizes += [snap.size for snap in gen.snapshots]
    return max(sizes, default=0)


def _out_of_space(problem: str, where: Path) -> bool:
    """A failed restore on a disk with (almost) no room is a full disk, not a bad replica.

    0.3.13 reports the ENOSPC of its writer as `context canceled`; the free space says it.
    """
    return "no space left" in problem.lower() or free_bytes(str(where)) < 64 * 1024


def _restore_once(binary: Binary, source: list[str], point_args: list[str], out: Path, size: int) -> str | None:
    """One `litestream restore` into `out`, its progress on a terminal the growth of the files it writes."""
    argv = [binary.path, "restore", *point_args, "-o", str(out), *source]
    with reporting("litestream restore", size or None) as advance, growth(str(out.parent), advance):
        code, text = run_child(argv, Invocation(binary).environment(), timeout=3600)
    if code or not out.exists():
        return f"litestream restore exited {code}: {text[-500:]}"
    try:
        messages = check_integrity(str(out), "quick")
    except SchemaError as exc:
        messages = [str(exc)]
    return None if messages == ["ok"] else "; ".join(messages[:3])


UNDO["restore-to-temp"] = lambda run, _s, _r: Undone()  # its output is in litefix's scratch, removed with it


@action("verify-restored")
def verify_restored(run: Run, step: Step) -> dict[str, JSON]:
    """integrity_check on the restored file, and (file replicas) its checksum against the replica's pages."""
    args = VerifyRestoredArgs.of(step)
    restored = run.result_of("restore-to-temp")
    path = str(restored["path"])
    try:
        messages = check_integrity(path, "full")
    except SchemaError as exc:
        messages = [str(exc)]
    if messages != ["ok"]:
        raise RepairFailed(f"the restored database fails integrity_check: {messages[0]}")
    facts: dict[str, JSON] = {"integrity": "ok", "point": restored.get("point")}
    target = ReplicaTarget.from_json(args.replica)
    if target.local_path is None:
        return facts
    view = read_replica(target, None, None, args.db)
    remote = _pages_at(view, [str(a) for a in restored.get("point_args", [])])
    if remote is None:
        return facts
    try:
        result = compare(LocalPages.open(path), remote)
    finally:
        if isinstance(remote, GenerationPages):
            remote.close()
    facts["checksum"] = f"{result.checksum_a:016x}"
    if not result.equal:
        raise RepairFailed(
            f"the restored file differs from the replica at {restored.get('point')} in "
            f"{result.differing_pages} pages (first {result.first_differences[:5]})"
        )
    facts["matches_replica"] = True
    return facts


def _pages_at(view: ReplicaView, point_args: list[str]) -> LtxPages | GenerationPages | None:
    try:
        if view.ltx:
            txid = int(point_args[1], 16) if point_args[:1] == ["-txid"] else None
            return LtxPages(plan_ltx_restore(view.ltx, txid))
        if view.generations:
            wanted = point_args[1] if point_args[:1] == ["-generation"] else None
            gen = next((g for g in view.generations if g.name == wanted), None) or view.latest_generation()
            return GenerationPages(gen) if gen else None
    except PageError:
        return None
    return None


@action("move-into-place")
def move_into_place(run: Run, step: Step) -> dict[str, JSON]:
    """Rename the checked file onto the path, with the owner and mode of the file it replaces."""
    dest = MoveIntoPlaceArgs.of(step).path
    src = str(run.result_of("restore-to-temp").get("path", ""))
    if os.path.exists(dest):
        if src and os.path.exists(src) and sha256_file(src) == sha256_file(dest):
            return {"path": dest, "note": "already in place"}
        if not os.path.exists(src):
            own_like(dest, _replaced(run, dest), os.path.dirname(dest))
            return {"path": dest, "note": "already in place"}
        raise RepairFailed(
            f"{dest} appeared while the repair ran; litefix will not overwrite it",
            "find out who created it (an app started too early?), then resume",
        )
    for suffix in ("-wal", "-shm", "-journal"):
        if os.path.lexists(dest + suffix):
            raise RepairFailed(f"{dest + suffix} appeared while the repair ran; it would be merged into the restore")
    own_like(src, _replaced(run, dest), os.path.dirname(dest))
    os.rename(src, dest)
    crash_point("placed")
    fsync_dir(os.path.dirname(dest))
    facts: dict[str, JSON] = {"path": dest, "sha256": sha256_file(dest)[1]}
    beyond = _beyond_replica(run, dest)
    if beyond:
        facts["quarantined_differs"] = beyond
        run.log(beyond)
    return facts


def _replaced(run: Run, dest: str) -> Entry | None:
    """The quarantined original of `dest` (or of its -wal), whose owner and mode the new file takes."""
    for name in (os.path.basename(dest), os.path.basename(dest) + "-wal"):
        entry = run.quarantine.entry(name)
        if entry is not None and entry.uid >= 0:
            return entry
    return None


def _beyond_replica(run: Run, dest: str) -> str:
    """What the quarantined database holds that the restored one does not (a per-write app's last writes).

    Such an app has no descriptor open between writes, so the holder check cannot see it;
    its newest writes are then only in the quarantined file. Counted in pages that differ.
    """
    entry = run.quarantine.entry(os.path.basename(dest))
    if entry is None or entry.kind != "file" or entry.state != "moved":
        return ""
    try:
        old = run.quarantine.files_dir / entry.name
        result = compare(LocalPages.open(str(old), _wal_scan(str(old))), LocalPages.open(dest))
    except (PageError, OSError, SchemaError, ValueError, LitefixError):
        return ""
    if result.equal:
        return ""
    rows = _row_differences(str(old), dest)
    return (
        f"the quarantined database differs from the restored one in {result.differing_pages} pages "
        f"({result.pages_a} pages before, {result.pages_b} now{'; rows ' + rows if rows else ''}): writes the "
        f"replica never had may be there; compare them with `sqlite3 {old}` and copy back what you need "
        "before deleting the quarantine"
    )


ROW_COUNT_LIMIT = 1 << 30  # count rows only in files up to 1 GiB: a count is a full scan


def _row_differences(old: str, new: str, tables: int = 20) -> str:
    """`table: 75 before, 50 now` for each table whose row count differs (empty when unknown)."""
    import apsw

    from litefix.system.readonly import open_readonly

    if os.path.getsize(old) > ROW_COUNT_LIMIT:
        return ""
    try:
        counts = []
        for path in (old, new):
            with open_readonly(path) as con:  # with its -wal (quarantined beside it under the same name)
                names = [
                    str(r[0])
                    for r in con.execute(
                        "SELECT name FROM sqlite_schema WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                        "AND name NOT LIKE '_litestream%' ORDER BY name"
                    )
                ][:tables]
                quoted = {n: '"' + n.replace('"', '""') + '"' for n in names}
                counts.append({n: int(con.execute(f"SELECT count(*) FROM {q}").get) for n, q in quoted.items()})
    except (apsw.Error, OSError, ValueError):  # a best-effort note: the page comparison already said it
        return ""
    before, now = counts
    changed = [f"{n}: {before[n]} before, {now.get(n, 0)} now" for n in before if before[n] != now.get(n, 0)]
    return "; ".join(changed[:5])


def _undo_move_into_place(run: Run, step: Step, result: dict[str, Any]) -> Undone:
    """Set the restored file aside (under its own name: the original's is taken) so the original can go back."""
    dest = MoveIntoPlaceArgs.of(step).path
    src = str(run.result_of("restore-to-temp").get("path", ""))
    ours = bool(result) or not (src and os.path.exists(src))
    if not os.path.lexists(dest) or not ours:
        return Undone()
    run.quarantine.move_in(dest, "restored by a repair that was rolled back", _aside(dest), "set-aside")
    return Undone(f"set aside the restored {dest}")


UNDO["move-into-place"] = _undo_move_into_place


# --- checking the result ---------------------------------------------------------------------


@action("verify-database")
def verify_database(run: Run, step: Step) -> dict[str, JSON]:
    args = VerifyDatabaseArgs.of(step)
    path = args.path
    try:
        messages = check_integrity(path, "quick")
        schema = read_schema(path)
    except SchemaError as exc:
        raise RepairFailed(f"{path} cannot be read after the repair: {exc}") from exc
    if messages != ["ok"]:
        raise RepairFailed(f"{path} fails quick_check after the repair: {messages[0]}")
    missing = schema.missing_litestream_tables if args.require_tables else ()
    if missing:
        raise RepairFailed(f"{path} still lacks {', '.join(missing)} after the repair")
    return {"integrity": "ok", "tables": len(schema.tables), "litestream_seq": schema.litestream_seq}


def _compare_with_replica(run: Run, args: ReplicaArgs, binary: Binary) -> Comparison:
    """The database now against the replica's newest state: natively for file replicas, else via a restore."""
    db = args.db
    target = ReplicaTarget.from_json(args.replica)
    mine = LocalPages.open(db, _wal_scan(db))
    if target.local_path is not None:
        view = read_replica(target, None, None, db)
        remote = _pages_at(view, [])
        if remote is None:
            raise RepairFailed(f"the replica {target.location} holds no restorable state")
        try:
            return compare(mine, remote)
        finally:
            if isinstance(remote, GenerationPages):
                remote.close()
    out = run.scratch / "verify" / "restored.db"
    shutil.rmtree(out.parent, ignore_errors=True)
    out.parent.mkdir(parents=True)
    expected = os.path.getsize(db) if os.path.isfile(db) else 0  # the replica should hold this database
    problem = _restore_once(binary, _source(run, args, binary), [], out, expected)
    if problem:
        raise RepairFailed(f"the replica does not restore: {problem}")
    return compare(mine, LocalPages.open(str(out)))


@action("verify-replica")
def verify_replica(run: Run, step: Step) -> dict[str, JSON]:
    """The replica's newest state must equal the database now (after init's snapshot)."""
    args = VerifyReplicaArgs.of(step)
    binary = _binary(args)
    target = ReplicaTarget.from_json(args.replica)
    result = _compare_with_replica(run, args, binary)
    if not result.equal:
        raise RepairFailed(
            f"the replica {target.location} differs from {args.db} in "
            f"{result.differing_pages} pages after initialising",
            "run the repair again",
        )
    return {"replica": target.location, "checksum": f"{result.checksum_a:016x}", "pages": result.pages_a}


def _wal_scan(db: str) -> Any:
    from litefix.formats.wal import scan_wal

    wal = db + "-wal"
    return scan_wal(wal, collect_pages=True) if is_regular(wal) else None
