"""What one log record is: the curated signatures it matches (innermost cause first), and the catalogued
Litestream messages in it (what failed, in which releases).

Every signature that matches is kept as a candidate, ordered by where its match ends (the
innermost cause of a wrapped chain ends last) and then by table order (specific before
general). Which candidate wins is decided only after the whole log is read, because the
version evidence that rules some out (a banner, the log's shape) can come after the line.

A big log is mostly the same lines again, so results are cached by (level, text), and one
combined regex tells in a single pass whether any signature can match at all.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from litefix.explain.catalogue import Catalogue, Hit
from litefix.explain.environment import ENVIRONMENT
from litefix.explain.logfmt import LogRecord
from litefix.explain.signatures import ROUTINE, Signature
from litefix.explain.signatures import SIGNATURES as LITESTREAM

SIGNATURES: tuple[Signature, ...] = (*LITESTREAM, *ENVIRONMENT)
BY_ID: dict[str, Signature] = {s.id: s for s in (*SIGNATURES, ROUTINE)}
_ORDER = {s.id: i for i, s in enumerate(SIGNATURES)}
_CACHE_SIZE = 8192
_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
# 0.4's per-database loggers print `/data/app.db: ` (or `/data/app.db(s3): `) before the message.
_LOGGER_PREFIX = re.compile(r"[^\s:]+(?:\([^)\s]*\))?: ")
_VOLATILE = re.compile(r"[0-9a-fA-F]{8,}|\d{3,}")  # ids and sizes; "l0"/"level 1" stay


@functools.cache
def _any_signature() -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{_NAMED_GROUP.sub('(?:', s.pattern)})" for s in SIGNATURES))


@dataclass(frozen=True)
class Candidate:
    signature: Signature
    end: int
    db: str | None
    detail: str  # e.g. "action: PutObject" from a named group


@dataclass(frozen=True)
class Classified:
    """The candidates (best first) and catalogue hits of one record; `level` is the line's or the catalogue's."""

    candidates: tuple[Candidate, ...]
    hits: tuple[Hit, ...]
    level: str | None
    spans: tuple[tuple[str, int], ...] = ()  # (label, releases) per matched span, for version inference
    routine: bool = False  # a catalogued INFO/DEBUG line (or one the routine table names) and no signature


def _candidates(level: str | None, text: str) -> tuple[Candidate, ...]:
    if not _any_signature().search(text):
        return ()
    found: list[tuple[int, int, Candidate]] = []
    for signature in SIGNATURES:
        m = signature.match(level, text)
        if not m:
            continue
        groups = m.groupdict()
        detail = "; ".join(f"{k}: {v}" for k, v in groups.items() if v and k != "db")
        candidate = Candidate(signature, m.end(), groups.get("db") or None, detail)
        found.append((-m.end(), _ORDER[signature.id], candidate))
    found.sort(key=lambda t: (t[0], t[1]))
    return tuple(c for _, _, c in found)


class Classifier:
    """Classifies records against the signatures and the catalogue, caching by text."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._cache: dict[tuple[str | None, str, bool], Classified] = {}

    def classify(self, record: LogRecord) -> Classified:
        """Keyed by the text with its TXIDs, request ids and counters masked: repeats of one error hit the cache."""
        text = record.text
        exact = (record.level, text, record.logfmt)
        cached = self._cache.get(exact)
        if cached is not None:
            return cached
        key = (record.level, _VOLATILE.sub("#", text), record.logfmt)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._classify(record, text)
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = self._cache[exact] = cached
        return cached

    def _classify(self, record: LogRecord, text: str) -> Classified:
        candidates = _candidates(record.level, text)
        if record.logfmt:
            hits = self.catalogue.find(record.msg, whole=True) if record.msg else ()
            logs = tuple(h for h in hits if h.entry.kind == "log")
            hits = logs or hits
            if record.error:  # only error values are wrapped into an error chain, never log messages
                hits += tuple(h for h in self.catalogue.find(record.error) if h.entry.kind == "error")
        else:  # a plain line is one log message: a log call's text starts it, or follows a logger's prefix
            head = _LOGGER_PREFIX.match(text)
            starts = (0, head.end()) if head else (0,)
            hits = tuple(h for h in self.catalogue.find(text) if h.entry.kind == "error" or h.start in starts)
        if candidates and hits:
            candidates = tuple(_hinted(c, hits) for c in candidates)
        level = record.level or _level_of(hits)
        routine = not candidates and (
            (level in ("INFO", "DEBUG") and bool(hits)) or level == "DEBUG" or bool(ROUTINE.match(level, text))
        )
        return Classified(candidates, hits, level, span_masks(hits), routine)


def _level_of(hits: tuple[Hit, ...]) -> str | None:
    """A plain line has no level: the outermost catalogued message says what kind of line it is."""
    for hit in hits:
        if hit.entry.kind == "log" and hit.entry.level:
            return hit.entry.level
    if hits:
        return "ERROR"  # an error value printed on its own (`Error: …`, `failed to run …`)
    return None


def span_masks(hits: tuple[Hit, ...]) -> tuple[tuple[str, int], ...]:
    """One (label, releases) per matched span: identical messages from several call sites are OR'ed."""
    spans: dict[tuple[int, int], tuple[str, int]] = {}
    for hit in hits:
        label, mask = spans.get((hit.start, hit.end), (f"message: {hit.entry.fmt}", 0))
        spans[(hit.start, hit.end)] = (label, mask | hit.entry.mask)
    return tuple(spans.values())


def _hinted(candidate: Candidate, hits: tuple[Hit, ...]) -> Candidate:
    """A candidate without a detail of its own gets one from the operation that failed (`hints`)."""
    if candidate.detail or not candidate.signature.hints:
        return candidate
    for needle, detail in candidate.signature.hints:
        for hit in hits:
            if needle in hit.entry.fmt:
                return Candidate(candidate.signature, candidate.end, candidate.db, f"{detail} (from `{hit.entry.fmt}`)")
    return candidate
