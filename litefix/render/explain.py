"""`litefix explain`: one block per known signature, then the unknown lines, then a summary."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from litefix.model import Severity

if TYPE_CHECKING:  # annotations only
    from litefix.explain import Explanation, Group


# --- litefix explain: pasted Litestream log lines ------------------------------------------------
# Kept apart from the diagnosis renderers: the input is a log, not a database, and the
# output is one block per signature rather than a table (meaning, cause and fix are paragraphs).


EXPLAIN_WIDTH = 100
EXAMPLE_WIDTH = 240


def explanation_text(explanation: Explanation) -> str:
    """One block per known signature (worst first), then the unknown lines, then a summary line.

    A fix already printed for an earlier signature is referred to, not repeated: the replaced-file
    signatures share one long fix and usually come together.
    """
    blocks: list[str] = []
    fixes: dict[str, str] = {}
    if explanation.records:
        blocks.append(_versions_line(explanation))
    for group in explanation.known:
        blocks.append(_signature_block(group, fixes))
    if explanation.catalogued:
        blocks.append(_catalogued_block(explanation.catalogued))
    if explanation.unknown:
        blocks.append(_unknown_block(explanation.unknown))
    blocks.append(explanation_verdict(explanation))
    return "\n\n".join(blocks)


def explanation_verdict(explanation: Explanation) -> str:
    if not explanation.records:
        return "no log lines to explain (empty input)"
    counts = {s: sum(1 for g in explanation.known if g.signature and g.signature.severity is s) for s in Severity}
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}" for s in reversed(Severity) if counts[s]]
    known = ", ".join(parts) if parts else "no known signature"
    unknown = sum(g.count for g in explanation.unknown) + explanation.unknown_overflow
    catalogued = sum(g.count for g in explanation.catalogued)
    lines = f"{explanation.lines} line{'s' if explanation.lines != 1 else ''}"
    tail = (
        f"; {catalogued} Litestream line{'s' if catalogued != 1 else ''} without a curated explanation"
        if catalogued
        else ""
    )
    tail += f"; {unknown} unknown line{'s' if unknown != 1 else ''}" if unknown else ""
    errors = f"; {explanation.error_lines} at ERROR level" if explanation.error_lines else ""
    return f"{lines}: {known}{tail}{errors}"


def _versions_line(explanation: Explanation) -> str:
    """The release range the log allows, and what said so (first pieces of evidence only)."""
    line = f"Litestream version: {explanation.versions}"
    if explanation.version_evidence:
        line += " (from " + "; ".join(explanation.version_evidence[:3]) + ")"
    if explanation.version_conflicts:
        line += f"; set aside as contradicting the rest (an upgrade?): {', '.join(explanation.version_conflicts[:3])}"
    return _clip(line, 400)


def _catalogued_block(groups: Sequence[Group]) -> str:
    total = sum(g.count for g in groups)
    head = f"LITESTREAM {len(groups)} kind{'s' if len(groups) != 1 else ''} of message without a curated explanation"
    lines = [head + f" ({total} line{'s' if total != 1 else ''}): what failed, and the releases that log it"]
    for g in groups:
        lines.append(f"  ×{g.count:<4} line {g.first_line} [{g.level or '?'}] {_clip(g.operation, 160)}")
        lines.append(f"        releases: {g.releases}; example: {_clip(g.example)}")
    return "\n".join(lines)


def _signature_block(group: Group, fixes: dict[str, str]) -> str:
    import textwrap

    signature = group.signature
    assert signature is not None
    head = f"{signature.severity.value.upper():<7} {signature.id} ×{group.count}: {signature.title}"
    seen = f"line {group.first_line}"
    if group.first_time:
        seen += f", {group.first_time}" + (f" … {group.last_time}" if group.last_time != group.first_time else "")
    fix = signature.fix
    if fix and fix in fixes:
        fix = f"as for {fixes[fix]} above."
    elif fix:
        fixes[fix] = signature.id
    fields = [("seen", seen), ("db", ", ".join(group.dbs)), ("meaning", signature.meaning)]
    if group.max_consecutive_errors and group.max_consecutive_errors > 1:
        fields.append(("failures", f"up to {group.max_consecutive_errors} in a row behind these lines"))
    if signature.cause or signature.fix:  # routine lines need no more than what they are
        fields += [
            ("versions", ", ".join(signature.versions)),
            ("what", group.operation),
            ("detail", ", ".join(group.details)),
            ("cause", signature.cause),
            ("also", "; ".join(f"{s.id}: {s.cause}" for s in group.alternatives)),
            ("fixed", group.fixed),
            ("upstream", signature.upstream),
            ("fix", fix),
            ("run", group.command),
            ("codes", ", ".join(signature.codes)),
            ("example", _clip(group.example)),
        ]
    lines = [head]
    for label, value in fields:
        if not value:
            continue
        prefix = f"  {label + ':':<10}"
        if label in ("example", "upstream"):
            lines.append(prefix + value)
        else:
            lines.append(textwrap.fill(value, EXPLAIN_WIDTH, initial_indent=prefix, subsequent_indent=" " * 12))
    return "\n".join(lines)


def _unknown_block(groups: Sequence[Group]) -> str:
    total = sum(g.count for g in groups)
    lines = [
        f"UNKNOWN {len(groups)} kind{'s' if len(groups) != 1 else ''} of line ({total} line{'s' if total != 1 else ''})"
    ]
    lines += [f"  ×{g.count:<4} line {g.first_line}: {_clip(g.example)}" for g in groups]
    return "\n".join(lines)


def _clip(text: str, width: int = EXAMPLE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
