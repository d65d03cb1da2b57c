from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import FIXTURES

EXPECTED: dict[str, list[str]] = json.loads((FIXTURES / "expected.json").read_text())


@pytest.fixture
def state(tmp_path: Path) -> Callable[[str], Path]:
    """Copy a committed fixture state into a fresh directory; return the path of its app.db."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(FIXTURES / name, target, symlinks=True)
        return target / "app.db"

    return copy
