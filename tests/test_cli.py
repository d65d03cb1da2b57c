"""What a user sees: one plain sentence per problem, documented exit codes, never a traceback."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import NOBODY, Result, as_nobody, codes, litefix

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err + result.out, result.err


@pytest.mark.parametrize(
    ("name", "code", "exit_code", "says"),
    [
        ("directory", "not-a-database", 1, "is a directory"),
        ("empty", "database-empty", 0, "is empty (0 bytes)"),
        ("garbage", "not-a-database", 1, "not the SQLite magic"),
        ("truncated-header", "not-a-database", 1, "header is truncated: 50 of 100 bytes"),
        ("wal-7-bytes", "wal-corrupt", 1, "shorter than its 32-byte header"),
        ("wal-garbage-frames", "wal-corrupt", 0, "is not SQLite data"),
        ("dangling-symlink", "database-missing", 1, "/nonexistent/volume/app.db, which does not exist"),
        ("missing", "database-missing", 1, "no database at"),
    ],
)
def test_bad_input_gets_one_clear_sentence(
    name: str, code: str, exit_code: int, says: str, state: Callable[[str], Path]
) -> None:
    result = litefix("diagnose", state(name))
    no_traceback(result)
    assert result.code == exit_code, result.out + result.err
    assert code in result.out
    assert says in " ".join(result.out.split())  # the table wraps long messages


def test_fail_on_sets_the_threshold(state: Callable[[str], Path]) -> None:
    db = state("wal-garbage-frames")  # one warning
    assert litefix("diagnose", db).code == 0
    assert litefix("diagnose", db, "--fail-on", "warning").code == 1
    assert litefix("diagnose", state("healthy"), "--fail-on", "info").code == 0
    assert litefix("diagnose", state("old-sqlite-writer"), "--fail-on", "info").code == 1


def test_json_document_follows_the_documented_schema(state: Callable[[str], Path]) -> None:
    result = litefix("diagnose", state("incident"), "--json")
    doc = result.json()
    assert set(doc) == {"db", "healthy", "inspected", "findings", "inspectors"}
    assert doc["healthy"] is False and doc["inspected"] is True
    for finding in doc["findings"]:
        assert set(finding) == {"code", "severity", "message", "evidence", "strategies", "hint", "inspector"}
        assert finding["severity"] in ("info", "warning", "error")
        assert set(finding["strategies"]) <= {"restore", "init", "quarantine"}
        assert isinstance(finding["evidence"], dict) and finding["evidence"]
    for run in doc["inspectors"]:
        assert run["status"] in ("ok", "skipped", "failed")
    assert codes(result) == ["integrity-failed", "litestream-tables-missing", "wal-mismatch"]
    assert result.code == 1


def test_human_report_ends_with_a_verdict(state: Callable[[str], Path]) -> None:
    healthy = litefix("diagnose", state("healthy"))
    assert healthy.out.strip().splitlines()[-1].startswith("healthy: ")
    sick = litefix("diagnose", state("incident"))
    assert sick.out.strip().splitlines()[-1].startswith("unhealthy: ")
    assert "3 errors" in sick.out


@pytest.mark.parametrize(
    "args",
    [
        ("diagnose",),
        ("diagnose", "x.db", "--fail-on", "fatal"),
        ("diagnose", "x.db", "--integrity", "deep"),
        ("no-such-command",),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...]) -> None:
    result = litefix(*args)
    no_traceback(result)
    assert result.code == 2, result.err


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    """A directory another user can reach (pytest's tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="litefix-perm-"))
    path.chmod(0o755)
    yield path
    for root, dirs, _files in os.walk(path):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
    shutil.rmtree(path)


def _as_other_user() -> int | None:
    """Run as `nobody` when we are root (root ignores file modes), else as ourselves."""
    if os.geteuid() != 0:
        return None
    as_nobody()
    return NOBODY


def test_unreadable_database_exits_3_with_a_sentence(world_readable_dir: Path) -> None:
    user = _as_other_user()
    db = world_readable_dir / "app.db"
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "healthy" / "app.db", db)
    db.chmod(0o000)
    result = litefix("diagnose", db, user=user)
    no_traceback(result)
    assert result.code == 3, result.out + result.err
    assert f"cannot read {db}: permission denied" in result.out


def test_unreadable_directory_exits_3_with_a_sentence(world_readable_dir: Path) -> None:
    user = _as_other_user()
    private = world_readable_dir / "private"
    private.mkdir()
    shutil.copy(Path(__file__).parent.parent / "fixtures" / "healthy" / "app.db", private / "app.db")
    private.chmod(0o000)
    result = litefix("diagnose", private / "app.db", user=user)
    no_traceback(result)
    assert result.code == 3, result.out + result.err
    assert "permission denied" in result.out + result.err
