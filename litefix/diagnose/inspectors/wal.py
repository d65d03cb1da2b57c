"""The -wal: what SQLite will apply, what it will ignore, and whether it belongs here.

Streams the file once (see formats/wal.py). A WAL next to a *missing* database is
inspected too: a restore into that path would silently merge it.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context
from litefix.diagnose.inspectors import Report, summarized
from litefix.formats.sqlite_header import HeaderError, parse_header
from litefix.formats.wal import WalScan, read_frame_page
from litefix.model import JSON, Severity


def _summary(facts: dict[str, JSON]) -> str:
    if facts.get("exists") is False:
        return "no -wal (clean)"
    frames = facts.get("committed_frames", 0)
    return f"{frames} committed frame{'s' if frames != 1 else ''}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    return ctx.wal_report


def check_wal(ctx: Context) -> Report:
    """The checks themselves; the context runs them once (`ctx.wal_report`), for this inspector and for the
    schema readers that must let SQLite judge a suspect WAL."""
    report = Report()
    state = ctx.wal_state
    report.facts["path"] = ctx.wal_path
    if not state.exists:
        report.facts["exists"] = False
        return report
    if state.kind != "file":
        report.findings.append(
            CODES["wal-corrupt"].finding(
                f"{ctx.wal_path} is a {state.kind}, not a file",
                {"path": ctx.wal_path, "kind": state.kind},
            )
        )
        return report
    scan = ctx.wal
    assert scan is not None
    report.facts.update(scan.to_json())
    if scan.size == 0:
        return report
    if scan.header is None:
        _corrupt_header(ctx, scan, report)
        return report
    _check_chain(ctx, scan, report)
    _check_belongs(ctx, scan, report)
    return report


def _corrupt_header(ctx: Context, scan: WalScan, report: Report) -> None:
    evidence: dict[str, object] = {"path": ctx.wal_path, "size": scan.size, "error": scan.header_error}
    with open(ctx.wal_path, "rb") as fh:
        evidence["first_bytes"] = fh.read(32).hex()
    if scan.size < 32:
        hint = (
            "a -wal shorter than its header is ignored by SQLite and makes Litestream 0.3 fail with "
            "`read header: EOF`; with every writer stopped, quarantine it: `litefix repair DB --strategy quarantine`"
        )
    else:
        hint = CODES["wal-corrupt"].fix
    report.findings.append(
        CODES["wal-corrupt"].finding(
            f"{ctx.wal_path} has an unusable header ({scan.header_error}); SQLite ignores all {scan.size} bytes of it",
            evidence,
            hint=hint,
        )
    )


def _check_chain(ctx: Context, scan: WalScan, report: Report) -> None:
    assert scan.header is not None
    evidence: dict[str, object] = {
        "path": ctx.wal_path,
        "size": scan.size,
        "frame_size": scan.frame_size,
        "valid_frames": scan.valid_frames,
        "committed_frames": scan.committed_frames,
        "last_commit_ends_at": scan.committed_end,
    }
    if scan.stop_reason:
        evidence["chain_stops_at_frame"] = scan.stop_frame
        evidence["chain_stop_reason"] = scan.stop_reason
    if scan.intact_after_break:
        lost = scan.commits_after_break
        evidence.update(intact_frames_after_break=scan.intact_after_break, commits_after_break=lost)
        report.findings.append(
            CODES["wal-corrupt"].finding(
                f"{ctx.wal_path}: frame {scan.stop_frame} is damaged ({scan.stop_reason}) but "
                f"{scan.intact_after_break} valid frames follow it; SQLite ignores them, losing {lost} "
                "committed transactions",
                evidence,
            )
        )
        return
    if scan.stop_reason == "garbage":
        report.findings.append(
            CODES["wal-corrupt"].finding(
                f"{ctx.wal_path}: frame {scan.stop_frame} onwards is not SQLite data (its salts match "
                "no WAL cycle); SQLite ignores it",
                evidence,
                severity=Severity.WARNING,
                hint="the -wal was overwritten or damaged after its last valid frame; check the disk, then "
                "compare with the replica (`litefix diagnose DB --compare`)",
            )
        )
        return
    torn = scan.uncommitted_frames or scan.stop_reason in ("checksum", "pgno-zero", "partial")
    if torn:
        tail = scan.size - scan.committed_end
        if scan.stop_reason == "salt":  # stale frames of an earlier cycle are not part of the tail
            tail = (scan.valid_frames - scan.committed_frames) * scan.frame_size
        evidence["torn_bytes"] = tail
        evidence["uncommitted_frames"] = scan.uncommitted_frames
        report.findings.append(
            CODES["wal-torn-tail"].finding(
                f"{ctx.wal_path}: {tail} bytes after {_last_commit(scan)} are an interrupted write that "
                "SQLite will discard",
                evidence,
            )
        )


def _last_commit(scan: WalScan) -> str:
    if scan.committed_frames:
        return f"the last commit (frame {scan.committed_frames})"
    return "the header (no transaction in this WAL ever committed)"


def _check_belongs(ctx: Context, scan: WalScan, report: Report) -> None:
    """Evidence that this WAL was written for another database file."""
    assert scan.header is not None
    if not scan.committed_frames:
        return
    if not ctx.db_state.exists:
        report.findings.append(
            CODES["wal-mismatch"].finding(
                f"{ctx.wal_path} holds {scan.committed_frames} committed frames but the database it belongs to "
                "is gone; a restore into this path would merge them into the restored file",
                {"path": ctx.wal_path, "committed_frames": scan.committed_frames, "database": "missing"},
                hint="quarantine the leftover -wal/-shm before restoring: `litefix repair DB --strategy restore` "
                "does both",
            )
        )
        return
    header = ctx.header
    if header is None:
        return
    evidence: dict[str, object] = {
        "wal_page_size": scan.header.page_size,
        "database_page_size": header.page_size,
        "committed_frames": scan.committed_frames,
    }
    if scan.header.page_size != header.page_size:
        report.findings.append(
            CODES["wal-mismatch"].finding(
                f"{ctx.wal_path} has {scan.header.page_size}-byte pages but {ctx.db} has {header.page_size}-byte "
                "pages; this WAL was written for another database",
                evidence,
            )
        )
        return
    page_count = header.page_count if header.page_count_valid else None
    if scan.last_page1_frame is not None:
        page1 = read_frame_page(ctx.wal_path, scan, scan.last_page1_frame)
        evidence["page1_frame"] = scan.last_page1_frame
        try:
            wal_page1 = parse_header(page1[:100])
        except HeaderError as exc:
            evidence["page1_error"] = str(exc)
            report.findings.append(
                CODES["wal-mismatch"].finding(
                    f"{ctx.wal_path} frame {scan.last_page1_frame} holds page 1 but it is not a database "
                    f"header ({exc})",
                    evidence,
                )
            )
            return
        evidence.update(wal_change_counter=wal_page1.change_counter, database_change_counter=header.change_counter)
        # Page 1 only reaches the database file through a checkpoint of this WAL, so
        # the WAL's newest page 1 can never be older than the file's.
        if wal_page1.change_counter < header.change_counter:
            report.findings.append(
                CODES["wal-mismatch"].finding(
                    f"{ctx.wal_path} is older than {ctx.db}: its page 1 has change counter "
                    f"{wal_page1.change_counter}, the file's has {header.change_counter}; the WAL was left "
                    "behind when the database file was replaced",
                    evidence,
                )
            )
            return
        page_count = wal_page1.page_count if wal_page1.page_count_valid else None
    # Every commit that changes the database size rewrites page 1 (the size lives in
    # its header), so the last commit's size must equal the newest page 1's.
    if page_count is not None and scan.db_pages is not None and scan.db_pages != page_count:
        evidence.update(wal_last_commit_pages=scan.db_pages, page1_page_count=page_count)
        report.findings.append(
            CODES["wal-mismatch"].finding(
                f"{ctx.wal_path} ends with a commit of a {scan.db_pages}-page database but page 1 "
                f"{'in the WAL' if scan.last_page1_frame else 'of ' + ctx.db} says {page_count} pages: "
                "this WAL was written for another database file",
                evidence,
            )
        )
