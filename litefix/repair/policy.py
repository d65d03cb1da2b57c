"""Which repair fixes what was found: read from the policy columns of the one table of codes.

`repair --strategy auto`, `check --fix` and the README's table all read `codes.CODES`; nothing
here lists a code by name except the one rule the table cannot hold (a missing database with
no replica is a first deploy, not a failure). A decision is a value: the strategy to run, or
the refusal and its reason, or nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from litefix.codes import CODES, Auto
from litefix.model import Finding, Strategy

# The first rule present decides: a blocker before anything, then the live-file choice, then
# the replica's state, then a human's choice, then re-initialising from the local file.
PRECEDENCE = (Auto.BLOCK, Auto.LIVE_FILE, Auto.RESTORE, Auto.ASK, Auto.INIT)


@dataclass(frozen=True)
class Decision:
    """What `auto` does: run `strategy`, refuse (and say why), or nothing (strategy None, not refused)."""

    strategy: Strategy | None
    why: str
    refused: bool = False

    @classmethod
    def refuse(cls, why: str) -> Decision:
        return cls(None, why, refused=True)


_RULE_OF_STRATEGY = {Strategy.RESTORE: Auto.RESTORE, Strategy.INIT: Auto.INIT}


def rule_of(finding: Finding) -> Auto:
    """The rule for one finding: its code's, unless the finding's own evidence narrowed the code's
    repairs to one (`litestream-replaced` whose file at the path is an older copy than the one
    Litestream holds offers only restore: re-initialising from the path would make the stale copy
    the replica's newest state). Then that one repair's rule decides."""
    code = CODES[finding.code]
    mine = set(finding.strategies)
    if len(mine) == 1 and mine < set(code.strategies):
        return _RULE_OF_STRATEGY.get(next(iter(mine)), code.auto)
    return code.auto


def narrowed_rules(findings: Iterable[Finding]) -> dict[str, Auto]:
    """Codes whose findings narrowed their rule (see `rule_of`). When findings of one code disagree
    (two Litestreams), restore wins: one of them says the replica holds data the path lacks."""
    rules: dict[str, set[Auto]] = {}
    for finding in findings:
        rules.setdefault(finding.code, set()).add(rule_of(finding))
    out: dict[str, Auto] = {}
    for code, found in rules.items():
        narrowed = found - {CODES[code].auto}
        if narrowed:
            out[code] = Auto.RESTORE if Auto.RESTORE in narrowed else sorted(narrowed)[0]
    return out


def _by_rule(codes: Collection[str], rules: Mapping[str, Auto]) -> dict[Auto, list[str]]:
    found: dict[Auto, list[str]] = {}
    for code in sorted(codes):
        found.setdefault(rules.get(code, CODES[code].auto), []).append(code)
    return found


def choose(
    codes: Collection[str],
    has_replica: bool,
    live_file_sound: Callable[[], bool],
    rules: Mapping[str, Auto] | None = None,
) -> Decision:
    """The strategy for these codes (warning and above). `live_file_sound` is asked only when a
    code's rule depends on it (it runs quick_check). `rules` overrides a code's rule where its
    findings' evidence narrowed it (`narrowed_rules`)."""
    rules = rules or {}
    found = _by_rule(codes, rules)
    # codes whose findings' evidence narrowed them to restore: the replica holds the newest data
    stale_path = [c for c in found.get(Auto.RESTORE, []) if rules.get(c) is Auto.RESTORE]
    if Auto.BLOCK in found:
        blockers = found[Auto.BLOCK]
        return Decision.refuse(
            f"{', '.join(blockers)}: no repair is safe until that is dealt with ({CODES[blockers[0]].fix})"
        )
    if Auto.LIVE_FILE in found:
        names = ", ".join(found[Auto.LIVE_FILE])
        if live_file_sound():
            return Decision(
                Strategy.INIT,
                f"{names}: the live file passes quick_check, so a fresh generation/snapshot from it makes the "
                "replica right again",
            )
        if has_replica:
            return Decision(Strategy.RESTORE, f"{names}: the live file is damaged; restore the newest clean position")
        return Decision.refuse(
            f"{names}: the live file is damaged and there is no replica; quarantine it by hand (--strategy quarantine)"
        )
    if Auto.RESTORE in found:
        names = ", ".join(found[Auto.RESTORE])
        if has_replica:
            why = "its evidence says the replica, not the file at the path, holds the newest data"
            if not stale_path:
                why = "the replica holds the last good state"
            return Decision(Strategy.RESTORE, f"{names}: {why}")
        if set(codes) <= {"database-missing"}:
            return Decision(
                None, "no database and no replica: nothing to restore (a first deploy? the app will create it)"
            )
        return Decision.refuse(
            f"{names} but no replica to restore from; `--strategy quarantine` moves the damaged files aside "
            "(the app then starts with an empty database)"
        )
    if Auto.ASK in found:
        return Decision.refuse(
            f"{', '.join(found[Auto.ASK])}: the evidence cannot say which side is right; choose "
            "`--strategy init` (keep the local file) or `--strategy restore` (keep the replica)"
        )
    if Auto.INIT in found:
        return Decision(
            Strategy.INIT,
            f"{', '.join(found[Auto.INIT])}: the local file is the truth; Litestream re-initialises from it",
        )
    return Decision(None, "no finding calls for a repair")


def unattended(codes: Collection[str], decision: Decision) -> bool:
    """May `check --fix` run this decision with no human? Only when every code is marked unattended in the
    table, or is a leftover of a database that is gone (the restore quarantines those)."""
    if decision.strategy is None or not codes:
        return False
    gone = "database-missing" in codes
    return all(CODES[c].unattended or (gone and CODES[c].leftover) for c in codes)
