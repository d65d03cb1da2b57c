"""Fault injection for the crash tests, in the middle of the steps that take several syscalls.

`LITEFIX_CRASH_AT=<label>` SIGKILLs litefix at the first point with that label;
`LITEFIX_CRASH_AT=<label>#<n>` at its n-th passage (a step that moves three files passes
`renamed` three times). Labels: `start-N`/`after-N` around step N (executor), `recorded`
(intent in the manifest, file not yet moved), `renamed` (moved, manifest not yet updated),
`copied`, `moved-back`, `placed` and `undo-N` (rollback). Costs one dict lookup when unset.
"""

from __future__ import annotations

import os
import signal

_passes: dict[str, int] = {}


def crash_point(label: str) -> None:
    wanted = os.environ.get("LITEFIX_CRASH_AT")
    if not wanted:
        return
    name, _, nth = wanted.partition("#")
    if name != label:
        return
    _passes[label] = _passes.get(label, 0) + 1
    if not nth or (nth.isdigit() and _passes[label] == int(nth)):
        os.kill(os.getpid(), signal.SIGKILL)
