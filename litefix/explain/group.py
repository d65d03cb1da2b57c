"""Records into groups: one per curated signature, per catalogued message chain, per unknown shape; and the
version range the whole log allows.

Four hundred repeats of one error read as one group with a count and first/last times. Memory
stays bounded whatever the input: groups are keyed by signature or catalogue entries (finite),
unknown shapes are capped at MAX_UNKNOWN_KINDS (the rest are counted, not kept), and each group
keeps at most MAX_DBS paths. Signatures are chosen per group at the end, once the version
evidence of the whole log is in: a candidate whose `applies` range the log rules out is never
the explanation, and other candidates that still fit are listed as ranked alternatives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from litefix.explain.catalogue import Catalogue, Hit
from litefix.explain.logfmt import TIMESTAMP, LogRecord
from litefix.explain.match import Candidate, Classified, Classifier
from litefix.explain.signatures import ROUTINE, Signature
from litefix.explain.versions import Inference, Versions
from litefix.model import JSON, Severity

MAX_UNKNOWN_KINDS = 500
MAX_DBS = 20

_HEX = re.compile(r"\b[0-9a-f]{8,}\b", re.I)
_NUMBER = re.compile(r"\d+")
_SPACE = re.compile(r"\s+")
_PLAIN_BANNER = re.compile(r"^litestream (v?\d+\.\d+\.\d+(?:-[\w.]+)?)\s*$")
_EVIDENCE_KEYS = frozenset(("consecutive_errors", "backoff", "previous_errors", "system", "subsystem"))


def normalise(text: str) -> str:
    """The shape of an unknown line: timestamps, hex ids and numbers removed, so repeats group."""
    text = TIMESTAMP.sub("<time>", text)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("N", text)
    return _SPACE.sub(" ", text).strip()


@dataclass(frozen=True)
class Group:
    """Every record of one signature (or catalogued chain, or unknown shape), in input order."""

    signature: Signature | None
    key: str
    count: int
    first_line: int
    first_time: str | None
    last_time: str | None
    dbs: tuple[str, ...]
    example: str
    max_consecutive_errors: int | None = None
    alternatives: tuple[Signature, ...] = ()
    details: tuple[str, ...] = ()
    operation: str = ""  # the outermost catalogued message: "db.go:DB.monitor: sync error"
    releases: str = ""  # the releases its catalogued messages exist in
    level: str | None = None
    fixed: str = ""  # "fixed in 0.5.6", when the whole inferred range predates the fix

    @property
    def command(self) -> str:
        """The signature's litefix command, with the database filled in when the log names one path."""
        if self.signature is None or not self.signature.command:
            return ""
        paths = [db for db in self.dbs if db.startswith("/")]
        return self.signature.command.replace("DB", paths[0]) if len(paths) == 1 else self.signature.command

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        if self.signature is not None:
            out.update(self.signature.to_json())
            out["command"] = self.command
        else:
            out["text"] = self.key
        out.update(
            {
                "count": self.count,
                "first_line": self.first_line,
                "first_time": self.first_time,
                "last_time": self.last_time,
                "dbs": list(self.dbs),
                "example": self.example,
                "operation": self.operation,
                "releases": self.releases,
                "level": self.level,
            }
        )
        if self.signature is not None:
            out["max_consecutive_errors"] = self.max_consecutive_errors
            out["alternatives"] = [{"id": s.id, "title": s.title, "cause": s.cause} for s in self.alternatives]
            out["details"] = list(self.details)
            out["fixed"] = self.fixed
        return out


