"""Real lines users posted in public Litestream threads (tests/corpus/threads.json, with each thread's
URL and what it concluded), explained without tuning to lines built here."""

from __future__ import annotations

import json

from litefix.explain import explain
from tests.helpers import ROOT

THREADS = json.loads((ROOT / "tests" / "corpus" / "threads.json").read_text())


def test_at_least_90_percent_of_real_threads_get_the_cause_the_thread_reached() -> None:
    results = {}
    for thread in THREADS:
        explanation = explain("\n".join(thread["lines"]))
        results[thread["url"]] = thread["expect"] in explanation.ids()
        assert explanation.has_errors, thread["url"]  # every thread here is an error report
    hits = sum(results.values())
    assert hits >= 0.9 * len(results), [u for u, ok in results.items() if not ok]


def test_no_thread_gets_a_cause_its_version_rules_out() -> None:
    for thread in THREADS:
        explanation = explain("\n".join(thread["lines"]))
        from litefix.explain.catalogue import load

        versions = load().versions
        for group in explanation.known:
            if group.signature and group.signature.applies and explanation.versions != "any":
                allowed = versions.mask(group.signature.applies)
                inferred = versions.mask(explanation.versions.replace("–", "..").replace(", ", " "))
                assert allowed & inferred or not inferred, (thread["url"], group.key, explanation.versions)
