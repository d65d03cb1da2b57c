"""`litefix verify`: one line that says whether the write arrived, how fast, and where."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from litefix.monitor.verify import VerifyResult


def verify_text(result: VerifyResult) -> str:
    if result.ok:
        slow = f" — slower than {result.max_latency:g}s" if result.slow else ""
        ranged = (
            f" in {result.remote_requests} ranged reads, {result.remote_bytes} bytes" if result.remote_requests else ""
        )
        proof = (
            f"read {result.pages_read} replica pages{ranged}"
            if result.proof == "pages"
            else "found in a full restore of the replica"
        )
        return "\n".join(
            [
                f"verified: a row written into {result.db} reached {result.replica} "
                f"in {result.latency or 0:.2f}s{slow}",
                f"  replica position: {result.position}",
                f"  local position:   {result.local_position}",
                f"  proof:            token {result.token} in {result.table} ({proof}; {result.polls} polls)",
            ]
        )
    lines = []
    finding = result.finding
    verdict = "refused (nothing written)" if result.status == "refused" else "FAILED"
    lines.append(f"verify {verdict}: {finding.code + ': ' + finding.message if finding else result.db}")
    if finding is not None and finding.hint:
        lines.append(f"  fix: {finding.hint}")
    for f in result.blocking:
        lines.append(f"  {f.severity.value} {f.code}: {f.message}")
    if result.token:
        lines.append(f"  wrote token {result.token} into {result.table}; replica position {result.position}")
    return "\n".join(lines)
