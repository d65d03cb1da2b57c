"""Which process holds SQLite's write lock, and which reader keeps the checkpoint from finishing.

Read from /proc/locks and the -shm's read marks, never by taking a lock. A lock seen once means
nothing on a live system (a busy writer holds the write lock nearly all the time, a web request
holds a read mark for milliseconds), so a finding needs the same holder in the same state in
every sample over about a second, with no commit in between for the write lock, and a reader whose
mark stays behind the WAL's last frame. Only a suspicious first sample pays for the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON, Finding, Severity
from litefix.system.locks import LockSample

# Confirmation samples, in seconds after the first: a lock held across all of them is "long-held".
CONFIRM_AT = (0.3, 1.0)
# SQLite's default wal_autocheckpoint (and Litestream's min-checkpoint-page-count): below this many
# frames a pinned WAL is what every healthy deployment has between checkpoints.
NORMAL_WAL_FRAMES = 1000
# Litestream holds a read transaction on purpose and releases it to checkpoint after each sync that
# finds the WAL past 1000 pages; this many frames behind its mark means it is not checkpointing
# (measured with 0.5.17 and an unreachable S3 replica: its mark stays at frame 4 while the -wal grows).
LITESTREAM_STUCK_FRAMES = 10 * NORMAL_WAL_FRAMES
# A pinned WAL past this size is an error: every reader walks it, and the next checkpoint copies it.
WAL_ERROR_BYTES = 1 << 30


@dataclass(frozen=True)
class Pin:
    """A reader's hold on the WAL: the checkpoint cannot copy frames after `frame`."""

    pid: int
    slot: int
    frame: int


def _pins(sample: LockSample, litestream: set[int], *, of_litestream: bool = False) -> list[Pin]:
    """Readers whose snapshot ends before the WAL's last frame: outside Litestream, or (with
    `of_litestream`) Litestream's own read transaction once it is far behind.

    Litestream holds a read transaction on purpose (it runs the checkpoints itself), so its mark
    counts only past LITESTREAM_STUCK_FRAMES. A reader on slot 0 reads the database file alone and
    blocks every backfill, so it pins at nBackfill.
    """
    index = sample.index
    if index is None or not index.header.is_init:
        return []
    mx_frame = index.header.mx_frame
    out: list[Pin] = []
    for slot, pids in sample.locks.readers.items():
        frame = index.n_backfill if slot == 0 else index.read_marks[slot]
        if frame >= mx_frame or (of_litestream and mx_frame - frame < LITESTREAM_STUCK_FRAMES):
            continue
        out.extend(Pin(pid, slot, frame) for pid in pids if (pid in litestream) == of_litestream)
    return out


def _writers(sample: LockSample) -> set[int]:
    locks = sample.locks
    return set(locks.wal_writer) | set(locks.reserved) | set(locks.pending) | set(locks.exclusive)


def _suspicious(sample: LockSample, litestream: set[int]) -> bool:
    index = sample.index
    big = index is not None and index.header.mx_frame >= NORMAL_WAL_FRAMES
    stuck = bool(_pins(sample, litestream, of_litestream=True))
    return bool(_writers(sample)) or (big and bool(_pins(sample, litestream))) or stuck


def _summary(facts: dict[str, JSON]) -> str:
    return "no lock held for long" if facts.get("confirmation") is None else str(facts["confirmation"])


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    first = ctx.lock_sample
    if first.error:
        raise Skip(first.error)
    report = Report()
    report.facts.update(first.to_json())
    litestream = {h.pid for h in ctx.processes.litestream}
    if not _suspicious(first, litestream):
        return report
    samples = [first]
    for at in CONFIRM_AT:
        time.sleep(max(0.0, first.taken + at - time.monotonic()))
        samples.append(ctx.sample_locks())
        if not _still_suspicious(samples, litestream):
            report.facts["confirmation"] = f"not stable: changed {at:.1f} s after the first read (a live system)"
            return report
    held_for = samples[-1].taken - first.taken
    report.facts["confirmation"] = f"the same in {len(samples)} reads over {held_for:.1f} s"
    _report_pins(ctx, report, samples, litestream, held_for)
    _report_writer(ctx, report, samples, litestream, held_for)
    return report


def _still_suspicious(samples: list[LockSample], litestream: set[int]) -> bool:
    """Something a finding could come from is the same in every sample so far: a write lock with no
    commit in between, or a reader's pin. A busy writer commits, so it stops the sampling early."""
    writers = set.intersection(*(_writers(s) for s in samples))
    if writers and len({s.progress for s in samples}) == 1:
        return True
    for of_litestream in (False, True):
        if set.intersection(*(set(_pins(s, litestream, of_litestream=of_litestream)) for s in samples)):
            return True
    return False


def _command(ctx: Context, pid: int) -> str:
    for holder in ctx.processes.holders:
        if holder.pid == pid:
            return holder.command
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return " ".join(p.decode(errors="replace") for p in fh.read().split(b"\0") if p) or f"pid {pid}"
    except OSError:
        return f"pid {pid}"


