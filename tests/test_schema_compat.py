"""A schema the Litestream binary's own SQLite cannot parse: the real binary's error, and litefix's finding.

The schema is written with apsw's SQLite (3.54), as an app with a current SQLite would; Litestream
0.3.13 embeds SQLite 3.42.0. Each case runs the real `litestream replicate` to prove the claim.
"""

from __future__ import annotations

import re
from pathlib import Path

import apsw
import pytest

from tests.helpers import fingerprint, litefix
from tests.litestream_harness import Replicator, binary, config_text

pytestmark = pytest.mark.litestream

CASES = {
    "ordered-aggregate": (
        "CREATE TABLE messages (channel TEXT, body TEXT);"
        "CREATE VIEW digest AS SELECT channel, string_agg(body, ',' ORDER BY body) AS bodies FROM messages "
        "GROUP BY channel",
        'malformed database schema (digest) - near \\"ORDER\\": syntax error',
        "view digest",
    ),
    "digit-separator": (
        "CREATE TABLE quotas (bytes INTEGER CHECK (bytes < 1_000_000))",
        'malformed database schema (quotas) - unrecognized token: \\"1_000_000\\"',
        "table quotas",
    ),
}


def _database(path: Path, sql: str) -> Path:
    con = apsw.Connection(str(path))
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(sql)
    con.close()
    return path


def _replicate(tmp_path: Path, version: str, db: Path) -> Replicator:
    config = tmp_path / f"litestream-{version}.yml"
    config.write_text(config_text(version, [(db, tmp_path / f"replica-{version}")]))
    return Replicator(version, config, tmp_path / f"litestream-{version}.log").start()


@pytest.mark.parametrize("case", sorted(CASES))
def test_schema_syntax_older_litestream_cannot_parse_is_too_old(tmp_path: Path, case: str) -> None:
    sql, error, named = CASES[case]
    db = _database(tmp_path / "app.db", sql)
    # litefix says it before Litestream ever runs, reading the schema through SQLite without a trace ...
    before = fingerprint(tmp_path)
    result = litefix("diagnose", db, "--json", "--litestream", binary("0.3.13"))
    assert fingerprint(tmp_path) == before
    findings = [f for f in result.json()["findings"] if f["code"] == "litestream-sqlite-too-old"]
    assert len(findings) == 1, result.out
    objects = findings[0]["evidence"]["objects"]
    assert [o["object"] for o in objects] == [named]
    assert findings[0]["severity"] == "error" and result.code == 1
    # ... and the real 0.3.13 fails exactly so, on every sync.
    rep = _replicate(tmp_path, "0.3.13", db)
    try:
        rep.wait_for_log(r"sync error.*" + re.escape(error), 20)
    finally:
        rep.stop()
    # Litestream 0.5.15 (SQLite 3.51.2) parses it, replicates it, and litefix has nothing to say.
    rep = _replicate(tmp_path, "0.5.15", db)
    try:
        rep.wait_for_log("snapshot complete", 20)
        assert "malformed" not in rep.log()
    finally:
        rep.stop()
    newer = litefix("diagnose", db, "--json", "--litestream", binary("0.5.15")).json()
    assert "litestream-sqlite-too-old" not in {f["code"] for f in newer["findings"]}
