"""The config as data: frozen dataclasses for the file, its databases and their replicas, and
their JSON form with secrets redacted."""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from litefix.config.constants import GENERATIONS, JSON, REDACTED, SECRET_KEYS
from litefix.config.expand import expand_path

if TYPE_CHECKING:
    import yaml


@dataclass(frozen=True)
class Incompatibility:
    """Something one Litestream generation does differently with this config, and where."""

    generation: str  # "0.3" or "0.5"
    line: int
    message: str

    def describe(self, source: str) -> str:
        return f"{source}:{self.line}: {self.message}"

    def to_json(self) -> dict[str, JSON]:
        return {"generation": self.generation, "line": self.line, "message": self.message}


@dataclass(frozen=True)
class ConfigLocation:
    """Which file litefix would read, and why that one."""

    path: str
    how_found: str  # one of HOW_FOUND

    @property
    def litestream_reads_it(self) -> bool:
        """False for ./litestream.yml: Litestream itself only reads it when given `-config`."""
        return self.how_found not in ("cwd", "rails")


@dataclass(frozen=True)
class ReplicaConfig:
    """One replica, resolved the way Litestream resolves it (URL parts, defaults, top-level settings)."""

    type: str  # the URL scheme, else `type:`, else "file" (webdavs is webdav)
    # Canonical, for display and comparison: file:///abs, s3://bucket/prefix … with the key
    # cleaned. `path` keeps the exact prefix: 0.5 uses it verbatim ("/p/" and "p" differ there).
    location: str
    name: str = ""
    path: str = ""  # file: the absolute directory; others: the remote path or key prefix as Litestream uses it
    url: str = ""  # as written
    bucket: str = ""
    region: str = ""
    endpoint: str = ""  # s3/abs/oss endpoint, webdav or nats server
    force_path_style: bool | None = None  # s3 only
    skip_verify: bool = False
    host: str = ""  # sftp
    user: str = ""  # sftp
    key_path: str = ""  # sftp
    account_name: str = ""  # abs
    # Credentials as written (or inherited); never in to_json(). Litestream falls back to the environment.
    access_key_id: str = field(default="", repr=False)  # s3, oss
    secret_access_key: str = field(default="", repr=False)
    account_key: str = field(default="", repr=False)  # abs
    sync_interval: float | None = None  # seconds; None means Litestream's default (1 s)
    snapshot_interval: float | None = None  # 0.3 only
    retention: float | None = None  # 0.3 only
    retention_check_interval: float | None = None  # 0.3 only
    validation_interval: float | None = None
    inherited: tuple[str, ...] = ()  # keys taken from the top level (0.5 semantics)
    notes: tuple[Incompatibility, ...] = ()
    raw: Mapping[str, JSON] = field(default_factory=dict)
    line: int = 0
    node: yaml.MappingNode | None = field(default=None, repr=False, compare=False)  # for narrowed_yaml

    @property
    def identity(self) -> str:
        """Where the objects really are, for "is this the same replica?": the location, and for an object
        store with an `endpoint:` that server too. Two S3-compatible servers (a MinIO, moto in a test, a
        Tigris and AWS) can each hold a bucket of the same name; only AWS's bucket names are global."""
        if self.endpoint and self.type in ("s3", "abs", "gs", "gcs", "oss"):
            return f"{self.location} at {self.endpoint.rstrip('/').lower()}"
        return self.location

    @property
    def understood_by(self) -> tuple[str, ...]:
        """The generations that read this replica as written (no note against it)."""
        return tuple(g for g in GENERATIONS if not any(n.generation == g for n in self.notes))

    def to_json(self) -> dict[str, JSON]:
        return {
            "type": self.type,
            "name": self.name,
            "location": self.location,
            "path": self.path,
            "url": _redact_url(self.url),
            "bucket": self.bucket,
            "region": self.region,
            "endpoint": self.endpoint,
            "force_path_style": self.force_path_style,
            "skip_verify": self.skip_verify,
            "host": self.host,
            "user": self.user,
            "key_path": self.key_path,
            "account_name": self.account_name,
            "sync_interval": self.sync_interval,
            "snapshot_interval": self.snapshot_interval,
            "retention": self.retention,
            "retention_check_interval": self.retention_check_interval,
            "validation_interval": self.validation_interval,
            "inherited": list(self.inherited),
            "understood_by": list(self.understood_by),
            "notes": [n.to_json() for n in self.notes],
            "raw": _json_safe(self.raw),
            "line": self.line,
        }