def _report_pins(
    ctx: Context, report: Report, samples: list[LockSample], litestream: set[int], held_for: float
) -> None:
    for of_litestream in (False, True):
        stable = set(_pins(samples[0], litestream, of_litestream=of_litestream))
        for sample in samples[1:]:
            stable &= set(_pins(sample, litestream, of_litestream=of_litestream))
        last = samples[-1]
        if stable and last.index is not None and last.index.header.mx_frame >= NORMAL_WAL_FRAMES:
            report.findings.append(_pin_finding(ctx, stable, last, litestream, held_for, of_litestream))
            return


def _pin_finding(
    ctx: Context, stable: set[Pin], last: LockSample, litestream: set[int], held_for: float, of_litestream: bool
) -> Finding:
    index = last.index
    assert index is not None
    oldest = min(stable, key=lambda p: p.frame)
    page = index.header.page_size or 4096
    behind = index.header.mx_frame - oldest.frame
    wal_bytes = last.wal_size
    others = sorted({p.pid for p in stable} - {oldest.pid})
    command = _command(ctx, oldest.pid)
    evidence: dict[str, object] = {
        "pid": oldest.pid,
        "command": command,
        "litestream": of_litestream,
        "read_mark_slot": oldest.slot,
        "pinned_frame": oldest.frame,
        "mx_frame": index.header.mx_frame,
        "n_backfill": index.n_backfill,
        "frames_behind": behind,
        "bytes_behind": behind * (page + 24),
        "wal_bytes": wal_bytes,
        "held_for_seconds": round(held_for, 2),
        "litestream_pids": sorted(litestream),
    }
    if others:
        evidence["other_pinning_pids"] = others
    severity = Severity.ERROR if wal_bytes >= WAL_ERROR_BYTES else Severity.WARNING
    waiting = f"{behind} frames ({_size(behind * (page + 24))}) cannot be checkpointed"
    if of_litestream:
        return CODES["checkpoint-blocked"].finding(
            f"Litestream (pid {oldest.pid}) has kept its read transaction at frame {oldest.frame} of "
            f"{ctx.wal_path} while {waiting}: it checkpoints only after it syncs, so its syncs are failing "
            f"and the -wal ({_size(wal_bytes)}) grows until the disk is full",
            evidence,
            severity=severity,
            hint="Find why Litestream does not sync (its log, `litefix explain`; an unreachable replica?): "
            "once a sync succeeds it checkpoints the -wal itself.",
        )
    return CODES["checkpoint-blocked"].finding(
        f"pid {oldest.pid} ({_short(command)}) holds a read transaction that pins frame {oldest.frame} of "
        f"{ctx.wal_path}: {waiting} and the -wal ({_size(wal_bytes)}) cannot restart while it lasts",
        evidence,
        severity=severity,
    )


def _report_writer(
    ctx: Context, report: Report, samples: list[LockSample], litestream: set[int], held_for: float
) -> None:
    stable = _writers(samples[0])
    for sample in samples[1:]:
        stable &= _writers(sample)
    # A busy writer holds the lock in every sample too, but commits in between: the wal-index
    # (or, in rollback mode, the database file) changes. A held-open transaction changes nothing.
    if not stable or len({s.progress for s in samples}) > 1:
        return
    last = samples[-1]
    pid = min(stable)
    mode = "wal" if pid in last.locks.wal_writer else "rollback"
    evidence: dict[str, object] = {
        "pid": pid,
        "command": _command(ctx, pid),
        "litestream": pid in litestream,
        "lock": "WAL write lock (-shm byte 120)" if mode == "wal" else _rollback_lock(last, pid),
        "held_for_seconds": round(held_for, 2),
        "commits_meanwhile": 0,
        "wal_bytes": last.wal_size,
        "waiting_pids": list(last.locks.waiting),
    }
    message = (
        f"pid {pid} ({_short(str(evidence['command']))}) has held the write lock on {ctx.db} for at least "
        f"{held_for:.1f} s without committing: every other writer waits for it and fails with "
        "`database is locked` once its busy_timeout runs out"
    )
    # Rollback mode: a writer holding PENDING is itself waiting, for the readers' SHARED locks to go.
    readers = sorted(set(last.locks.shared) - {pid}) if pid in last.locks.pending else []
    if readers:
        evidence["blocking_readers"] = readers
        message += f"; it is itself waiting for the readers holding SHARED (pid {', '.join(map(str, readers))})"
    report.findings.append(CODES["database-locked"].finding(message, evidence))


def _short(command: str, width: int = 60) -> str:
    """A command line fit for one message (the evidence keeps all of it)."""
    return command if len(command) <= width else command[: width - 1] + "…"


def _rollback_lock(sample: LockSample, pid: int) -> str:
    if pid in sample.locks.exclusive:
        return "EXCLUSIVE (database file bytes 0x40000002-0x400001ff)"
    if pid in sample.locks.pending:
        return "PENDING (database file byte 0x40000000)"
    return "RESERVED (database file byte 0x40000001)"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"
