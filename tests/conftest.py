from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import FIXTURES
from tests.litestream_harness import binary

# Every test sees the same world: Litestream 0.5.17 (no known defect) as "the" binary,
# and no Litestream config unless a test writes one. Tests about a missing binary or a
# discovered config set their own environment.
os.environ["LITEFIX_LITESTREAM"] = str(binary("0.5.17"))
os.environ.pop("LITESTREAM_CONFIG", None)

pytest_plugins = ["tests.s3server"]

EXPECTED: dict[str, list[str]] = json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture
def state(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a committed fixture state into a fresh directory; return the path of its app.db."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target, symlinks=True)
        return target / "app.db"

    return copy
