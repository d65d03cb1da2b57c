"""Which litestream, which version, and what it is known to get wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from packaging.version import Version

from litefix.system.litestream import Binary, build_version, version_risks
from tests.helpers import FIXTURES, litefix
from tests.litestream_harness import binary

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)


@pytest.mark.parametrize("version", ["0.3.13", "0.5.15", "0.5.17"])
def test_version_read_from_go_build_info_matches_litestream_version(version: str) -> None:
    path = str(binary(version))
    said = subprocess.run([path, "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert build_version(path) == said
    assert Binary(path, "test").version == Version(version)


def test_a_file_that_is_not_a_go_binary_has_no_build_version(tmp_path: Path) -> None:
    assert build_version("/bin/sh") is None
    junk = tmp_path / "litestream"
    junk.write_bytes(b"\x7fELF" + bytes(100))
    assert build_version(str(junk)) is None


@pytest.mark.parametrize(
    ("version", "sqlite_date", "titles"),
    [
        (
            "0.3.13",
            "2023-05-16",
            {"0.3 restores the most recently updated generation", "embedded SQLite has the WAL-reset corruption race"},
        ),
        (
            "0.5.0",
            "2025-09-01",
            {"0.5.0 does not replicate after a restore", "embedded SQLite has the WAL-reset corruption race"},
        ),
        (
            "0.5.6",
            "2026-01-20",
            {"0.5.6-0.5.7 stop replicating without an error", "embedded SQLite has the WAL-reset corruption race"},
        ),
        ("0.5.7", "2026-04-09", {"0.5.6-0.5.7 stop replicating without an error"}),
        ("0.5.17", "2026-04-09", set()),
    ],
)
def test_known_bad_versions_are_named(version: str, sqlite_date: str, titles: set[str]) -> None:
    assert {r.title for r in version_risks(Version(version), sqlite_date)} == titles


def test_the_bundled_sqlite_of_each_installed_build_is_known() -> None:
    assert Binary(str(binary("0.3.13")), "t").embedded_sqlite[1] == "2023-05-16"  # WAL-reset bug: affected
    assert Binary(str(binary("0.5.17")), "t").embedded_sqlite[1] == "2026-04-09"  # 3.53.0: fixed
    described, date = Binary(str(binary("0.5.15")), "t").embedded_sqlite  # not in the table: scanned
    assert date is not None and "source id" in described


def test_no_litestream_anywhere_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LITEFIX_LITESTREAM"}
    env["PATH"] = str(tmp_path)
    result = litefix("diagnose", FIXTURES / "healthy" / "app.db", "--json", env=env)
    [finding] = [f for f in result.json()["findings"] if f["code"] == "litestream-missing"]
    assert finding["severity"] == "info" and result.code == 0


def test_a_named_binary_that_is_not_there_is_a_usage_error() -> None:
    result = litefix("diagnose", FIXTURES / "healthy" / "app.db", "--litestream", "/nonexistent/litestream")
    assert result.code == 2 and "not an executable file" in result.err and "Traceback" not in result.err


def test_0_3_13_on_path_is_flagged_as_info(tmp_path: Path) -> None:
    env = {**os.environ, "LITEFIX_LITESTREAM": str(binary("0.3.13"))}
    result = litefix("diagnose", FIXTURES / "healthy" / "app.db", "--json", env=env)
    [finding] = [f for f in result.json()["findings"] if f["code"] == "litestream-version-risk"]
    assert finding["severity"] == "info"  # latent defects: the database is still healthy
    assert result.json()["healthy"] is True