@dataclass(frozen=True)
class Explanation:
    """What a paste of log lines says: known signatures (worst first), catalogued lines, unknown lines."""

    lines: int
    records: int
    known: tuple[Group, ...]
    unknown: tuple[Group, ...]
    litestream_versions: tuple[str, ...] = ()
    catalogued: tuple[Group, ...] = ()
    versions: str = "any"  # the inferred release range, e.g. "0.3.0–0.3.11, 0.4.0-alpha.0"
    version_evidence: tuple[str, ...] = ()
    version_conflicts: tuple[str, ...] = ()
    error_lines: int = 0
    unknown_overflow: int = 0
    version_mask: int = -1  # the inferred releases as a catalogue bit set (-1: not inferred)

    @property
    def worst(self) -> Severity | None:
        return max((g.signature.severity for g in self.known if g.signature), key=lambda s: s.rank, default=None)

    @property
    def has_errors(self) -> bool:
        """An ERROR-level line (known or not) or a known error signature: `litefix explain` exits 1."""
        return self.error_lines > 0 or self.worst is Severity.ERROR

    def ids(self) -> list[str]:
        return [g.key for g in self.known]

    def group(self, signature_id: str) -> Group | None:
        return next((g for g in self.known if g.key == signature_id), None)

    def to_json(self) -> dict[str, JSON]:
        """The `litefix explain --json` document.

        {"lines": non-blank input lines, "records": log entries after joining wrapped lines,
         "litestream_versions": versions named by banner lines (`litestream v0.3.2`, `msg=litestream version=…`),
         "versions": the release range the log allows ("any" without evidence),
         "version_evidence": ["banner 0.3.2", "slog text format", "message: sync error", …],
         "version_conflicts": evidence set aside because it contradicted the rest (a log spanning an upgrade),
         "worst": "error" | "warning" | "info" | null, "error_lines": ERROR-level records, known or not,
         "known": [{"id", "severity", "title", "meaning", "versions", "cause", "fix", "codes", "command",
                    "applies", "fixed_in", "upstream", "count", "first_line", "first_time", "last_time",
                    "dbs", "example", "operation", "releases", "level", "max_consecutive_errors",
                    "alternatives": [{"id", "title", "cause"}], "details", "fixed"}, …]  (worst first),
         "catalogued": [{"text" (the message chain), "count", …, "operation", "releases", "level"}, …]:
                    Litestream messages without a curated explanation: what failed and in which releases,
         "unknown": [{"text" (the line with times, hex ids and numbers masked), "count", …}, …],
         "unknown_overflow": unknown lines not grouped because MAX_UNKNOWN_KINDS shapes were already kept}
        Times are as the log wrote them, first and last in input order.
        """
        return {
            "lines": self.lines,
            "records": self.records,
            "litestream_versions": list(self.litestream_versions),
            "versions": self.versions,
            "version_evidence": list(self.version_evidence),
            "version_conflicts": list(self.version_conflicts),
            "worst": self.worst.value if self.worst else None,
            "error_lines": self.error_lines,
            "known": [g.to_json() for g in self.known],
            "catalogued": [g.to_json() for g in self.catalogued],
            "unknown": [g.to_json() for g in self.unknown],
            "unknown_overflow": self.unknown_overflow,
        }


class _Acc:
    """A group being built."""

    def __init__(self, key: str, record: LogRecord, classified: Classified | None) -> None:
        self.key = key
        self.count = 0
        self.first = record
        self.classified = classified
        self.first_time: str | None = None
        self.last_time: str | None = None
        self.dbs: dict[str, None] = {}
        self.details: dict[str, None] = {}
        self.max_consecutive: int | None = None

    def add(self, record: LogRecord, db: str | None, detail: str = "") -> None:
        self.count += 1
        time = record.time
        if time:
            if self.first_time is None:
                self.first_time = time
            self.last_time = time
        if db and db not in self.dbs and len(self.dbs) < MAX_DBS:
            self.dbs[db] = None
        if detail and len(self.details) < MAX_DBS:
            self.details.setdefault(detail, None)
        fields = record.fields
        if "consecutive_errors" in fields or "previous_errors" in fields:
            for name in ("consecutive_errors", "previous_errors"):
                value = fields.get(name, "")
                if value.isdigit():
                    self.max_consecutive = max(self.max_consecutive or 0, int(value))

    def group(self, signature: Signature | None, key: str, **extra: object) -> Group:
        return Group(
            signature=signature,
            key=key,
            count=self.count,
            first_line=self.first.line,
            first_time=self.first_time,
            last_time=self.last_time,
            dbs=tuple(self.dbs),
            example=self.first.raw,
            max_consecutive_errors=self.max_consecutive,
            details=tuple(self.details),
            **extra,  # type: ignore[arg-type]
        )


def _operation(hits: tuple[Hit, ...]) -> str:
    """What failed, outermost first: `failed to run (cmd/litestream/main.go:main) ← cannot fetch …`."""
    parts = []
    for hit in hits[:4]:
        entry = hit.entry
        parts.append(f"{entry.fmt} ({entry.where[0]})" if entry.where else entry.fmt)
    return " ← ".join(parts)


