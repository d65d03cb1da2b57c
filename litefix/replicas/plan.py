"""Which LTX files a restore to a TXID reads: the newest snapshot, then the contiguous later files.

Apart from the page readers in `pages.py` because every `diagnose` of a 0.5 replica asks it (is
there a gap?), and only `--compare` and the repairs need those readers and their imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from litefix.formats import FormatError
from litefix.formats.ltx import LtxFileInfo


class PageError(FormatError):
    """A source cannot produce its pages (missing page, broken chain); the message says which."""


@dataclass(frozen=True)
class LtxPlan:
    """The files a restore to `txid` reads: the newest snapshot, then contiguous later files."""

    snapshot: LtxFileInfo
    later: tuple[LtxFileInfo, ...]
    txid: int

    @property
    def files(self) -> tuple[LtxFileInfo, ...]:
        return (self.snapshot, *self.later)


def plan_ltx_restore(files: list[LtxFileInfo], target: int | None = None) -> LtxPlan:
    """Pick what Litestream would read to restore `target` (default: the highest TXID held).

    Raises PageError naming the first TXID no file covers (a gap) or the lack of a snapshot.
    """
    # Listed through the binary, files have no parsed header; a header that failed to parse disqualifies.
    usable = [f for f in files if f.header_error is None and f.min_txid is not None and f.max_txid is not None]
    if not usable:
        raise PageError("the replica holds no readable LTX file")
    top = max(f.max_txid or 0 for f in usable)
    target = top if target is None else target
    snapshots = [f for f in usable if f.min_txid == 1 and (f.max_txid or 0) <= target]
    if not snapshots:
        raise PageError(f"no snapshot at or before TXID {target:016x}: the replica cannot be restored")
    snapshot = max(snapshots, key=lambda f: (f.max_txid or 0, f.level))
    chain: list[LtxFileInfo] = []
    cur = snapshot.max_txid or 0
    while cur < target:
        nxt = [f for f in usable if f.min_txid == cur + 1 and (f.max_txid or 0) <= target]
        if not nxt:
            raise PageError(f"no LTX file starts at TXID {cur + 1:016x} (after {cur:016x}): the chain is broken")
        best = max(nxt, key=lambda f: (f.max_txid or 0, f.level))
        chain.append(best)
        cur = best.max_txid or cur
    return LtxPlan(snapshot, tuple(chain), target)
