#!/usr/bin/env python3
"""Render the README's generated tables from the code, or check they are current.

python tools/docs.py            # rewrite the tables in README.md
python tools/docs.py --check    # exit 1 if README.md is out of date (the tests do this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT))


def codes_table() -> str:
    from litefix.codes import CODES

    lines = [
        "| code | severity | meaning | fix | strategies | `auto` | `check --fix` |",
        "|---|---|---|---|---|---|---|",
    ]
    for code in CODES.values():
        strategies = ", ".join(f"`{s.value}`" for s in code.strategies) or "—"
        unattended = "yes" if code.unattended else "as a leftover" if code.leftover else "—"
        lines.append(
            f"| `{code.code}` | {code.severity.value} | {code.meaning} | {code.fix} | {strategies} | "
            f"{code.auto.value} | {unattended} |"
        )
    return "\n".join(lines)


def exit_table() -> str:
    from litefix.errors import EXIT_CODES

    lines = ["| exit code | meaning |", "|---|---|"]
    lines += [f"| {code} | {meaning} |" for code, meaning in EXIT_CODES.items()]
    return "\n".join(lines)


TABLES = {"codes": codes_table, "exit-codes": exit_table}


def render(text: str) -> str:
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md lacks the <!-- {name}:start --> / <!-- {name}:end --> markers")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main() -> int:
    current = README.read_text()
    wanted = render(current)
    if "--check" in sys.argv:
        return 0 if wanted == current else 1
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
