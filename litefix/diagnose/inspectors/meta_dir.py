"""Litestream's local state beside the database, and whether it still matches the -wal.

0.3 keeps `generation` and shadow WALs (byte copies of the -wal, one per restart);
0.5 keeps L0 LTX files whose headers record the -wal salts, offset and size they
were cut from. If those no longer describe the live -wal, the next Litestream
start clears the generation (0.3) or takes a full snapshot (0.5): the evidence
that the file changed while Litestream was not watching.

While Litestream runs its meta dir moves with every sync, so the comparison is
made only when no Litestream holds the database (the processes inspector covers
a running one).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.errors import os_error_sentence
from litefix.formats.wal import WalScan
from litefix.model import JSON, Finding

# The newest L0 files are the ones a restart relies on; checksumming them all would make the
# cost grow with the write volume of the last five minutes (L0 retention), so the newest are
# verified up to this many bytes (always at least one file). Headers are read for every file.
VERIFY_BYTES = 8 << 20


def _summary(facts: dict[str, JSON]) -> str:
    if facts.get("exists") is False:
        return "no Litestream state yet"
    where = f", TXID {facts['local_txid']}" if facts.get("local_txid") else ""
    where = f", generation {facts['generation']}" if facts.get("generation") else where
    return f"{facts.get('format')} state{where}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    return ctx.local_state_report


def check_meta_dir(ctx: Context) -> Report:
    """The checks themselves; the context runs them once (`ctx.local_state_report`), for this inspector and
    for the replica's lag, which needs what the local state has not synced yet."""
    report = Report()
    meta = ctx.meta_dir
    report.facts["path"] = meta
    if not os.path.isdir(meta):
        report.facts["exists"] = False
        return report
    has_03 = os.path.exists(os.path.join(meta, "generation")) or os.path.isdir(os.path.join(meta, "generations"))
    has_05 = os.path.isdir(os.path.join(meta, "ltx"))
    report.facts["format"] = "+".join(f for f, present in (("0.3", has_03), ("0.5", has_05)) if present) or "empty"
    running = ctx.litestream_running
    wal = ctx.wal if ctx.wal_state.exists else None
    if has_03:
        _inspect_03(ctx, meta, wal, running, report)
    if has_05:
        _inspect_05(ctx, meta, wal, running, report)
    if not ctx.db_state.exists and (has_03 or has_05):
        report.findings.append(
            _mismatch(
                f"{meta} holds Litestream state for {ctx.db}, which does not exist",
                {"meta_dir": meta, "database": "missing"},
                hint="restore the database (`litefix repair DB --strategy restore`); the stale meta dir is "
                "quarantined by the restore",
            )
        )
    return report


def _mismatch(message: str, evidence: dict[str, object], hint: str | None = None) -> Finding:
    return CODES["litestream-state-mismatch"].finding(message, evidence, hint=hint)


def _live_wal_note(wal: WalScan | None) -> str | None:
    if wal is None:
        return "the -wal does not exist (normal after the last connection closed)"
    if wal.header is None:
        return "the -wal is empty or has no valid header"
    return None


def _inspect_03(ctx: Context, meta: str, wal: WalScan | None, running: bool, report: Report) -> None:
    from litefix.formats.generations import GenerationsError, list_shadow_wals, read_generation

    try:
        generation = read_generation(meta)
    except GenerationsError as exc:
        report.facts["generation_error"] = str(exc)
        report.findings.append(_mismatch(f"{meta}: {exc}", {"meta_dir": meta, "error": str(exc)}))
        return
    report.facts["generation"] = generation
    if generation is None:
        return
    shadows = list_shadow_wals(meta, generation)
    report.facts["shadow_wals"] = [s.index for s in shadows]
    if not shadows:
        return
    last = shadows[-1]
    report.facts["shadow_wal"] = {"index": last.index, "size": last.size, "path": str(last.path)}
    try:
        last.read_header()  # a shadow WAL without a valid header is itself a mismatch
    except GenerationsError as exc:
        report.findings.append(_mismatch(str(exc), {"shadow_wal": str(last.path), "error": str(exc)}))
        return
    report.facts["position"] = f"{generation}/{last.index:08x}:{last.size}"
    note = _live_wal_note(wal)
    if running:
        report.facts["comparison"] = "skipped: Litestream is running (its shadow WAL follows the -wal)"
        return
    if note:
        report.facts["comparison"] = f"skipped: {note}; the next start begins a new generation"
        return
    assert wal is not None and wal.header is not None
    with open(ctx.wal_path, "rb") as fh:
        live = fh.read(32)
    with open(last.path, "rb") as fh:
        shadow = fh.read(32)
    evidence: dict[str, object] = {
        "generation": generation,
        "shadow_wal": str(last.path),
        "shadow_header": shadow.hex(),
        "wal_header": live.hex(),
        "shadow_size": last.size,
        "wal_committed_end": wal.committed_end,
    }
    if live != shadow:
        report.findings.append(
            _mismatch(
                f"{ctx.wal_path} header differs from Litestream's shadow WAL {last.path.name} of generation "
                f"{generation}: the next start clears the generation and takes a new snapshot",
                evidence,
            )
        )
    elif last.size > wal.committed_end:
        report.findings.append(
            _mismatch(
                f"Litestream's shadow WAL ({last.size} bytes) is longer than the committed part of "
                f"{ctx.wal_path} ({wal.committed_end} bytes): the -wal was truncated or replaced",
                evidence,
            )
        )
    else:
        report.facts["unsynced_wal_bytes"] = wal.committed_end - last.size


