"""Every text and JSON shape litefix prints: one module per command's output. Never prints itself.

Only the CLI (and boot and the demo, which talk to a person as they go) import from here.
"""

from __future__ import annotations

import json

from litefix.model import JSON


def to_json(value: JSON) -> str:
    return json.dumps(value, indent=2, sort_keys=False, default=str)
