"""The README tells the truth: its tables come from the code, and every command is in it."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT, litefix


def test_readme_tables_match_the_code() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "docs.py"), "--check"], check=False)
    assert result.returncode == 0, "README.md tables are stale: run `python tools/docs.py`"


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    help_text = litefix("--help").out
    commands = [line.split()[0] for line in help_text.split("Commands:")[1].splitlines() if line.strip()]
    assert commands
    headings = [line for line in readme.splitlines() if line.startswith("#")]
    for command in commands:
        assert any(f"litefix {command}" in h for h in headings), f"README.md has no section for `litefix {command}`"


def test_readme_opens_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("## Why")]
    assert "make demo" in head and "make test" in head
    assert "make test" in (ROOT / ".ci" / "run").read_text()