@dataclass(frozen=True)
class DatabaseConfig:
    """One `dbs:` entry: a database (or, in 0.5, a directory of them) and its replicas."""

    path: str  # absolute, cleaned, as Litestream expands it; a `dir:` entry's directory
    meta_dir: str  # explicit meta-path, else <dir>/.<name>-litestream; "" for a dir entry without one
    line: int
    replicas: tuple[ReplicaConfig, ...] = ()
    shape: str | None = None  # "replica", "replicas", "both" or None: which key(s) the entry uses
    written_path: str = ""  # as written (after env expansion)
    relative: bool = False  # resolved against the cwd, as Litestream resolves it against its own
    monitor_interval: float | None = None
    checkpoint_interval: float | None = None
    busy_timeout: float | None = None  # 0.5
    min_checkpoint_page_count: int | None = None
    max_checkpoint_page_count: int | None = None  # 0.3 only
    snapshot_interval: float | None = None  # 0.5 per-database `snapshot:`
    snapshot_retention: float | None = None
    dir: bool = False  # 0.5 `dir:` entry: every database under `path` whose name matches `pattern`
    pattern: str = ""
    recursive: bool = False
    watch: bool = False
    from_dir: str = ""  # set by find_db on a database found through a `dir:` entry
    notes: tuple[Incompatibility, ...] = ()
    raw: Mapping[str, JSON] = field(default_factory=dict)
    node: yaml.MappingNode | None = field(default=None, repr=False, compare=False)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    @property
    def replica(self) -> ReplicaConfig | None:
        """The replica 0.5 would use, or the first one 0.3 would."""
        return self.replicas[0] if self.replicas else None

    @property
    def understood_by(self) -> tuple[str, ...]:
        return tuple(g for g in GENERATIONS if not any(n.generation == g for n in self.notes))

    def to_json(self) -> dict[str, JSON]:
        return {
            "path": self.path,
            "meta_dir": self.meta_dir,
            "line": self.line,
            "shape": self.shape,
            "written_path": self.written_path,
            "relative": self.relative,
            "monitor_interval": self.monitor_interval,
            "checkpoint_interval": self.checkpoint_interval,
            "busy_timeout": self.busy_timeout,
            "min_checkpoint_page_count": self.min_checkpoint_page_count,
            "max_checkpoint_page_count": self.max_checkpoint_page_count,
            "snapshot_interval": self.snapshot_interval,
            "snapshot_retention": self.snapshot_retention,
            "dir": self.dir,
            "pattern": self.pattern,
            "recursive": self.recursive,
            "watch": self.watch,
            "from_dir": self.from_dir,
            "understood_by": list(self.understood_by),
            "notes": [n.to_json() for n in self.notes],
            "replicas": [r.to_json() for r in self.replicas],
            "raw": _json_safe(self.raw),
        }


