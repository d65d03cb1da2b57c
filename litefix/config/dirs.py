"""0.5 `dir:` entries: the per-database entry, meta dir and replica path 0.5 derives for a file
under the directory."""

from __future__ import annotations

import fnmatch
import posixpath
from dataclasses import replace
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from litefix.config.constants import META_DIR_SUFFIX
from litefix.config.expand import default_meta_dir, go_clean
from litefix.config.model import DatabaseConfig, ReplicaConfig
from litefix.config.urls import _key_prefix


def _go_glob_match(pattern: str, name: str) -> bool:
    """Go's filepath.Match on a base name; `[^…]` is Go's spelling of `[!…]`."""
    return fnmatch.fnmatchcase(name, pattern.replace("[^", "[!"))


def _derive_from_dir(entry: DatabaseConfig, db_path: str) -> DatabaseConfig | None:
    """The per-database entry 0.5 builds for `db_path` under a dir entry, or None if it is not there."""
    rel = posixpath.relpath(db_path, entry.path)
    if rel.startswith("..") or rel == ".":
        return None
    if "/" in rel and not entry.recursive:
        return None
    if not _go_glob_match(entry.pattern, posixpath.basename(rel)):
        return None
    rel_dir, name = posixpath.split(rel)
    if entry.meta_dir and entry.raw.get("meta-dir"):
        meta = posixpath.join(entry.meta_dir, rel + META_DIR_SUFFIX)
    elif entry.meta_dir:
        meta = posixpath.join(entry.meta_dir, rel_dir, "." + name + META_DIR_SUFFIX)
    else:
        meta = default_meta_dir(db_path)
    replicas = tuple(_replica_below(r, rel) for r in entry.replicas)
    return replace(entry, path=db_path, meta_dir=meta, replicas=replicas, dir=False, pattern="", from_dir=entry.path)


def _replica_below(replica: ReplicaConfig, rel: str) -> ReplicaConfig:
    """0.5 gives each database under a dir entry its own replica: the base path or URL path + `rel`."""
    location = f"{replica.location}/{rel}"
    if replica.type == "file":
        path = go_clean(f"{replica.path}/{rel}")
        return replace(replica, path=path, location="file://" + path, url="")
    if not replica.url:
        path = posixpath.join(replica.path, rel) if replica.path else rel
        return replace(replica, path=path, location=location)
    parts = urlsplit(replica.url)
    base = unquote(parts.path)
    url_path = "/" + (posixpath.normpath(posixpath.join(base, rel)) if base else rel).lstrip("/")
    url = urlunsplit(parts._replace(path=quote(url_path, safe="/$&+,:;=@")))
    path = url_path if replica.type in ("sftp", "webdav") else _key_prefix(url_path)
    return replace(replica, path=path, url=url, location=location)
