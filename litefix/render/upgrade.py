"""`litefix upgrade-check` as text: one line per check, the converted config, and a verdict."""

from __future__ import annotations

from litefix.gate.upgrade import FAIL, OK, SKIPPED, WARN, UpgradeReport

_MARK = {OK: "✔", WARN: "!", FAIL: "✘", SKIPPED: "-"}


def upgrade_text(report: UpgradeReport) -> str:
    lines = [f"upgrade check: {report.config_path}  {report.from_version or 'unknown'} -> {report.to_version}", ""]
    width = max((len(c.name) for c in report.checks), default=10)
    for check in report.checks:
        lines.append(f"{_MARK.get(check.status, '?')} {check.name.ljust(width)}  {check.message}")
    lines.append("")
    if report.written_to:
        lines.append(f"converted config written to {report.written_to} (the original is unchanged)")
    else:
        lines.append("converted config (not written; pass --write-config FILE to keep it):")
        lines += ["    " + line for line in report.converted_shown.rstrip().splitlines()]
    lines.append("")
    failing = [c for c in report.checks if c.status == FAIL]
    if failing:
        lines.append(f"not ready: {len(failing)} check(s) fail before upgrading to {report.to_version}")
    elif any(c.status == SKIPPED for c in report.checks):
        lines.append(f"no failure found, but not everything was tried with {report.to_version} (see above)")
    else:
        lines.append(f"ready: nothing found that {report.to_version} would break")
    return "\n".join(lines)