class Grouper:
    """Feeds records in one at a time; `result()` resolves signatures against the inferred versions."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.classifier = Classifier(catalogue)
        self.known: dict[tuple[str, ...], _Acc] = {}
        self.catalogued: dict[tuple[int, ...], _Acc] = {}
        self.unknown: dict[str, _Acc] = {}
        self.routine: _Acc | None = None
        self.banners: dict[str, None] = {}
        self.features: dict[str, int] = {}
        self.messages: dict[str, int] = {}
        self.records = 0
        self.error_lines = 0
        self.overflow = 0
        self._counted: dict[int, Classified] = {}

    def add(self, record: LogRecord) -> None:
        self.records += 1
        self._evidence(record)
        classified = self.classifier.classify(record)
        if classified.level == "ERROR":
            self.error_lines += 1
        if classified.spans and id(classified) not in self._counted:
            if len(self._counted) >= 8192:  # bounded: recounting a span later is harmless
                self._counted.clear()
            self._counted[id(classified)] = classified  # kept, so the id is not reused
            for label, mask in classified.spans:
                if label not in self.messages and len(self.messages) < 4096:
                    self.messages[label] = mask
        db = record.db
        if classified.candidates:
            key = tuple(c.signature.id for c in classified.candidates)
            acc = self.known.get(key)
            if acc is None:
                acc = self.known[key] = _Acc(key[0], record, classified)
            best = classified.candidates[0]
            if not db and "db" in best.signature.regex.groupindex:  # the cached match may be another line's
                m = best.signature.regex.search(record.text)
                db = m.group("db") if m else None
            acc.add(record, db, best.detail)
            return
        if classified.routine:
            if self.routine is None:
                self.routine = _Acc(ROUTINE.id, record, classified)
            self.routine.add(record, db)
            return
        if classified.hits:
            ids = tuple(h.entry.id for h in classified.hits)
            acc = self.catalogued.get(ids)
            if acc is None:
                acc = self.catalogued[ids] = _Acc(" ← ".join(h.entry.fmt for h in classified.hits), record, classified)
            acc.add(record, db)
            return
        shape = normalise(record.raw)
        acc = self.unknown.get(shape)
        if acc is None:
            if len(self.unknown) >= MAX_UNKNOWN_KINDS:
                self.overflow += 1
                return
            acc = self.unknown[shape] = _Acc(shape, record, classified)
        acc.add(record, db)

    def _evidence(self, record: LogRecord) -> None:
        if record.logfmt:
            if record.msg == "litestream" and record.fields.get("version"):
                self.banners.setdefault(record.fields["version"].lstrip("v"), None)
            if "go_text" in record.fields:
                if "go_text" not in self.features:  # slog's default handler: 0.3 without `logging:`
                    self.features["go_text"] = self.catalogue.features.get("slog", 0) & self.catalogue.versions.mask(
                        "0.3.0..0.3.14"
                    )
            elif "time" in record.fields and "level" in record.fields and "slog" not in self.features:
                self.features["slog"] = self.catalogue.features.get("slog", 0)
            for key in _EVIDENCE_KEYS & record.fields.keys():  # one C-level intersection per line
                if f"key:{key}" not in self.features:
                    self.features[f"key:{key}"] = self.catalogue.features.get(f"key:{key}", 0)
        else:
            m = _PLAIN_BANNER.match(record.msg)
            if m:
                self.banners.setdefault(m.group(1).lstrip("v"), None)

    def infer(self) -> Inference:
        versions = self.catalogue.versions
        inference = Inference(versions)
        if self.banners:
            mask = 0
            for banner in self.banners:
                mask |= versions.of(banner)
            inference.add("banner " + ", ".join(self.banners), mask)
        labels = {
            "slog": "slog text format (0.3.12 and later)",
            "go_text": "slog default-handler format (0.3 without a logging config)",
            "key:system": "`system=` attribute",
        }
        for feature, mask in self.features.items():
            inference.add(labels.get(feature, f"`{feature.removeprefix('key:')}=` attribute"), mask)
        for label, mask in self.messages.items():
            inference.add(label, mask)
        return inference

    def _described(self, inference: Inference) -> str:
        """The range, naming the banner's release when it is newer than the catalogue (0.5.17 vs 0.5.16)."""
        described = inference.describe()
        if described.startswith("newer than") and self.banners:
            return f"{', '.join(self.banners)} ({described}, the newest release in the catalogue)"
        return described

    def result(self, lines: int) -> Explanation:
        inference = self.infer()
        mask = inference.mask
        versions = self.catalogue.versions
        resolved: dict[str, tuple[Signature, list[tuple[_Acc, tuple[Signature, ...]]]]] = {}
        ruled_out: list[_Acc] = []  # every candidate contradicts the inferred releases: no cause is given
        for acc in self.known.values():
            assert acc.classified is not None
            choice = _resolve(acc.classified.candidates, mask, versions)
            if choice is None:
                ruled_out.append(acc)
                continue
            signature, alternatives = choice
            resolved.setdefault(signature.id, (signature, []))[1].append((acc, alternatives))
        known: list[tuple[int, int, Group]] = []
        for signature, accs in resolved.values():
            group = _merge(signature, accs, mask, versions)
            known.append((-signature.severity.rank, group.first_line, group))
        if self.routine is not None:
            group = self.routine.group(ROUTINE, ROUTINE.id, level="INFO")
            known.append((-ROUTINE.severity.rank, group.first_line, group))
        known.sort(key=lambda t: (t[0], t[1]))
        catalogued = sorted(
            (
                acc.group(
                    None,
                    _chain(acc),
                    operation=_operation(acc.classified.hits if acc.classified else ()),
                    releases=_releases(acc.classified, versions),
                    level=acc.classified.level if acc.classified else None,
                )
                for acc in (*self.catalogued.values(), *ruled_out)
            ),
            key=lambda g: (0 if g.level == "ERROR" else 1, g.first_line),
        )
        unknown = sorted(
            (
                acc.group(None, acc.key, level=acc.classified.level if acc.classified else None)
                for acc in self.unknown.values()
            ),
            key=lambda g: (0 if g.level == "ERROR" else 1, g.first_line),
        )
        return Explanation(
            lines=lines,
            records=self.records,
            known=tuple(g for _, _, g in known),
            unknown=tuple(unknown),
            litestream_versions=tuple(self.banners),
            catalogued=tuple(catalogued),
            versions=self._described(inference),
            version_evidence=tuple(
                f"{label}: {versions.describe(m)}" for label, m in list(inference.evidence.items())[:12]
            ),
            version_conflicts=tuple(inference.conflicts[:12]),
            error_lines=self.error_lines,
            unknown_overflow=self.overflow,
            version_mask=mask,
        )


