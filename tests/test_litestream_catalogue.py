"""tools/litestream_catalogue.py on a tiny real git repository with Litestream-shaped tags and Go files.

CI has no Litestream checkout, so the generator is checked on one built here: two releases, a
message that changed between them, a log call of each kind, a test file and an example that
must be left out.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers import ROOT

V03 = """package litestream
func (db *DB) Sync() error {
	log.Printf("%s: sync error: %s", db.path, err)
	return fmt.Errorf("cannot verify wal state: %w", err)
}
"""
V05 = """package litestream
func (db *DB) Sync() error {
	db.Logger.Error("sync error", "error", err)
	r.Logger().Info("replica sync", "txid", x)
	logger.Log(ctx, internal.LevelTrace, "salt mismatch")
	return fmt.Errorf("cannot verify wal state: %w", err)
}
func NewThing() error { return errors.New("thing " +
	"required") }
"""


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_the_generator_lists_each_message_once_with_the_releases_that_have_it(tmp_path: Path) -> None:
    repo = tmp_path / "litestream"
    repo.mkdir()
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "t@example.com")
    git(repo, "config", "user.name", "t")
    (repo / "db.go").write_text(V03)
    (repo / "db_test.go").write_text('package litestream\nfunc T() { t.Errorf("only in tests: %d", 1) }\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "0.3")
    git(repo, "tag", "v0.3.0")
    (repo / "db.go").write_text(V05)
    (repo / "_examples").mkdir()
    (repo / "_examples" / "main.go").write_text('package main\nfunc main() { log.Printf("example only") }\n')
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "0.5")
    git(repo, "tag", "v0.5.0")
    git(repo, "tag", "v0.5.0-test.1")  # test tags are not releases
    out = tmp_path / "catalogue.json"
    subprocess.run(
        [sys.executable, str(ROOT / "tools" / "litestream_catalogue.py"), str(repo / ".git"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    doc = json.loads(out.read_text())
    assert doc["versions"] == ["0.3.0", "0.5.0"]
    by_fmt = {m["fmt"]: m for m in doc["messages"]}
    assert by_fmt["cannot verify wal state: %w"]["releases"] == "0.3.0..0.5.0"
    assert by_fmt["cannot verify wal state: %w"]["where"] == ["db.go:DB.Sync"]
    assert by_fmt["%s: sync error: %s"] == {
        "fmt": "%s: sync error: %s",
        "kind": "log",
        "level": "ERROR",
        "where": ["db.go:DB.Sync"],
        "releases": "0.3.0",
    }
    assert by_fmt["sync error"]["level"] == "ERROR" and by_fmt["sync error"]["releases"] == "0.5.0"
    assert by_fmt["replica sync"]["level"] == "INFO"
    assert by_fmt["salt mismatch"]["level"] == "DEBUG"
    assert by_fmt["thing required"]["kind"] == "error" and by_fmt["thing required"]["where"] == ["db.go:NewThing"]
    assert "only in tests: %d" not in by_fmt and "example only" not in by_fmt
    assert len(out.read_text().splitlines()) == len(doc["messages"]) + 2  # one message per line