def _inspect_05(ctx: Context, meta: str, wal: WalScan | None, running: bool, report: Report) -> None:
    from litefix.formats.ltx import LtxError, list_ltx_tmp_files, scan_ltx_dir
    from litefix.formats.ltx_pages import ltx_page_sums

    files = [f for f in scan_ltx_dir(meta) if f.level == 0]
    tmp = list_ltx_tmp_files(meta)
    if tmp:
        report.facts["interrupted_writes"] = [str(t.path) for t in tmp][:10]
    report.facts["l0_files"] = len(files)
    if not files:
        return
    files.sort(key=lambda f: (f.max_txid or 0, f.min_txid or 0))
    bad_headers = [
        f for f in files if (f.header is None and not f.unreadable) or (f.header and not f.name_matches_header)
    ]
    unreadable = [f.header_error for f in files if f.unreadable]
    corrupt = []
    budget = VERIFY_BYTES
    verified = 0
    for info in reversed(files):
        if info.size > budget:
            if not verified:
                report.facts["l0_not_verified"] = f"{info.name}: {info.size} bytes, over the {VERIFY_BYTES}-byte budget"
            break
        budget -= info.size
        verified += 1
        try:
            ltx_page_sums(info.path, verify=True)  # one pass in C; raises on a bad file checksum
        except FileNotFoundError:
            continue  # compacted away by a running Litestream since the listing: not damage
        except LtxError as exc:
            corrupt.append({"file": str(info.path), "error": str(exc)})
        except OSError as exc:  # a file litefix may not read says nothing about its bytes
            verified -= 1
            if not info.unreadable:
                unreadable.append(os_error_sentence(exc, info.path))
    report.facts["l0_files_verified"] = verified
    if unreadable:
        report.facts["l0_unreadable"] = unreadable[:10]
    if bad_headers or corrupt:
        evidence: dict[str, object] = {
            "bad_headers": [{"file": str(f.path), "error": f.header_error} for f in bad_headers][:10],
            "checksum_failures": corrupt[:10],
        }
        report.findings.append(
            _mismatch(
                f"{len(bad_headers) + len(corrupt)} of Litestream's local LTX files in {meta} are damaged",
                evidence,
                hint="stop Litestream and let it re-initialise from the database: `litefix repair DB --strategy init`",
            )
        )
    last = files[-1]
    header = last.header
    report.facts["local_txid"] = f"{last.max_txid or 0:016x}"
    if header is None:
        return
    report.facts["last_l0"] = {"file": Path(last.path).name, **header.to_json()}
    # A database replaced under (or between runs of) Litestream shows as a sudden shrink.
    commits = [(f.max_txid, f.header.commit) for f in files if f.header is not None]
    shrinks = [(a, b) for a, b in itertools.pairwise(commits) if b[1] < a[1] // 2 and a[1] > 4]
    if shrinks:
        report.facts["commit_shrinks"] = [
            {"from_txid": f"{a[0]:016x}", "pages": a[1], "to_txid": f"{b[0]:016x}", "to_pages": b[1]}
            for a, b in shrinks[-3:]
        ]
    note = _live_wal_note(wal)
    if running:
        report.facts["comparison"] = "skipped: Litestream is running (its L0 files follow the -wal)"
        return
    if note:
        report.facts["comparison"] = f"skipped: {note}; the next start takes a snapshot"
        return
    assert wal is not None and wal.header is not None
    end = header.wal_offset + header.wal_size
    evidence = {
        "last_l0": str(last.path),
        "l0_wal_salts": [f"0x{header.wal_salt1:08x}", f"0x{header.wal_salt2:08x}"],
        "wal_salts": [f"0x{wal.header.salt1:08x}", f"0x{wal.header.salt2:08x}"],
        "l0_wal_end": end,
        "wal_committed_end": wal.committed_end,
    }
    if header.wal_salts != wal.header.salts:
        report.findings.append(
            _mismatch(
                f"{ctx.wal_path} is not the WAL Litestream last synced (salts differ from {Path(last.path).name}): "
                "the next start takes a full snapshot",
                evidence,
            )
        )
    elif end > wal.committed_end:
        report.findings.append(
            _mismatch(
                f"Litestream synced {ctx.wal_path} up to byte {end} but its committed part now ends at "
                f"{wal.committed_end}: the -wal was truncated or replaced",
                evidence,
            )
        )
    else:
        report.facts["unsynced_wal_bytes"] = wal.committed_end - end
