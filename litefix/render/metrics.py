"""`litefix metrics`: a collection of numbers as Prometheus metric families, through prometheus-client.

Names follow the Prometheus conventions: the `litefix_` prefix, base units in the name
(`_seconds`, `_bytes`), no `_total` on gauges, versions as `_info` labels. Every per-database
series carries `db` (the database path); replica series also `replica` (its URL). Series that
alerts test for (`litefix_findings_by_severity`, `litefix_litestream_running`) are present with
value 0 rather than absent, so that a rule never has to guess about a missing series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from litefix.monitor.metrics import Collection

SEVERITIES = ("info", "warning", "error")


class LitefixCollector(Collector):
    """Asks `source` for the (cached) collection on every scrape and turns it into metric families."""

    def __init__(self, source: Callable[[], Collection]) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        return iter(metric_families(self._source()))


def registry_for(source: Callable[[], Collection]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LitefixCollector(source))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def metric_families(c: Collection) -> list[Metric]:
    info = InfoMetricFamily("litefix", "The litefix that collected these metrics.", labels=[])
    info.add_metric([], {"version": c.litefix_version, "config": c.config})
    litestream = InfoMetricFamily("litefix_litestream", "The litestream binary this host would run.", labels=[])
    if c.litestream_version is not None:
        litestream.add_metric([], {"version": c.litestream_version, "path": c.litestream_path or ""})
    duration = GaugeMetricFamily(
        "litefix_collect_duration_seconds", "How long the last collection took.", value=c.seconds
    )
    collected = GaugeMetricFamily(
        "litefix_collect_timestamp_seconds", "When the (cached) collection was made.", value=c.collected_at
    )
    db = ["db"]
    rep = ["db", "replica"]
    inspected = _gauge("litefix_database_inspected", "1 when every inspector could read what it needed.", db)
    findings = _gauge(
        "litefix_findings", "Findings of `litefix diagnose`, by code and severity.", [*db, "code", "severity"]
    )
    by_severity = _gauge("litefix_findings_by_severity", "Findings by severity (0 included).", [*db, "severity"])
    wal = _gauge("litefix_wal_bytes", "Size of the database's -wal file (0 when there is none).", db)
    unsynced = _gauge("litefix_wal_unsynced_bytes", "Committed -wal bytes Litestream's local state has not taken.", db)
    inode = _gauge("litefix_database_inode", "Inode number of the file at the database path.", db)
    running = _gauge("litefix_litestream_running", "1 when a Litestream process holds the database.", db)
    current = _gauge(
        "litefix_litestream_holds_current_inode",
        "1 when the Litestream holding the database holds the file now at the path (0: replaced under it).",
        db,
    )
    up = _gauge("litefix_replica_up", "1 when the replica could be listed.", rep)
    lag = _gauge(
        "litefix_replica_lag_seconds",
        "Seconds since the replica last caught up, while the local side is ahead (0 when in sync).",
        rep,
    )
    lag_tx = _gauge("litefix_replica_lag_transactions", "Litestream 0.5: local TXID minus the replica's.", rep)
    lag_idx = _gauge(
        "litefix_replica_lag_wal_indexes", "Litestream 0.3: local shadow WAL index minus the replica's.", rep
    )
    newest_ts = _gauge(
        "litefix_replica_newest_object_timestamp_seconds", "When the newest replica object was written.", rep
    )
    newest_age = _gauge("litefix_replica_newest_object_age_seconds", "Age of the newest replica object.", rep)
    v_ok = _gauge("litefix_verify_last_success", "1 when the last `litefix verify` proved the round trip.", db)
    v_latency = _gauge(
        "litefix_verify_last_latency_seconds", "Replication latency measured by the last successful verify.", db
    )
    v_time = _gauge("litefix_verify_last_timestamp_seconds", "When the last `litefix verify` wrote its row.", db)
    v_failure = _gauge(
        "litefix_verify_last_failure", "1 for the finding code of the last verify when it failed.", [*db, "code"]
    )
    for d in c.databases:
        name = [d.db]
        inspected.add_metric(name, 1 if d.inspected else 0)
        counts: dict[tuple[str, str], int] = {}
        for code, severity in d.findings:
            counts[(code, severity)] = counts.get((code, severity), 0) + 1
        for (code, severity), n in sorted(counts.items()):
            findings.add_metric([d.db, code, severity], n)
        for severity in SEVERITIES:
            by_severity.add_metric([d.db, severity], sum(1 for _, s in d.findings if s == severity))
        wal.add_metric(name, d.wal_bytes)
        if d.unsynced_wal_bytes is not None:
            unsynced.add_metric(name, d.unsynced_wal_bytes)
        if d.inode is not None:
            inode.add_metric(name, d.inode)
        running.add_metric(name, 1 if d.litestream_running else 0)
        if d.litestream_holds_current_inode is not None:
            current.add_metric(name, 1 if d.litestream_holds_current_inode else 0)
        for r in d.replicas:
            labels = [d.db, r.location]
            up.add_metric(labels, 1 if r.up else 0)
            if r.lag_seconds is not None:
                lag.add_metric(labels, r.lag_seconds)
            if r.lag_transactions is not None:
                lag_tx.add_metric(labels, r.lag_transactions)
            if r.lag_wal_indexes is not None:
                lag_idx.add_metric(labels, r.lag_wal_indexes)
            if r.newest_object_time is not None:
                newest_ts.add_metric(labels, r.newest_object_time)
                newest_age.add_metric(labels, max(0.0, c.collected_at - r.newest_object_time))
        last = d.last_verify
        if last is not None:
            v_ok.add_metric(name, 1 if last.ok else 0)
            v_time.add_metric(name, last.time)
            if last.latency is not None:
                v_latency.add_metric(name, last.latency)
            if not last.ok and last.code:
                v_failure.add_metric([d.db, last.code], 1)
    return [
        info,
        litestream,
        duration,
        collected,
        inspected,
        findings,
        by_severity,
        wal,
        unsynced,
        inode,
        running,
        current,
        up,
        lag,
        lag_tx,
        lag_idx,
        newest_ts,
        newest_age,
        v_ok,
        v_latency,
        v_time,
        v_failure,
    ]
