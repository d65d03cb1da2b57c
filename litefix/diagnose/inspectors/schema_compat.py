"""Does the Litestream binary's own SQLite parse this database's schema?

Litestream opens the database with the SQLite compiled into it. When the app's SQLite is newer and
the schema uses syntax the embedded one lacks, every sync fails with
`malformed database schema (NAME) - …` and nothing is replicated (measured with 0.3.13, whose
SQLite is 3.42.0). Only syntax measured to break a build is checked (formats/sqlfeatures.py), and
only when the binary's SQLite predates it: with a current Litestream this costs nothing.
"""

from __future__ import annotations

from litefix.codes import CODES
from litefix.diagnose.context import Context, Skip
from litefix.diagnose.inspectors import Report, summarized
from litefix.model import JSON
from litefix.system.schema_sql import features_newer_than, read_schema_sql, unparsable


def _summary(facts: dict[str, JSON]) -> str:
    return f"the schema parses with {facts.get('embedded_sqlite')}"


@summarized(_summary)
def inspect(ctx: Context) -> Report:
    binary = ctx.binary
    if binary is None:
        raise Skip("no litestream binary to compare with")
    description, date = binary.embedded_sqlite
    if date is None:
        raise Skip(f"the SQLite inside {binary.path} is unknown ({description})")
    report = Report()
    report.facts.update(embedded_sqlite=description, sqlite_date=date)
    newer = features_newer_than(date)
    if not newer:
        report.facts["checked"] = "nothing: this build parses every syntax litefix knows to break older ones"
        return report
    ctx.require_header()
    import apsw  # SQLite itself, only when the binary's SQLite predates a syntax litefix knows

    try:
        objects = read_schema_sql(ctx.db)
    except apsw.Error as exc:
        raise Skip(f"SQLite cannot read the schema ({exc}): see integrity") from exc
    found = unparsable(objects, date)
    report.facts.update(objects=len(objects), checked=[f.since + ": " + f.description for f in newer])
    if not found:
        return report
    first = found[0]
    version = binary.version or binary.version_text
    report.findings.append(
        CODES["litestream-sqlite-too-old"].finding(
            f"Litestream {version} ({binary.path}) embeds {description}, which cannot parse {first.kind} "
            f"{first.name} of {ctx.db}: {first.feature.description} (`{first.text}`) needs SQLite "
            f"{first.feature.since}; it fails every sync with `malformed database schema ({first.name}) - …` "
            "and replicates nothing",
            {
                "litestream": str(version),
                "path": binary.path,
                "embedded_sqlite": description,
                "objects": [u.to_json() for u in found],
            },
        )
    )
    return report
