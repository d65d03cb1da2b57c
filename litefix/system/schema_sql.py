"""The CREATE statements of a database, as a reader sees them, and what an older SQLite cannot parse.

Read through the read-only VFS (nothing is created or written beside the database); only asked for
when the Litestream binary's SQLite is older than some syntax litefix knows breaks it, so a diagnosis
with a current Litestream never opens SQLite for this.
"""

from __future__ import annotations

from dataclasses import dataclass

from litefix.formats.sqlfeatures import FEATURES, Feature, features_in


@dataclass(frozen=True)
class Unparsable:
    """One schema object using syntax a given SQLite build cannot parse."""

    kind: str
    name: str
    feature: Feature
    text: str

    def to_json(self) -> dict[str, object]:
        return {
            "object": f"{self.kind} {self.name}",
            "syntax": self.feature.description,
            "uses": self.text,
            "needs_sqlite": self.feature.since,
            "measured": self.feature.measured,
        }


def features_newer_than(sqlite_date: str) -> tuple[Feature, ...]:
    """The listed syntax released after a build whose SQLite source id is dated `sqlite_date`."""
    return tuple(f for f in FEATURES if sqlite_date < f.released)


def read_schema_sql(path: str) -> list[tuple[str, str, str]]:
    """(type, name, sql) of every object with SQL; raises apsw.Error when SQLite cannot read it."""
    from litefix.system.readonly import open_readonly  # only with an older Litestream: see the docstring

    with open_readonly(path) as con:
        rows = con.execute("SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL").fetchall()
    return [(str(kind), str(name), str(sql)) for kind, name, sql in rows]


def unparsable(objects: list[tuple[str, str, str]], sqlite_date: str) -> list[Unparsable]:
    newer = {f.key for f in features_newer_than(sqlite_date)}
    return [
        Unparsable(kind, name, feature, text)
        for kind, name, sql in objects
        for feature, text in features_in(sql)
        if feature.key in newer
    ]