@dataclass(frozen=True)
class LitestreamConfig:
    """A whole config file: where it came from, its databases and the settings that matter."""

    source_path: str
    how_found: str
    shape: str  # "replicas" (0.3 list), "replica" (0.5 mapping), "mixed" or "none"
    dbs: tuple[DatabaseConfig, ...]
    raw: Mapping[str, JSON] = field(default_factory=dict)
    cwd: str = ""  # what relative paths were resolved against
    expand_env: bool = True
    env_vars: tuple[str, ...] = ()  # variables the text refers to
    unset_env_vars: tuple[str, ...] = ()  # … that were unset here, so became ""
    addr: str = ""
    exec: str = ""
    log_level: str = ""
    log_type: str = ""
    snapshot_interval: float | None = None  # 0.5 top-level `snapshot:` (default 24 h)
    snapshot_retention: float | None = None
    levels: tuple[float, ...] = ()  # 0.5 compaction level intervals
    notes: tuple[Incompatibility, ...] = ()  # file-wide ones; see incompatibilities()
    node: yaml.MappingNode | None = field(default=None, repr=False, compare=False)

    def find_db(self, path: str, *, follow_symlinks: bool = True) -> DatabaseConfig | None:
        """The entry Litestream would use for `path` (relative to our cwd), matched as Litestream matches.

        Litestream compares the expanded, cleaned path string and never resolves symlinks, so
        that is tried first. A database under a 0.5 `dir:` entry comes back as its own entry
        (replica path and meta dir derived as 0.5 derives them; the SQLite header is not
        checked). With `follow_symlinks`, a path that is the same file through a symlink
        also matches: the running Litestream watches that file even if `litestream restore`
        would not accept the other spelling. Compare `db.path` with yours to tell.
        """
        from litefix.config.dirs import _derive_from_dir  # dirs builds entries of this module's types

        wanted = expand_path(path)
        for db in self.dbs:
            if not db.dir and db.path == wanted:
                return db
        for db in self.dbs:
            if db.dir and (derived := _derive_from_dir(db, wanted)) is not None:
                return derived
        if not follow_symlinks:
            return None
        real = os.path.realpath(wanted)
        for db in self.dbs:
            if not db.dir and os.path.realpath(db.path) == real:
                return db
        for db in self.dbs:
            rel = posixpath.relpath(real, os.path.realpath(db.path)) if db.dir else ".."
            if not rel.startswith("..") and (derived := _derive_from_dir(db, f"{db.path}/{rel}")) is not None:
                return derived
        return None

    def incompatibilities(self, version: str) -> tuple[Incompatibility, ...]:
        """What Litestream `version` ("0.3.13", "v0.5.17", "0.5" …) does differently with this file."""
        generation = litestream_generation(version)
        found = [n for n in self.notes if n.generation == generation]
        for db in self.dbs:
            found += [n for n in db.notes if n.generation == generation]
            for replica in db.replicas:
                found += [n for n in replica.notes if n.generation == generation]
        return tuple(sorted(found, key=lambda n: n.line))

    def to_json(self) -> dict[str, JSON]:
        return {
            "source_path": self.source_path,
            "how_found": self.how_found,
            "shape": self.shape,
            "cwd": self.cwd,
            "expand_env": self.expand_env,
            "env_vars": list(self.env_vars),
            "unset_env_vars": list(self.unset_env_vars),
            "addr": self.addr,
            "exec": self.exec,
            "log_level": self.log_level,
            "log_type": self.log_type,
            "snapshot_interval": self.snapshot_interval,
            "snapshot_retention": self.snapshot_retention,
            "levels": list(self.levels),
            "notes": [n.to_json() for n in self.notes],
            "dbs": [db.to_json() for db in self.dbs],
            "raw": _json_safe({k: v for k, v in self.raw.items() if k != "dbs"}),  # each db carries its own
        }


def litestream_generation(version: str) -> str:
    """'0.3' or '0.5' for a version string; unparseable (development) builds count as 0.5."""
    numbers = re.findall(r"\d+", version.lstrip("v"))
    if len(numbers) >= 2 and (int(numbers[0]), int(numbers[1])) < (0, 5):
        return "0.3"
    return "0.5"


def _json_safe(value: Any, key: str = "") -> JSON:
    """Plain JSON, secrets redacted: raw YAML can hold dates, bytes, sets, non-string keys."""
    if key in SECRET_KEYS and value not in (None, "", [], {}):
        return REDACTED
    if key == "url" and isinstance(value, str):
        return _redact_url(value)
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _redact_url(url: str) -> str:
    """sftp://user:secret@host → sftp://user:<redacted>@host."""
    return re.sub(r"^(\w+://[^/@:]*):[^/@]*@", rf"\1:{REDACTED}@", url)