def _releases(classified: Classified | None, versions: Versions) -> str:
    if classified is None or not classified.hits:
        return ""
    mask = -1
    for _, span_mask in classified.spans:
        mask = span_mask if mask == -1 else (mask & span_mask or mask)
    return versions.describe(mask)


def _chain(acc: _Acc) -> str:
    """The text of a catalogued group: its message chain, outermost first (or the line's shape)."""
    hits = acc.classified.hits if acc.classified else ()
    return " ← ".join(h.entry.fmt for h in hits) if hits else normalise(acc.first.raw)


def _resolve(
    candidates: tuple[Candidate, ...], mask: int, versions: Versions
) -> tuple[Signature, tuple[Signature, ...]] | None:
    """The first candidate the inferred versions allow, and the others that explain the same words."""
    fitting = [c for c in candidates if not c.signature.applies or versions.mask(c.signature.applies) & mask]
    if not fitting:
        return None
    best = fitting[0]
    if mask != versions.all:  # a cause specific to the inferred releases beats a general one for the same words
        specific = [
            c
            for c in fitting
            if c.end == best.end and c.signature.applies and mask & ~versions.mask(c.signature.applies) == 0
        ]
        if specific:
            best = specific[0]
            fitting = [best, *(c for c in fitting if c is not best)]
    alternatives = tuple(c.signature for c in fitting[1:] if c.end == best.end and c.signature.id != best.signature.id)
    return best.signature, alternatives


def _merge(
    signature: Signature, accs: list[tuple[_Acc, tuple[Signature, ...]]], mask: int, versions: Versions
) -> Group:
    first = min(accs, key=lambda t: t[0].first.line)[0]
    merged = _Acc(signature.id, first.first, first.classified)
    alternatives: dict[str, Signature] = {}
    for acc, alts in sorted(accs, key=lambda t: t[0].first.line):
        merged.count += acc.count
        if acc.first_time:
            merged.first_time = merged.first_time or acc.first_time
        merged.last_time = acc.last_time or merged.last_time
        for db in acc.dbs:
            if len(merged.dbs) < MAX_DBS:
                merged.dbs.setdefault(db, None)
        for detail in acc.details:
            merged.details.setdefault(detail, None)
        if acc.max_consecutive is not None:
            merged.max_consecutive = max(merged.max_consecutive or 0, acc.max_consecutive)
        for alt in alts:
            alternatives.setdefault(alt.id, alt)
    fixed = ""
    if signature.fixed_in:
        fix_mask = versions.mask(signature.fixed_in + "..")
        if not mask & fix_mask:
            fixed = f"fixed in {signature.fixed_in}: upgrade"
    hits = first.classified.hits if first.classified else ()
    return merged.group(
        signature,
        signature.id,
        alternatives=tuple(alternatives.values()),
        operation=_operation(hits),
        releases=_releases(first.classified, versions),
        level=first.classified.level if first.classified else None,
        fixed=fixed,
    )
