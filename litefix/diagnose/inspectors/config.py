"""The Litestream config that would replicate this database: found, lists it, fits the binary.

Found the way Litestream finds it (`--config`, LITESTREAM_CONFIG, /etc/litestream.yml;
litefix also looks at ./litestream.yml, which Litestream itself never reads).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON, Severity

if TYPE_CHECKING:
    from litefix.config import DatabaseConfig


def _summary(facts: dict[str, JSON]) -> str:
    return f"listed in {facts.get('source')}" if facts.get("database") else str(facts.get("source", ""))


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    config = ctx.config
    if config is None:
        raise Skip("no Litestream config found (--config, LITESTREAM_CONFIG, ./litestream.yml, /etc/litestream.yml)")
    report = Report()
    report.facts.update(
        source=config.source_path, how_found=config.how_found, shape=config.shape, databases=len(config.dbs)
    )
    if config.how_found == "cwd":
        report.facts["note"] = "./litestream.yml is read by litefix only; Litestream needs -config to read it"
    db = ctx.config_db
    if db is None:
        report.findings.append(
            CODES["config-db-missing"].finding(
                f"{config.source_path} does not list {ctx.db} ({len(config.dbs)} databases configured)",
                {"config": config.source_path, "configured": [d.path for d in config.dbs][:20]},
            )
        )
        return report
    report.facts["database"] = db.to_json()
    binary = ctx.binary
    if binary is None or binary.version is None:
        return report
    s3 = [r.location for r in db.replicas if r.type == "s3"]
    if s3 and binary.generation == "0.5" and os.environ.get("AWS_CA_BUNDLE"):
        report.findings.append(
            CODES["litestream-version-risk"].finding(
                f"AWS_CA_BUNDLE is set, and Litestream {binary.version} cannot build its S3 client with it: "
                f"replication to {s3[0]} fails at start (`unable to add custom RootCAs HTTPClient`)",
                {"AWS_CA_BUNDLE": os.environ["AWS_CA_BUNDLE"], "litestream": str(binary.version), "replicas": s3},
                severity=Severity.ERROR,
                hint="unset AWS_CA_BUNDLE in the environment of `litestream replicate` and `restore` (measured on "
                "0.5.17; 0.3.13 is not affected)",
            )
        )
    mine = _lines(db)
    problems = [n for n in config.incompatibilities(str(binary.version)) if n.line == 0 or n.line in mine]
    if problems:
        report.findings.append(
            CODES["litestream-version-risk"].finding(
                f"{config.source_path} does not mean what Litestream {binary.version} will do: "
                + problems[0].describe(config.source_path),
                {
                    "config": config.source_path,
                    "litestream": str(binary.version),
                    "problems": [p.describe(config.source_path) for p in problems],
                },
                severity=Severity.WARNING,
                hint="rewrite the entry in the shape the installed Litestream reads (0.3: `replicas:` list; "
                "0.5: `replica:` mapping), or install the version the config was written for",
            )
        )
    return report


def _lines(db: DatabaseConfig) -> set[int]:
    """The config lines that belong to this database entry and its replicas."""
    lines = {db.line, *(n.line for n in db.notes)}
    for replica in db.replicas:
        lines |= {replica.line, *(n.line for n in replica.notes)}
    return lines
