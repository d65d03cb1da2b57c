"""Which Litestream releases could have written a log: sets of releases as bit masks, and the inference.

A release set is an int with one bit per release in the catalogue's order (0.3.0 … the newest
0.5.x), plus one last bit, "later", for releases newer than the catalogue (a banner naming
0.5.17 when the catalogue stops at 0.5.16). Intersecting evidence is then `&`. Evidence comes
from the banner (`litestream v0.3.2`, `msg=litestream version=0.5.17`), the log's shape (plain
`log.Printf` lines, slog, 0.5's `consecutive_errors`/`backoff`/`system` attributes) and every
catalogued message found (it exists only in some releases). A piece of evidence that would
leave no release at all is set aside and reported, not trusted: a log can span an upgrade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)(?:-?(alpha|beta|test)\.?(\d+))?")
_PRE_RANK = {"alpha": 0, "beta": 1, "test": 2}
LATER = "later"


def version_key(text: str) -> tuple[int, int, int, int, int] | None:
    m = _VERSION.fullmatch(text.strip())
    if not m:
        return None
    major, minor, patch, pre, num = m.groups()
    return (int(major), int(minor), int(patch), _PRE_RANK[pre] if pre else 9, int(num or 0))


class Versions:
    """The ordered release names of the catalogue and conversions between names, specs and masks."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = (*names, LATER)
        self.keys = tuple(version_key(n) for n in names)
        self.position = {n: i for i, n in enumerate(names)}
        self.all = (1 << len(self.names)) - 1
        self._later_bit = 1 << (len(self.names) - 1)

    def mask(self, spec: str) -> int:
        """`"0.3.0..0.3.13 0.5.0.."` -> a mask. A run that reaches the newest release includes "later"."""
        bits = 0
        newest = len(self.names) - 2
        for part in spec.split():
            lo_name, sep, hi_name = part.partition("..")
            lo = self._index(lo_name, low=True) if lo_name else 0
            hi = (self._index(hi_name, low=False) if hi_name else newest + 1) if sep else lo
            if lo is None or hi is None or hi < lo:
                continue
            for i in range(lo, hi + 1):
                bits |= 1 << i
            if hi >= newest:
                bits |= self._later_bit
        return bits

    def _index(self, name: str, *, low: bool) -> int | None:
        if name in self.position:
            return self.position[name]
        key = version_key(name)
        if key is None:
            return None
        above = [i for i, k in enumerate(self.keys) if k is not None and k >= key]
        if not above:
            return len(self.names) - 1  # newer than the catalogue: "later"
        return above[0] if low else (above[0] - 1 if self.keys[above[0]] != key else above[0])

    def of(self, version: str) -> int:
        """The mask of one version named by a banner; releases newer than the catalogue are "later"."""
        version = version.strip().lstrip("v")
        if version in self.position:
            return 1 << self.position[version]
        key = version_key(version)
        if key is None:
            return 0
        newest = self.keys[-1]
        if newest is not None and key > newest:
            return self._later_bit
        same = [i for i, k in enumerate(self.keys) if k is not None and k[:3] == key[:3]]
        return sum(1 << i for i in same)

    def describe(self, mask: int) -> str:
        """`0.3.0–0.3.12, 0.4.0-alpha.0–0.4.0-beta.2`: runs of consecutive releases."""
        if mask == 0:
            return "none"
        if mask == self.all:
            return "any"
        runs: list[tuple[int, int]] = []
        for i in range(len(self.names)):
            if mask >> i & 1:
                if runs and runs[-1][1] == i - 1:
                    runs[-1] = (runs[-1][0], i)
                else:
                    runs.append((i, i))
        parts = []
        later = len(self.names) - 1
        for lo, hi in runs:
            if lo == later:
                parts.append(f"newer than {self.names[later - 1]}")
            elif hi == later:
                parts.append(f"{self.names[lo]} or later")
            elif lo == hi:
                parts.append(self.names[lo])
            else:
                parts.append(f"{self.names[lo]}–{self.names[hi]}")
        return ", ".join(parts)

    def newest(self, mask: int) -> str:
        for i in range(len(self.names) - 1, -1, -1):
            if mask >> i & 1:
                return self.names[i]
        return ""


@dataclass
class Inference:
    """Evidence folded into one release set, with what each piece said."""

    versions: Versions
    mask: int = -1
    evidence: dict[str, int] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.mask == -1:
            self.mask = self.versions.all

    def add(self, label: str, mask: int) -> None:
        if mask == 0 or label in self.evidence or label in self.conflicts:
            return
        if self.mask & mask:
            self.mask &= mask
            self.evidence[label] = mask
        else:
            self.conflicts.append(label)

    @property
    def known(self) -> bool:
        return self.mask != self.versions.all

    def describe(self) -> str:
        return self.versions.describe(self.mask)
