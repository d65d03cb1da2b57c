"""The database file itself: is it there, is it a file, is it SQLite, is it whole.

Constant time: one lstat/stat per path and the first 100 bytes of the file.
"""

from __future__ import annotations

import os

from litefix.codes import CODES
from litefix.diagnose.context import Context, file_state
from litefix.diagnose.inspectors import Report, summarized
from litefix.formats.sqlite_header import HeaderError, format_sqlite_version, parse_header
from litefix.model import JSON, Severity

JOURNAL_MAGIC = bytes.fromhex("d9d505f920a163d7")


def wal_reset_bug_affected(version_number: int) -> bool:
    """SQLite 3.7.0 through 3.51.2 carry the WAL-reset race, except the 3.44.6 and 3.50.7 backports."""
    if not 3_007_000 <= version_number <= 3_051_002:
        return False
    minor, patch = version_number // 1000 % 1000, version_number % 1000
    return not ((minor == 44 and patch >= 6) or (minor == 50 and patch >= 7))


def _summary(facts: dict[str, JSON]) -> str:
    header = facts.get("header") or {}
    if not isinstance(header, dict) or not header:
        return "no database file yet"
    mode = "WAL mode" if header.get("wal_mode") else "rollback journal"
    return f"{header.get('page_count')} pages of {header.get('page_size')} bytes, {mode}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    report = Report()
    state = ctx.db_state
    report.facts["file"] = state.to_json()
    report.facts["sidecars"] = {
        suffix: file_state(path).to_json() for suffix, path in ctx.sidecar_paths().items() if os.path.lexists(path)
    }
    if not state.exists:
        _missing(ctx, report)
        return report
    if state.kind == "directory":
        report.findings.append(
            CODES["not-a-database"].finding(
                f"{ctx.db} is a directory, not a database file",
                {"path": ctx.db, "kind": "directory"},
                hint="a volume or bind mount may have created a directory at this path; "
                "mount the directory that holds the database instead, then restore",
            )
        )
        return report
    if state.kind != "file":
        report.findings.append(
            CODES["not-a-database"].finding(
                f"{ctx.db} is not a regular file",
                {"path": ctx.db, "kind": state.kind},
            )
        )
        return report
    if state.size == 0:
        report.findings.append(
            CODES["database-empty"].finding(
                f"{ctx.db} is empty (0 bytes)",
                {"path": ctx.db, "size": 0, "sidecars": sorted(report.facts["sidecars"])},
            )
        )
        return report
    data = ctx.header_bytes
    try:
        header = parse_header(data)
    except HeaderError as exc:
        report.findings.append(
            CODES["not-a-database"].finding(
                f"{ctx.db} is not an SQLite database: {exc}",
                {"path": ctx.db, "size": state.size, "first_bytes": data[:16].hex()},
            )
        )
        return report
    report.facts["header"] = header.to_json()
    _check_mode(ctx, header.wal_mode, report)
    _check_size(ctx, report)
    version = header.sqlite_version_number
    if header.version_valid_for == header.change_counter and wal_reset_bug_affected(version):
        report.findings.append(
            CODES["sqlite-wal-reset-bug"].finding(
                f"{ctx.db} was last written by SQLite {format_sqlite_version(version)}, "
                "which has the WAL-reset corruption race",
                {"sqlite_version": format_sqlite_version(version), "header_offset": 96},
            )
        )
    return report


def _missing(ctx: Context, report: Report) -> None:
    state = ctx.db_state
    evidence: dict[str, object] = {"path": ctx.db, "directory_exists": os.path.isdir(os.path.dirname(ctx.db))}
    sidecars = sorted(report.facts["sidecars"])
    if sidecars:
        evidence["sidecars_left_behind"] = sidecars
    if state.is_symlink:
        evidence["symlink_target"] = state.symlink_target
        message = f"{ctx.db} is a symlink to {state.symlink_target}, which does not exist"
    else:
        message = f"no database at {ctx.db}"
    hint = CODES["database-missing"].fix
    if sidecars:
        hint += " Move the leftover " + ", ".join(sidecars) + " aside first: a restore would merge them."
    report.findings.append(CODES["database-missing"].finding(message, evidence, hint=hint))


def _check_mode(ctx: Context, wal_mode: bool, report: Report) -> None:
    header = ctx.require_header()
    if wal_mode:
        return
    report.findings.append(
        CODES["not-wal-mode"].finding(
            f"{ctx.db} is in rollback-journal mode (header bytes 18-19 = {header.write_version:02x} "
            f"{header.read_version:02x}, WAL is 02 02)",
            {"write_version": header.write_version, "read_version": header.read_version},
            severity=Severity.INFO,
        )
    )
    journal = file_state(ctx.journal_path)
    if journal.kind == "file" and journal.size >= 8:
        with open(ctx.journal_path, "rb") as fh:
            magic = fh.read(8)
        if magic == JOURNAL_MAGIC:
            report.findings.append(
                CODES["hot-journal"].finding(
                    f"{ctx.journal_path} holds an interrupted transaction ({journal.size} bytes)",
                    {"journal": ctx.journal_path, "size": journal.size, "magic": magic.hex()},
                )
            )


def _check_size(ctx: Context, report: Report) -> None:
    header = ctx.require_header()
    size = ctx.db_state.size
    pages, remainder = divmod(size, header.page_size)
    report.facts["pages_in_file"] = pages
    evidence: dict[str, object] = {
        "file_size": size,
        "page_size": header.page_size,
        "pages_in_file": pages,
        "header_page_count": header.page_count,
        "header_page_count_valid": header.page_count_valid,
    }
    if remainder:
        evidence["partial_page_bytes"] = remainder
        report.findings.append(
            CODES["database-truncated"].finding(
                f"{ctx.db} ends with a partial page ({remainder} of {header.page_size} bytes)",
                evidence,
            )
        )
        return
    if header.page_count_valid and pages < header.page_count:
        # In WAL mode the missing pages may still be in the -wal (an interrupted
        # checkpoint); only a file short of both is really truncated.
        wal = ctx.wal
        if wal is not None and wal.committed_frames and (wal.db_pages or 0) >= header.page_count:
            report.facts["pages_only_in_wal"] = header.page_count - pages
            return
        report.findings.append(
            CODES["database-truncated"].finding(
                f"{ctx.db} holds {pages} pages but its header says {header.page_count}",
                evidence,
            )
        )
