"""The generated catalogue: every message Litestream 0.3.0 … 0.5.x can log is recognised, with its releases.

A line is built from each format string the way Go would print it (each verb replaced by a
sample value), wrapped the way that kind of message appears in a log: a log call as the
`msg=` of a slog line, an error value inside `error="…"`. The explainer must find that very
message (not just any) and report the releases the catalogue lists for it.
"""

from __future__ import annotations

import re

from litefix.explain import explain
from litefix.explain.catalogue import load
from litefix.explain.logfmt import parse_line
from litefix.explain.match import Classifier

_VERB = re.compile(r"%[-+# 0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?([a-zA-Z%])")
_SAMPLE = {"d": "42", "x": "1f", "X": "1F", "t": "true", "f": "1.5", "c": "c", "%": "%"}


def printed(fmt: str) -> str:
    return _VERB.sub(lambda m: _SAMPLE.get(m.group(1), "/data/app.db"), fmt)


def logged(kind: str, level: str, text: str) -> str:
    quoted = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    if kind == "log":
        return f'time=2026-11-26T10:00:00Z level={level or "INFO"} msg="{quoted}"'
    return f'time=2026-11-26T10:00:00Z level=ERROR msg="sync error" error="{quoted}"'


def test_every_catalogued_message_is_recognised_with_its_releases() -> None:
    catalogue = load()
    classifier = Classifier(catalogue)
    missed = []
    for entry in catalogue.entries:
        record = parse_line(1, logged(entry.kind, entry.level, printed(entry.fmt)))
        assert record is not None
        hits = classifier.classify(record).hits
        same = [h for h in hits if h.entry.fmt == entry.fmt]
        if not same:
            missed.append(entry.fmt)
            continue
        assert any(h.entry.mask & entry.mask == entry.mask for h in same), entry.fmt
    assert not missed, f"{len(missed)} of {len(catalogue.entries)} not matched, e.g. {missed[:5]}"


def test_the_catalogue_spans_0_3_0_to_0_5_with_the_0_4_betas() -> None:
    names = load().versions.names
    assert names[0] == "0.3.0" and "0.3.13" in names and "0.4.0-beta.2" in names
    assert any(n.startswith("0.5.1") for n in names) and names[-1] == "later"
    assert len(load().entries) > 1000


def test_a_catalogued_line_prints_its_operation_and_release_range() -> None:
    line = 'time=2026-11-26T10:00:00Z level=ERROR msg="l0 retention enforcement failed" db=app.db error="boom"'
    explanation = explain(line)
    [group] = explanation.catalogued
    assert "store.go" in group.operation and group.releases.startswith("0.5.3")
    assert explanation.versions.startswith("0.5.3") and explanation.has_errors


def test_routine_lines_of_both_generations_are_routine_and_exit_zero() -> None:
    lines = [
        'time=2026-11-26T10:00:00Z level=INFO msg="wal segment written" db=/data/app.db replica=s3 position=x',
        'time=2026-11-26T10:00:00Z level=INFO msg="replica sync" system=store db=app.db',
        'time=2026-11-26T10:00:00Z level=INFO msg="l0 retention enforced" db=app.db',
        "2022/01/01 10:00:00 /data/app.db: checkpoint(PASSIVE): [0,12,12]",
    ]
    explanation = explain("\n".join(lines))
    assert explanation.ids() == ["routine"] and not explanation.unknown and not explanation.catalogued
    assert not explanation.has_errors
