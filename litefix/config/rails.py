"""A Rails app's `config/database.yml`: which SQLite databases the app will open.

Rails 8 keeps four (primary, cache, queue, cable) under `storage/`, declared per environment, often
with an ERB tag or two and a `<<: *default` merge. A database the app opens but `litestream.yml`
does not list is never backed up: a redeploy starts it empty (seen: cable left out of the config,
and boot started the app with an empty cable database). litefix does not run Ruby: an ERB tag that
only reads the environment (`ENV["X"]`, `ENV.fetch("X") { "d" }`, `ENV.fetch("X", "d")`) is expanded
from ours; any other tag is left as it is and the entry that depends on it is reported as unknown
rather than guessed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from litefix.model import JSON

DATABASE_YML = os.path.join("config", "database.yml")
_ERB = re.compile(r"<%(=|-)?(.*?)-?%>", re.S)
_ENV = re.compile(
    r"""^\s*ENV(?:\[\s*["'](?P<a>\w+)["']\s*\]"""
    r"""|\.fetch\(\s*["'](?P<b>\w+)["']\s*(?:,\s*["']?(?P<d1>[^"')]*)["']?\s*)?\)"""
    r"""(?:\s*\{\s*["']?(?P<d2>[^"'}]*)["']?\s*\})?)"""
    r"""(?:\s*\|\|\s*["'](?P<d3>[^"']*)["'])?\s*(?:\.to_i)?\s*$"""
)


class RailsConfigError(ValueError):
    """database.yml cannot be read as YAML even with its ERB tags set aside."""


@dataclass(frozen=True)
class RailsDatabase:
    name: str  # "primary", "cable", …
    path: str | None  # absolute; None when an ERB tag litefix cannot expand decides it
    raw: str  # the `database:` value as written

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "path": self.path, "database": self.raw}


@dataclass(frozen=True)
class RailsApp:
    root: str
    environment: str
    databases: tuple[RailsDatabase, ...]

    @property
    def source(self) -> str:
        return os.path.join(self.root, DATABASE_YML)


def find_rails_root(*candidates: str | None) -> str | None:
    """The first candidate directory holding `config/database.yml`."""
    for candidate in candidates:
        if candidate and os.path.isfile(os.path.join(candidate, DATABASE_YML)):
            return os.path.abspath(candidate)
    return None


def expand_erb(text: str, env: Mapping[str, str]) -> tuple[str, bool]:
    """The text with ERB tags that only read the environment expanded; (text, every tag expanded).
    Control tags (`<% if … %>`) are dropped: YAML cannot hold them, and what they guard stays."""
    complete = True

    def one(match: re.Match[str]) -> str:
        nonlocal complete
        kind, code = match.group(1), match.group(2)
        if kind != "=":
            complete = False
            return ""
        found = _ENV.match(code)
        if found is None:
            complete = False
            return "<%=" + code + "%>"
        name = found.group("a") or found.group("b")
        default: str | None = found.group("d1") or found.group("d2") or found.group("d3")
        value = env.get(name, default)
        if value is None:  # unset, and no default in the tag
            complete = False
            return "<%=" + code + "%>"
        return value

    return _ERB.sub(one, text), complete


def read_database_yml(root: str, environment: str | None = None, env: Mapping[str, str] | None = None) -> RailsApp:
    """The SQLite databases of `environment` (default: RAILS_ENV, else production) in `root`'s
    config/database.yml, paths resolved against the app's root as Rails resolves them."""
    env = os.environ if env is None else env
    environment = environment or env.get("RAILS_ENV") or "production"
    path = os.path.join(root, DATABASE_YML)
    with open(path, encoding="utf-8", errors="replace") as fh:
        text, _complete = expand_erb(fh.read(), env)
    try:
        doc = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise RailsConfigError(f"{path}: {str(exc).splitlines()[0]}") from None
    section = doc.get(environment) if isinstance(doc, dict) else None
    if not isinstance(section, dict):
        return RailsApp(root, environment, ())
    entries = {"primary": section} if "adapter" in section or "database" in section else section
    found = []
    for name, entry in entries.items():
        if not isinstance(entry, dict) or "sqlite" not in str(entry.get("adapter", "")):
            continue
        raw = str(entry.get("database", ""))
        if not raw or raw == ":memory:" or raw.startswith("file::memory:"):
            continue
        resolved = None if "<%" in raw else os.path.normpath(os.path.join(root, raw.removeprefix("file:")))
        found.append(RailsDatabase(str(name), resolved, raw))
    return RailsApp(root, environment, tuple(found))
