"""Every bundled state gives exactly its finding codes, and regenerating them changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from litefix.diagnose.context import Options
from litefix.diagnose.runner import diagnose
from litefix.model import Severity
from tests.conftest import EXPECTED
from tests.helpers import FIXTURES

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)


def significant_codes(db: Path) -> list[str]:
    diagnosis = diagnose(db, Options(integrity="full"))
    assert diagnosis.inspected, [run.reason for run in diagnosis.inspectors]
    return sorted({f.code for f in diagnosis.findings})


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bundled_state_gives_its_codes(name: str, state: Callable[[str], Path]) -> None:
    assert significant_codes(state(name)) == sorted(EXPECTED[name])


@pytest.mark.parametrize("name", ["healthy", "healthy-uncheckpointed"])
def test_healthy_states_have_no_warning_or_error(name: str, state: Callable[[str], Path]) -> None:
    diagnosis = diagnose(state(name), Options(integrity="full"))
    assert diagnosis.healthy
    assert diagnosis.at_or_above(Severity.INFO) == ()


def test_every_finding_carries_evidence_strategies_field_and_hint(state: Callable[[str], Path]) -> None:
    seen = set()
    for name in EXPECTED:
        for finding in diagnose(state(name), Options(integrity="full")).findings:
            seen.add(finding.code)
            assert finding.evidence, finding
            assert finding.message and "\n" not in finding.message, finding
            assert finding.hint, finding
    assert seen == {code for codes in EXPECTED.values() for code in codes}


def test_regenerated_fixtures_diagnose_the_same(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(FIXTURES / "generate.py"), str(tmp_path)], check=True)
    assert (tmp_path / "expected.json").read_text() == (FIXTURES / "expected.json").read_text()
    for name, expected in EXPECTED.items():
        assert significant_codes(tmp_path / name / "app.db") == sorted(expected), name
