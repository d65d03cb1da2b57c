"""What each repair step does. Every action is safe to run twice (`--resume` re-runs the step
a crash interrupted) and returns JSON facts for the journal and the report.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from litefix.errors import RepairFailed
from litefix.model import JSON, Step
from litefix.repair.quarantine import fsync_dir, move_back_unverified, sha256_file
from litefix.repair.run import UNDO, Run, action, crash_point
from litefix.replicas.pages import (
    Comparison,
    GenerationPages,
    LocalPages,
    LtxPages,
    PageError,
    compare,
    plan_ltx_restore,
)
from litefix.replicas.reader import ReplicaTarget, ReplicaView, newest_clean_point, read_replica, restore_points
from litefix.system.litestream import Binary, Invocation
from litefix.system.schema import SchemaError, check_integrity, read_schema

STOP_TIMEOUT = 30.0


def _binary(step: Step) -> Binary:
    return Binary(str(step.args["litestream"]), "plan")


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
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


# --- moving things aside -------------------------------------------------------------------


@action("quarantine")
def quarantine(run: Run, step: Step) -> dict[str, JSON]:
    moved = []
    for k, path in enumerate(step.args.get("paths", [])):
        entry = run.quarantine.move_in(str(path))
        if entry is not None:
            moved.append(entry.name)
        crash_point(f"in-{run.step_index + 1}-{k + 1}")
    return {"moved": moved, "quarantine": str(run.quarantine.path)}


def _undo_quarantine(run: Run, step: Step, result: dict[str, Any]) -> str:
    names = result.get("moved") or [os.path.basename(str(p)) for p in step.args.get("paths", [])]
    back: list[str] = []
    stuck: list[str] = []
    for name in names:
        entry = run.quarantine.entry(name)
        if entry is None or entry.state != "moved":
            continue
        (back if move_back_unverified(run.quarantine, name) else stuck).append(entry.original)
    note = f"put back {', '.join(back)}" if back else ""
    if stuck:
        note += f"; left in {run.quarantine.path}: {', '.join(stuck)} (something is at the original path now)"
    return note.strip("; ")


UNDO["quarantine"] = _undo_quarantine


@action("copy-held")
def copy_held(run: Run, step: Step) -> dict[str, JSON]:
    """Save what a process still holds of a replaced file before that process stops and it vanishes."""
    pid, fd = int(step.args["pid"]), int(step.args["fd"])
    target = str(step.args["target"])
    name = f"held-by-{pid}-fd{fd}-{os.path.basename(target)}"
    if run.quarantine.entry(name) is not None:
        return {"copied": name}
    src = f"/proc/{pid}/fd/{fd}"
    if not os.path.exists(src):
        return {"copied": None, "note": f"pid {pid} no longer holds fd {fd}: nothing to save"}
    entry = run.quarantine.copy_in(src, name, target, f"{step.args.get('role', 'file')} held open by pid {pid}")
    return {"copied": name, "size": entry.size, "sha256": entry.sha256}


@action("copy-into-quarantine")
def copy_into_quarantine(run: Run, step: Step) -> dict[str, JSON]:
    """A byte copy for undo, of files the repair will change but not move (init)."""
    copied = []
    for item in step.args.get("paths", []):
        path = str(item)
        if os.path.isfile(path):
            name = f"before-{step.args.get('label', 'repair')}-{os.path.basename(path)}"
            run.quarantine.copy_in(path, name, path, "copy taken before the repair changed it")
            copied.append(name)
    return {"copied": copied}


@action("checkpoint")
def checkpoint(run: Run, step: Step) -> dict[str, JSON]:
    """Fold the -wal into the database file and truncate it, so Litestream sees a new WAL and snapshots.

    After a replacement the -wal at the path can still carry the salts Litestream last
    synced; 0.5 then believes the new file continues the old one and sends only the
    changed pages, leaving the replica a mix. A database no process holds (the plan
    refused otherwise), with a byte copy already in the quarantine.
    """
    import apsw

    db = str(step.args["path"])
    con = apsw.Connection(db)
    try:
        row = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        busy, log, done = row if row else (1, -1, -1)
    finally:
        con.close()
    if busy:
        raise RepairFailed(
            f"{db} is busy: another connection kept its -wal from being checkpointed",
            "stop whatever has the database open, then resume",
        )
    return {"wal_frames": log, "checkpointed": done}


@action("verify-quarantine")
def verify_quarantine(run: Run, step: Step) -> dict[str, JSON]:
    problems = run.quarantine.verify()
    still_there = [str(p) for p in step.args.get("paths", []) if os.path.lexists(str(p))]
    if problems or still_there:
        raise RepairFailed(f"quarantine check failed: {(problems + still_there)[0]}")
    return {"verified": [e.name for e in run.quarantine.entries if e.state == "moved"]}


# --- Litestream processes -------------------------------------------------------------------


@action("stop-litestream")
def stop_litestream(run: Run, step: Step) -> dict[str, JSON]:
    pid = int(step.args["pid"])
    expected = str(step.args.get("command", ""))
    if not _alive(pid):
        return {"stopped": pid, "note": "already stopped"}
    if expected and _cmdline(pid) != expected:
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


UNDO["stop-litestream"] = lambda _run, step, _r: f"Litestream pid {step.args['pid']} was stopped: start it again"


@action("run-litestream-init")
def run_litestream_init(run: Run, step: Step) -> dict[str, JSON]:
    """Let the real Litestream initialise the database (tables, generation or snapshot), then stop it.

    Done means: the replica's newest state equals the database, page for page — not a log
    line (0.5 logs its snapshot only at DEBUG, and after a fresh meta dir first continues
    the replica's TXIDs).
    """
    binary = _binary(step)
    config = run.scratch / "litestream.yml"
    config.write_text(str(step.args["config_text"]))
    config.chmod(0o600)
    log_path = run.scratch / "litestream-init.log"
    timeout = float(step.args.get("timeout", 60))
    started = time.time()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [binary.path, "replicate", "-config", str(config), "-no-expand-env"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=Invocation(binary).environment(),
        )
    checks = 0
    try:
        deadline = time.monotonic() + timeout
        while True:
            text = log_path.read_text(errors="replace")
            if "initialized db" in text:
                checks += 1
                if _replica_matches(run, step, binary):
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                last = text.strip().splitlines()[-1] if text.strip() else "no output"
                raise RepairFailed(
                    f"Litestream did not bring the replica in line with {run.plan.db} within {timeout:.0f}s "
                    f"(exit {proc.poll()}): {last[:300]}",
                    f"its log is {log_path}; fix the cause (replica reachable? credentials?) and resume",
                )
            time.sleep(0.5 if step.args["replica"].get("local_path") else 3.0)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    errors = [line for line in log_path.read_text(errors="replace").splitlines() if "level=ERROR" in line]
    return {"log": str(log_path), "seconds": round(time.time() - started, 2), "checks": checks, "errors": errors[:5]}


def _replica_matches(run: Run, step: Step, binary: Binary) -> bool:
    try:
        return _compare_with_replica(run, step, binary).equal
    except (RepairFailed, PageError, OSError, SchemaError, ValueError):
        return False  # not there yet (files being written, replica still empty)


# --- restoring ----------------------------------------------------------------------------


def _view(step: Step, binary: Binary) -> ReplicaView:
    target = ReplicaTarget.from_json(step.args["replica"])
    return read_replica(target, binary, step.args.get("config"), str(step.args["db"]))


@action("restore-to-temp")
def restore_to_temp(run: Run, step: Step) -> dict[str, JSON]:
    """Restore the chosen (or newest clean) position into litefix's scratch directory, never the live path."""
    binary = _binary(step)
    source = [str(a) for a in step.args["source"]]
    out_dir = run.scratch / "restore"
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    out = out_dir / "restored.db"
    point_args = [str(a) for a in step.args.get("point") or []]
    label = " ".join(point_args) or "latest"
    tested: list[dict[str, JSON]] = []
    problem = _restore_once(binary, source, point_args, out)
    tested.append({"position": label, "ok": problem is None, "detail": problem or "ok"})
    if problem and not point_args and step.args.get("search_clean", True):
        view = _view(step, binary)
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
        problem = _restore_once(binary, source, point_args, out)
    if problem:
        raise RepairFailed(f"restore of {label} failed: {problem}")
    return {"path": str(out), "point": label, "point_args": list(point_args), "tested": tested}


def _restore_once(binary: Binary, source: list[str], point_args: list[str], out: Path) -> str | None:
    result = Invocation(binary).run(["restore", *point_args, "-o", str(out), *source], timeout=3600)
    if result.code or not out.exists():
        return f"litestream restore exited {result.code}: {result.text[-500:]}"
    try:
        messages = check_integrity(str(out), "quick")
    except SchemaError as exc:
        messages = [str(exc)]
    return None if messages == ["ok"] else "; ".join(messages[:3])


UNDO["restore-to-temp"] = lambda run, _s, _r: ""  # its output is in litefix's scratch, removed with it


@action("verify-restored")
def verify_restored(run: Run, step: Step) -> dict[str, JSON]:
    """integrity_check on the restored file, and (file replicas) its checksum against the replica's pages."""
    restored = run.result_of("restore-to-temp")
    path = str(restored["path"])
    try:
        messages = check_integrity(path, "full")
    except SchemaError as exc:
        messages = [str(exc)]
    if messages != ["ok"]:
        raise RepairFailed(f"the restored database fails integrity_check: {messages[0]}")
    facts: dict[str, JSON] = {"integrity": "ok", "point": restored.get("point")}
    target = ReplicaTarget.from_json(step.args["replica"])
    if target.local_path is None:
        return facts
    view = read_replica(target, None, None, str(step.args["db"]))
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
    dest = str(step.args["path"])
    src = str(run.result_of("restore-to-temp").get("path", ""))
    if os.path.exists(dest):
        if src and os.path.exists(src) and sha256_file(src) == sha256_file(dest):
            return {"path": dest, "note": "already in place"}
        if not os.path.exists(src):
            return {"path": dest, "note": "already in place"}
        raise RepairFailed(
            f"{dest} appeared while the repair ran; litefix will not overwrite it",
            "find out who created it (an app started too early?), then resume",
        )
    for suffix in ("-wal", "-shm", "-journal"):
        if os.path.lexists(dest + suffix):
            raise RepairFailed(f"{dest + suffix} appeared while the repair ran; it would be merged into the restore")
    os.rename(src, dest)
    fsync_dir(os.path.dirname(dest))
    return {"path": dest, "sha256": sha256_file(dest)[1]}


def _undo_move_into_place(run: Run, step: Step, _result: dict[str, Any]) -> str:
    dest = str(step.args["path"])
    if os.path.exists(dest):
        run.quarantine.move_in(dest, note="restored by a repair that was rolled back")
    return ""


UNDO["move-into-place"] = _undo_move_into_place


# --- checking the result ---------------------------------------------------------------------


@action("verify-database")
def verify_database(run: Run, step: Step) -> dict[str, JSON]:
    path = str(step.args["path"])
    try:
        messages = check_integrity(path, "quick")
        schema = read_schema(path)
    except SchemaError as exc:
        raise RepairFailed(f"{path} cannot be read after the repair: {exc}") from exc
    if messages != ["ok"]:
        raise RepairFailed(f"{path} fails quick_check after the repair: {messages[0]}")
    missing = schema.missing_litestream_tables if step.args.get("require_tables") else ()
    if missing:
        raise RepairFailed(f"{path} still lacks {', '.join(missing)} after the repair")
    return {"integrity": "ok", "tables": len(schema.tables), "litestream_seq": schema.litestream_seq}


def _compare_with_replica(run: Run, step: Step, binary: Binary) -> Comparison:
    """The database now against the replica's newest state: natively for file replicas, else via a restore."""
    db = str(step.args["db"])
    target = ReplicaTarget.from_json(step.args["replica"])
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
    problem = _restore_once(binary, [str(a) for a in step.args["source"]], [], out)
    if problem:
        raise RepairFailed(f"the replica does not restore: {problem}")
    return compare(mine, LocalPages.open(str(out)))


@action("verify-replica")
def verify_replica(run: Run, step: Step) -> dict[str, JSON]:
    """The replica's newest state must equal the database now (after init's snapshot)."""
    binary = _binary(step)
    target = ReplicaTarget.from_json(step.args["replica"])
    result = _compare_with_replica(run, step, binary)
    if not result.equal:
        raise RepairFailed(
            f"the replica {target.location} differs from {step.args['db']} in "
            f"{result.differing_pages} pages after initialising",
            "run the repair again",
        )
    return {"replica": target.location, "checksum": f"{result.checksum_a:016x}", "pages": result.pages_a}


def _wal_scan(db: str) -> Any:
    from litefix.formats.wal import scan_wal

    wal = db + "-wal"
    return scan_wal(wal, collect_pages=True) if os.path.isfile(wal) else None
