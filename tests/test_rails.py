"""Rails conventions: the config where Rails apps keep it, and every database the app opens replicated.

A Rails 8 app keeps `config/litestream.yml` (where litestream-ruby looks) and declares its four
SQLite databases in `config/database.yml`, per environment, with ERB and a `<<: *default` merge.
Leaving one out of litestream.yml means a redeploy starts it empty (seen with cable).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from litefix.config.rails import expand_erb, read_database_yml
from tests.helpers import litefix
from tests.litestream_harness import binary, config_text, migrate

pytestmark = pytest.mark.litestream

NAMES = ("primary", "cache", "queue", "cable")

DATABASE_YML = """\
default: &default
  adapter: sqlite3
  pool: <%= ENV.fetch("RAILS_MAX_THREADS") { 5 } %>
  timeout: 5000

development:
  <<: *default
  database: storage/development.sqlite3

production:
  primary:
    <<: *default
    database: <%= ENV.fetch("LITEFIX_TEST_STORAGE", "storage") %>/production.sqlite3
  cache:
    <<: *default
    database: storage/production_cache.sqlite3
    migrations_paths: db/cache_migrate
  queue:
    <<: *default
    database: storage/production_queue.sqlite3
    migrations_paths: db/queue_migrate
  cable:
    <<: *default
    database: storage/production_cable.sqlite3
    migrations_paths: db/cable_migrate
<% if ENV["EXTRA"] %>
  analytics:
    adapter: postgresql
    database: analytics
<% end %>
"""


def rails_app(root: Path, version: str, replicated: tuple[str, ...]) -> Path:
    """A Rails app's root: config/database.yml, config/litestream.yml listing `replicated`, the databases."""
    (root / "config").mkdir(parents=True)
    (root / "storage").mkdir()
    (root / "config" / "database.yml").write_text(DATABASE_YML)
    dbs = {
        name: root / "storage" / (f"production_{name}.sqlite3" if name != "primary" else "production.sqlite3")
        for name in NAMES
    }
    for db in dbs.values():
        migrate(db, 3)
    pairs = [(dbs[n], root / "replica" / dbs[n].name) for n in replicated]
    (root / "config" / "litestream.yml").write_text(config_text(version, pairs, log_level="info"))
    return root


def test_database_yml_production_entries_with_erb_and_merge_keys(tmp_path: Path) -> None:
    app = rails_app(tmp_path, "0.5.17", NAMES)
    found = read_database_yml(str(app), env={})
    assert found.environment == "production"
    assert [d.name for d in found.databases] == list(NAMES)  # postgresql and development left out
    assert found.databases[0].path == str(app / "storage" / "production.sqlite3")
    moved = read_database_yml(str(app), env={"LITEFIX_TEST_STORAGE": "/data"})
    assert moved.databases[0].path == "/data/production.sqlite3"
    development = read_database_yml(str(app), env={"RAILS_ENV": "development"})
    assert [d.path for d in development.databases] == [str(app / "storage" / "development.sqlite3")]


def test_erb_that_does_more_than_read_the_environment_is_left_unexpanded() -> None:
    text, complete = expand_erb('database: <%= Rails.root.join("db") %>/x.sqlite3', {})
    assert not complete and "<%=" in text


def test_check_from_a_rails_apps_root_finds_config_litestream_yml_and_flags_cable_left_out(tmp_path: Path) -> None:
    """`litefix check` with no --config, run where Rails apps run it (their root): it reads
    config/litestream.yml, and names the database database.yml declares that the config leaves out."""
    app = rails_app(tmp_path, "0.5.17", NAMES[:3])
    env = {k: v for k, v in os.environ.items() if k not in ("LITESTREAM_CONFIG", "RAILS_ENV")}
    env["LITEFIX_LITESTREAM"] = str(binary("0.5.17"))
    result = litefix("check", "--json", env=env, cwd=app)
    doc = result.json()
    assert doc["config"] == str(app / "config" / "litestream.yml"), result.err
    rails = next(line for line in doc["deployment"] if line["name"] == "rails")
    (finding,) = rails["findings"]
    assert finding["code"] == "database-not-replicated" and finding["severity"] == "warning"
    assert finding["evidence"]["name"] == "cable"
    assert finding["evidence"]["path"] == str(app / "storage" / "production_cable.sqlite3")

    text = litefix("check", env=env, cwd=app)
    assert "! deployment" in text.out and "database-not-replicated" in text.out
    assert text.out.rstrip().splitlines()[-1].startswith("ready: ")

    booted = litefix("boot", "--", sys.executable, "-c", "pass", env=env, cwd=app)
    assert booted.code == 0, booted.err
    assert "database-not-replicated (deployment)" in booted.err, "boot lists the warnings its summary counts"
