"""The replica inspector's front door: its checks (and their imports) load only when there is a replica.

Most diagnoses of a bare file have none; `replica_checks` holds the work.
"""

from __future__ import annotations

from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON


def _summary(facts: dict[str, JSON]) -> str:
    views = facts.get("replicas") or []
    if not isinstance(views, list) or not views:
        return "no replica configured"
    view = views[0]
    position = view.get("replica_position") or view.get("format")
    return f"{view.get('location')}: {position}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    if not ctx.options.replica and ctx.config_db is None:
        raise Skip("no replica to inspect: pass --replica URL, or --config with a config that lists this database")
    from litefix.diagnose.inspectors.replica_checks import inspect_replicas

    return inspect_replicas(ctx)
