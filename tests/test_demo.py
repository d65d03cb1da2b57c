"""The README's main job: the incident, end to end, on both Litestream versions, in well under a minute."""

from __future__ import annotations

import time

import pytest

from tests.helpers import litefix
from tests.litestream_harness import VERSIONS, binary

pytestmark = pytest.mark.litestream  # diagnose runs the real binary (version, risks)

SEED = "checkpoint: mode=PASSIVE err=release read lock: no such table: _litestream_seq"


def test_demo_reproduces_diagnoses_and_repairs_the_incident_on_both_versions() -> None:
    started = time.monotonic()
    args = [a for v in VERSIONS for a in ("--litestream", str(binary(v)))]
    result = litefix("demo", *args, timeout=300)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.out + result.err
    out = " ".join(result.out.split())
    assert SEED in out  # 0.3.13 logs the incident's exact line
    assert "no such table: _litestream_lock" in out  # and 0.5.17 its own form of it
    assert out.count("litestream-replaced") >= 2
    assert out.count("Litestream errors: 0") == 2
    assert out.count(": equal (") == 2
    assert elapsed < 60, elapsed
