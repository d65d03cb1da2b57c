"""Real lines users posted in public Litestream threads, explained without tuning to lines built here.

tests/corpus/threads.json holds, per thread, its URL, the release the reporter ran, what the
thread concluded, the lines as posted (shippers' prefixes and all; where the source was cut,
the line is cut there too) and the signature plus one keyword of the conclusion that a right
explanation must carry. Threads without a conclusion litefix can name have `expect: null`:
those lines must be reported honestly (catalogued or unknown, still failing the pipeline), not
given a cause.
"""

from __future__ import annotations

import json
from typing import Any

from litefix.explain import Explanation, explain
from litefix.explain.catalogue import load
from tests.helpers import ROOT

THREADS: list[dict[str, Any]] = json.loads((ROOT / "tests" / "corpus" / "threads.json").read_text())


def explained(thread: dict[str, Any]) -> Explanation:
    return explain("\n".join(thread["lines"]))


def carries_the_conclusion(thread: dict[str, Any], explanation: Explanation) -> bool:
    """The expected signature explains the lines, or is among the ranked causes listed for them."""
    for group in explanation.known:
        for signature in (group.signature, *group.alternatives):
            if signature is not None and signature.id == thread["expect"]:
                text = " ".join([signature.title, signature.meaning, signature.cause, signature.fix]).lower()
                return thread["keyword"].lower() in text
    return False


def test_the_corpus_is_real_and_large_enough() -> None:
    urls = {t["url"] for t in THREADS}
    assert len(urls) == len(THREADS) >= 25
    assert sum(len(t["lines"]) for t in THREADS) >= 60
    for thread in THREADS:
        assert thread["url"].startswith("https://") and thread["concluded"] and thread["lines"]


def test_at_least_90_percent_of_the_lines_get_the_cause_their_thread_reached() -> None:
    total = sum(len(t["lines"]) for t in THREADS)
    missed = [t["url"] for t in THREADS if not (t["expect"] and carries_the_conclusion(t, explained(t)))]
    missed_lines = sum(len(t["lines"]) for t in THREADS if t["url"] in missed)
    assert (total - missed_lines) / total >= 0.9, missed


def test_every_thread_is_an_error_and_the_unexplained_ones_say_so_honestly() -> None:
    for thread in THREADS:
        explanation = explained(thread)
        assert explanation.worst is not None or explanation.has_errors, thread["url"]  # nothing passes as fine
        if thread["expect"] is None:
            causes = [g for g in explanation.known if g.signature and g.key != "routine"]
            assert not causes, (thread["url"], [g.key for g in causes])
            assert explanation.catalogued or explanation.unknown, thread["url"]


def test_no_thread_gets_a_cause_its_inferred_releases_rule_out() -> None:
    versions = load().versions
    for thread in THREADS:
        explanation = explained(thread)
        for group in explanation.known:
            for signature in (group.signature, *group.alternatives):
                if signature is None or not signature.applies:
                    continue
                allowed = versions.mask(signature.applies)
                assert allowed & explanation.version_mask, (thread["url"], signature.id, explanation.versions)
