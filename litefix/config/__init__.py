"""The user's Litestream config, read the way Litestream 0.3.13 and 0.5.17 read it.

litefix diagnoses what Litestream *would* do, so this reader follows the binaries, not
the docs. The rules below were checked against both real binaries (`litestream databases`,
plus `snapshots`/`ltx` and a fake S3 for where a replica really is) and tests/test_config.py
keeps them honest; provider host patterns in s3 URLs come from reading each version's source.

- **Where**: `-config`, else `LITESTREAM_CONFIG` (if non-empty), else `/etc/litestream.yml`.
  A named file that is missing is an error, never a fall-through. Litestream never reads
  `./litestream.yml`; litefix looks there as a convenience and says so (`how_found="cwd"`).
- **Environment**: Go's `os.Expand` over the whole text (comments included) before YAML
  parsing: `$VAR` and `${VAR}` only; an unset variable becomes empty; `$$`, `$1`, `$-` … are
  variables too (so they vanish); `${}` and an unclosed `${` are eaten; `${A:-x}` is a variable
  named `A:-x`; a `$` before anything else stays. 0.5 alone maps `$PID` to its own pid.
  `-no-expand-env` turns all of it off (`expand_env=False`).
- **Paths**: `~` is the passwd home (not `$HOME`); relative paths are relative to the working
  directory of the Litestream *process*, never to the config file; paths are cleaned, never
  resolved through symlinks, and a database is found by exact string match on that form.
  0.5 strips a `sqlite://` / `sqlite3://` prefix; 0.3 does not.
- **Shapes**: 0.3 reads `replicas:` (a list) and silently ignores `replica:`; 0.5 reads
  `replica:` and still accepts a one-element `replicas:`, but rejects two replicas, both keys,
  or none. Such differences are `Incompatibility` notes (`incompatibilities(version)`), not
  errors. `ConfigError` is kept for a file that is malformed for a version that reads the
  offending key, or that no version could replicate (an entry without a path).
- **YAML**: yaml.v2 semantics: first document only, last duplicate key wins, a string field takes
  any scalar's source text (`bucket: 0x10` is "0x10"), a bare number as a duration is nanoseconds.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import pwd
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from fractions import Fraction
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

from litefix.errors import ConfigError

if TYPE_CHECKING:
    import yaml
else:

    class _Yaml(ModuleType):
        """PyYAML, imported on first use: finding out that there is no config must not cost its import."""

        def __getattr__(self, name: str) -> Any:
            import yaml as module

            globals()["yaml"] = module
            return getattr(module, name)

    yaml = _Yaml("yaml")

JSON = Any

ENV_VAR = "LITESTREAM_CONFIG"
DEFAULT_CONFIG_PATH = "/etc/litestream.yml"
CWD_CONFIG_NAME = "litestream.yml"
RAILS_CONFIG_NAME = "config/litestream.yml"  # where Rails apps (and litestream-ruby) keep it
META_DIR_SUFFIX = "-litestream"

# How the config was found: litefix's --config, $LITESTREAM_CONFIG, ./litestream.yml, /etc.
HOW_FOUND = ("explicit", "env", "cwd", "rails", "default")

GENERATIONS = ("0.3", "0.5")
REPLICA_TYPES: Mapping[str, frozenset[str]] = {
    "0.3": frozenset({"file", "s3", "gcs", "abs", "sftp"}),
    "0.5": frozenset({"file", "s3", "gs", "abs", "sftp", "webdav", "nats", "oss"}),
}
ALL_REPLICA_TYPES = REPLICA_TYPES["0.3"] | REPLICA_TYPES["0.5"]

# Top-level keys a private, narrowed Litestream must not inherit: they act outside the
# database (run the app, bind the metrics port or control socket, ping a health monitor).
NARROWING_DROPS = ("exec", "addr", "mcp-addr", "socket", "heartbeat-url", "heartbeat-interval")

# Never shown in to_json(): Litestream reads them as plain config values.
# fmt: off
SECRET_KEYS = frozenset({
    "secret-access-key", "password", "account-key", "sas-token", "webdav-password", "jwt", "seed", "nkey", "token",
    "sse-customer-key", "age",
})
REDACTED = "<redacted>"

HINT = "fix the config; `litestream databases -config FILE` shows what Litestream makes of it"

# 0.5 copies these top-level replica settings into every replica that leaves them unset;
# 0.3 copies only the two credentials.
_INHERITED_05 = (
    "bucket", "region", "endpoint", "force-path-style", "skip-verify", "sync-interval", "validation-interval",
    "access-key-id", "secret-access-key", "account-name", "account-key", "host", "user", "password", "key-path",
    "webdav-url", "webdav-username", "webdav-password",
)
_INHERITED_03 = frozenset({"access-key-id", "secret-access-key"})
_REPLICA_STRINGS = (
    "type", "name", "path", "url", "bucket", "region", "endpoint", "access-key-id", "secret-access-key",
    "account-name", "account-key", "host", "user", "password", "key-path", "webdav-url", "webdav-username",
    "webdav-password",
)
_REPLICA_BOOLS = ("force-path-style", "skip-verify")
# The inheritable settings each replica type reads (the rest are inherited but unused).
_SETTINGS_BY_TYPE = {
    "file": (),
    "s3": ("bucket", "region", "endpoint", "force-path-style", "skip-verify", "access-key-id", "secret-access-key"),
    "gs": ("bucket",), "gcs": ("bucket",),
    "abs": ("bucket", "endpoint", "account-name", "account-key"),
    "oss": ("bucket", "region", "endpoint", "access-key-id", "secret-access-key"),
    "sftp": ("host", "user", "password", "key-path"),
    "webdav": ("webdav-url", "webdav-username", "webdav-password"),
    "nats": ("bucket", "password"),
}
_SETTINGS_USED = {t: ("sync-interval", "validation-interval", *keys) for t, keys in _SETTINGS_BY_TYPE.items()}
# What a replica's url already names, per type: Litestream refuses the key next to a url.
_URL_CLASHES = {
    "s3": ("bucket",), "gs": ("bucket",), "gcs": ("bucket",), "abs": ("bucket",), "oss": ("bucket",),
    "sftp": ("host",), "webdav": ("webdav-url",),
}
_REPLICA_DURATIONS = (
    "sync-interval", "snapshot-interval", "retention", "retention-check-interval", "validation-interval",
)
# Replica keys 0.5 no longer reads: snapshots and retention became top-level settings.
_REPLICA_KEYS_DROPPED_IN_05 = ("snapshot-interval", "retention", "retention-check-interval")
_GLOBAL_DURATIONS = (
    "l0-retention", "l0-retention-check-interval", "shutdown-sync-timeout", "shutdown-sync-interval",
    "heartbeat-interval",
)
# fmt: on
_IS_URL = re.compile(r"^\w+://")


# --------------------------------------------------------------------------------------
# data


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
    def display_name(self) -> str:
        """0.3 names a replica by its `name:`, else by its type."""
        return self.name or self.type

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


# --------------------------------------------------------------------------------------
# finding and loading


def locate_config(
    explicit: str | None = None, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> ConfigLocation | None:
    """The config litefix reads: explicit, then $LITESTREAM_CONFIG, then ./litestream.yml, then
    ./config/litestream.yml (a Rails app's root), then /etc.

    A path that was named (explicitly or by the variable) is returned even if it does not
    exist, so that loading it fails loudly, as Litestream fails. The two implicit places
    count only if they exist; None means there is no config at all.
    """
    env = os.environ if env is None else env
    cwd = cwd or os.getcwd()
    if explicit:
        return ConfigLocation(expand_path(explicit, cwd), "explicit")
    if env.get(ENV_VAR):
        return ConfigLocation(expand_path(env[ENV_VAR], cwd), "env")
    local = posixpath.join(cwd, CWD_CONFIG_NAME)
    if os.path.isfile(local):
        return ConfigLocation(local, "cwd")
    rails = posixpath.join(cwd, RAILS_CONFIG_NAME)
    if os.path.isfile(rails):  # a Rails app's root; litestream-ruby passes it to Litestream as -config
        return ConfigLocation(rails, "rails")
    if os.path.isfile(DEFAULT_CONFIG_PATH):
        return ConfigLocation(DEFAULT_CONFIG_PATH, "default")
    return None


def find_config_path(
    explicit: str | None = None, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> str | None:
    """The path `locate_config` picks, or None."""
    location = locate_config(explicit, env, cwd)
    return location.path if location else None


def load_config(
    path: str,
    env: Mapping[str, str] | None = None,
    *,
    expand_env: bool = True,
    cwd: str | None = None,
    how_found: str = "explicit",
    pid: int | None = None,
) -> LitestreamConfig:
    """Read, expand and parse a Litestream config; raise ConfigError naming file and line.

    `env` is what `$VAR` expands from (default: this process's environment); `cwd` is what
    relative paths resolve against (default: ours; Litestream uses its own working directory);
    `pid` stands in for 0.5's `$PID` (without it `$PID` is read from `env`, as 0.3 does).
    """
    env = os.environ if env is None else env
    cwd = cwd or os.getcwd()
    text = _read_text(path, expand_path(path, cwd))
    names: tuple[str, ...] = ()
    if expand_env:
        text, names = expand_env_vars(text, env, pid=pid)
    unset = tuple(n for n in names if n not in env and not (pid is not None and n == "PID"))
    reader = _Reader(path, cwd)
    config = reader.read(text)
    notes = list(config.notes)
    if "PID" in names and pid is None:
        notes.append(Incompatibility("0.5", 1, "0.5 replaces $PID with its own process id; 0.3 reads the variable"))
    return replace(
        config,
        how_found=how_found,
        expand_env=expand_env,
        env_vars=names,
        unset_env_vars=unset,
        notes=tuple(notes),
    )


def discover_config(
    explicit: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    *,
    expand_env: bool = True,
) -> LitestreamConfig | None:
    """locate_config + load_config; None when there is no config anywhere."""
    location = locate_config(explicit, env, cwd)
    if location is None:
        return None
    return load_config(location.path, env, expand_env=expand_env, cwd=cwd, how_found=location.how_found)


def _read_text(path: str, expanded: str) -> str:
    """The file's text; errors name `path` as the user wrote it."""
    try:
        with open(expanded, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found",
            f"pass --config PATH or set {ENV_VAR} to the file Litestream runs with",
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{path}: permission denied reading the config",
            "run litefix as the user Litestream runs as (or with sudo), or make the config readable",
        ) from None
    except IsADirectoryError:
        raise ConfigError(
            f"{path}: is a directory, not a config file", "point --config at the litestream.yml file"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read the config: {exc.strerror or exc}", "check the file and the disk under it"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: config is not UTF-8 text", "save the file as UTF-8, as YAML requires"
        ) from None


# --------------------------------------------------------------------------------------
# Go semantics: os.Expand, time.ParseDuration, path.Clean, Litestream's expand()


def expand_env_vars(text: str, env: Mapping[str, str], *, pid: int | None = None) -> tuple[str, tuple[str, ...]]:
    """Go's os.Expand(text, getenv), as Litestream runs it over the raw file; also the names seen."""
    out: list[str] = []
    names: list[str] = []
    start = 0
    j = 0
    n = len(text)
    while j < n:
        if text[j] == "$" and j + 1 < n:
            out.append(text[start:j])
            name, width = _shell_name(text, j + 1)
            if name:
                names.append(name)
                out.append(str(pid) if name == "PID" and pid is not None else env.get(name, ""))
            elif width == 0:
                out.append("$")  # `$` not followed by a name stays
            j += width
            start = j + 1
        j += 1
    out.append(text[start:])
    return "".join(out), tuple(dict.fromkeys(names))


_SPECIAL = frozenset("*#$@!?-0123456789")


def _is_alnum(c: str) -> bool:
    return c == "_" or ("0" <= c <= "9") or ("a" <= c <= "z") or ("A" <= c <= "Z")


def _shell_name(s: str, i: int) -> tuple[str, int]:
    """Go's getShellName on s[i:]: (name, bytes consumed after the `$`)."""
    if s[i] == "{":
        if len(s) - i > 2 and s[i + 1] in _SPECIAL and s[i + 2] == "}":
            return s[i + 1], 3
        close = s.find("}", i + 1)
        if close == i + 1:
            return "", 2  # `${}` is eaten
        if close < 0:
            return "", 1  # an unclosed `${` is eaten
        return s[i + 1 : close], close - i + 1
    if s[i] in _SPECIAL:
        return s[i], 1
    k = i
    while k < len(s) and _is_alnum(s[k]):
        k += 1
    return s[i:k], k - i


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5
    "μs": 1_000,  # U+03BC
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*)(?:(\.)(\d*))?([^\d.]*)")


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration ("100ms", "1m30s", "-1.5h", "0"), in seconds; ValueError if Go would fail."""
    s = text
    sign = 1
    if s[:1] in ("+", "-"):
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f"invalid duration {text!r}")
    total = Fraction(0)
    while s:
        m = _DURATION_PART.match(s)
        assert m is not None  # the pattern matches the empty string
        whole, dot, frac, unit = m.groups()
        if not whole and not frac:
            raise ValueError(f"invalid duration {text!r}")
        if not unit:
            raise ValueError(f"missing unit in duration {text!r}")
        if unit not in _DURATION_UNITS:
            raise ValueError(f"unknown unit {unit!r} in duration {text!r}")
        scale = _DURATION_UNITS[unit]
        value = Fraction(int(whole or "0"))
        if dot and frac:
            value += Fraction(int(frac), 10 ** len(frac))
        total += int(value * scale)  # Go truncates each part to whole nanoseconds
        s = s[m.end() :]
    if total > 2**63 - 1:
        raise ValueError(f"invalid duration {text!r}")
    return float(sign * total / 1_000_000_000)


def go_clean(p: str) -> str:
    """Go's path.Clean: lexical only, `//a` is `/a`, "" is "."."""
    if not p:
        return "."
    rooted = p.startswith("/")
    parts: list[str] = []
    for seg in p.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(seg)
    joined = "/".join(parts)
    if rooted:
        return "/" + joined
    return joined or "."


def _home_dir() -> str:
    # Go's user.Current() reads the passwd entry, not $HOME (verified with HOME=/elsewhere).
    try:
        home = pwd.getpwuid(os.getuid()).pw_dir
    except KeyError:
        home = os.environ.get("HOME", "")
    if not home:
        raise ConfigError("cannot expand ~: the current user has no home directory", "write the path out in full")
    return home


def strip_sqlite_prefix(path: str) -> str:
    """0.5 accepts connection-string spellings of a path (`sqlite:///data/app.db`)."""
    for prefix in ("sqlite3://", "sqlite://"):
        if path.startswith(prefix):
            return path[len(prefix) :]
    return path


def expand_path(path: str, cwd: str | None = None) -> str:
    """Litestream's expand(): sqlite:// prefix off (0.5), `~`/`~/…` to the home, absolute, cleaned."""
    s = strip_sqlite_prefix(path)
    if s == "~" or s.startswith("~/"):
        return go_clean(_home_dir() + "/" + s[2:])
    if not s.startswith("/"):
        s = (cwd or os.getcwd()) + "/" + s
    return go_clean(s)


def _is_absolute_or_home(path: str) -> bool:
    s = strip_sqlite_prefix(path)
    return s.startswith("/") or s == "~" or s.startswith("~/")


def default_meta_dir(db_path: str) -> str:
    """Where both versions keep their state unless told: `<dir>/.<name>-litestream`."""
    directory, name = posixpath.split(db_path)
    return posixpath.join(directory, "." + name + META_DIR_SUFFIX)


# --------------------------------------------------------------------------------------
# replica URLs


def parse_replica_url(url: str, cwd: str | None = None) -> ReplicaConfig:
    """A replica from a URL as Litestream's commands accept one; a plain path is a file replica.

    Accepts file:///abs, file:rel, s3://bucket/prefix (with 0.5's ?endpoint=&region=&
    forcePathStyle=&skipVerify= query, provider hosts such as bucket.localhost:9000 or
    bucket.s3.region.amazonaws.com, and access-point ARNs), gs:// (0.5) or gcs:// (0.3),
    abs://account@container/path, sftp://user:pass@host:port/path, webdav(s)://, nats://, oss://.
    Raises ConfigError for what Litestream would reject.
    """
    fields: dict[str, Any] = {"url": url} if _IS_URL.match(url) or url.lower().startswith("file:") else {"path": url}
    return _build_replica(fields, {}, raw=dict(fields), line=0, cwd=cwd or os.getcwd(), fail=_fail_without_line)


def _fail_without_line(line: int, message: str) -> NoReturn:
    raise ConfigError(message, "check the replica URL: scheme://bucket-or-host/path")


_VALID_ENCODED = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@\[\]%/]*$")


def _file_url_path(url: str) -> tuple[str, str]:
    """(path, query) of a file: URL as Go re-serialises it without its scheme, before expand()."""
    rest = url.split(":", 1)[1]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    if not _VALID_ENCODED.match(rest):
        rest = quote(unquote(rest), safe="/$&+,:;=@")
    if fragment:
        rest += "#" + fragment
    return go_clean(rest), query


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """(user, password, host) without urllib's lower-casing of the host."""
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return "", "", netloc
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password), host


def _s3_host_05(host: str) -> tuple[str, str, str, bool]:
    """0.5's s3.ParseHost: (bucket, region, endpoint, force_path_style)."""
    if ":" in host and ".com" not in host:
        bucket, dot, rest = host.partition(".")
        if dot:
            return bucket, "us-east-1", "http://" + rest, True
        return "", "", "http://" + host, True
    if m := re.match(r"^(.+)\.s3(?:\.([^.]+))?\.amazonaws\.com$", host):
        return m[1], m[2] or "", "", False
    if m := re.match(r"^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$", host):
        return m[1] or "", m[2], f"https://{m[2]}.digitaloceanspaces.com", False
    if m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$", host):
        return m[1] or "", m[2], f"https://s3.{m[2]}.backblazeb2.com", True
    if m := re.match(r"^(?:(.+)\.)?s3.filebase.com$", host):
        return m[1] or "", "", "s3.filebase.com", False
    if m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$", host):
        return m[1] or "", m[2], f"s3.{m[2]}.scw.cloud", False
    return host, "", "", False


def _s3_host_03(host_port: str) -> tuple[str, str, str, bool]:
    """0.3's s3.ParseHost: providers by host, the port carried over to the endpoint."""
    host, port = host_port, ""
    if m := re.match(r"^(.*):(\d*)$", host_port):
        host, port = m[1], m[2]
    scheme, region, endpoint, bucket = "https", "", "", ""
    if m := re.match(r"^(?:(.+)\.)?localhost$", host):
        bucket, region, scheme, endpoint = m[1] or "", "us-east-1", "http", "localhost"
    elif m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"s3.{m[2]}.backblazeb2.com"
    elif m := re.match(r"^(?:(.+)\.)?s3.filebase.com$", host):
        bucket, endpoint = m[1] or "", "s3.filebase.com"
    elif m := re.match(r"^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"{m[2]}.digitaloceanspaces.com"
    elif m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"s3.{m[2]}.scw.cloud"
    elif m := re.match(r"^(?:(.+)\.)?([^.]+)\.linodeobjects.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"{m[2]}.linodeobjects.com"
    else:
        return host, "", "", False
    if port:
        endpoint += ":" + port
    return bucket, region, f"{scheme}://{endpoint}", True


def _is_local_endpoint(endpoint: str) -> bool:
    host = endpoint.lower().split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return (
        host in ("localhost", "127.0.0.1")
        or host.startswith(("192.168.", "10.", "172.16.", "172.17.", "172.18.", "172.19.", "172.2", "172.30."))
        or host.startswith("172.31.")
        or host.endswith((".local", ".localhost"))
    )


def _path_style_provider(endpoint: str) -> bool:
    """0.5 forces path-style for Filebase, Backblaze, Supabase and MinIO-like host:port endpoints."""
    host = endpoint.lower().split("://", 1)[-1].split("/", 1)[0]
    if not host:
        return False
    if host == "s3.filebase.com" or host.endswith((".backblazeb2.com", ".supabase.co")):
        return True
    return ":" in host and not any(k in host for k in _KNOWN_CLOUDS)


_KNOWN_CLOUDS = (
    ".amazonaws.com",
    ".digitaloceanspaces.com",
    ".backblazeb2.com",
    ".filebase.com",
    ".scw.cloud",
    ".r2.cloudflarestorage.com",
    "tigris.dev",
    "t3.storage.dev",
    ".supabase.co",
)
# fmt: on
_OSS_HOST = re.compile(r"^(?:([^.]+)\.)?oss-(.+?)(?:-internal)?\.aliyuncs\.com$")


@dataclass(frozen=True)
class _S3Url:
    """What 0.5 reads from an s3:// URL, and what 0.3 would have read from its host."""

    bucket: str
    region: str
    endpoint: str
    force_path_style: bool
    skip_verify: bool | None
    prefix: str
    arn: bool
    as_03: tuple[str, str, str, bool]


def _s3_from_url(url: str, host: str, url_path: str, query_text: str) -> _S3Url:
    query = {k: v[0] for k, v in parse_qs(query_text).items()}
    arn = host.lower().startswith("arn:")
    if arn:
        # s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/prefix: the access point is the bucket.
        text = url.split("://", 1)[1].split("?", 1)[0]
        marker = text.lower().find(":accesspoint/")
        name_end = text.find("/", marker + len(":accesspoint/")) if marker >= 0 else -1
        bucket, key = (text, "") if name_end < 0 else (text[:name_end], text[name_end + 1 :])
        fields = bucket.split(":", 5)
        region, endpoint, force_path_style = fields[3] if len(fields) >= 4 else "", "", False
        prefix = _location_key(key)
    else:
        bucket, region, endpoint, force_path_style = _s3_host_05(host)
        prefix = _key_prefix(url_path)
    if q := query.get("endpoint"):
        if not q.startswith(("http://", "https://")):
            q = ("http://" if _is_local_endpoint(q) else "https://") + q
        endpoint, force_path_style = q, query.get("forcePathStyle") != "false"
    region = query.get("region") or region
    if "forcePathStyle" in query:
        force_path_style = query["forcePathStyle"] == "true"
    skip_verify = query["skipVerify"] == "true" if "skipVerify" in query else None
    return _S3Url(bucket, region, endpoint, force_path_style, skip_verify, prefix, arn, _s3_host_03(host))


def _joined(base: str, key: str) -> str:
    """A canonical location: the key cleaned, no leading, trailing or doubled slashes."""
    key = _location_key(key)
    return f"{base}/{key}" if key else base


def _key_prefix(url_path: str) -> str:
    """Go's strings.TrimPrefix(path.Clean(u.Path), "/"): note "" becomes "."."""
    return go_clean(url_path).removeprefix("/")


def _location_key(prefix: str) -> str:
    key = go_clean("/" + prefix).strip("/")
    return "" if key == "." else key


_Fail = Callable[[int, str], NoReturn]


def _build_replica(
    given: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    raw: Mapping[str, JSON],
    line: int,
    cwd: str,
    fail: _Fail,
    node: yaml.MappingNode | None = None,
) -> ReplicaConfig:
    """Resolve one replica the way NewReplicaFromConfig does, noting where the versions part ways."""
    notes: list[Incompatibility] = []

    def note(generation: str, message: str) -> None:
        notes.append(Incompatibility(generation, line, message))

    values = dict(given)

    def s(key: str) -> str:
        value = values.get(key)
        return value if isinstance(value, str) else ""

    url, path, written_type = s("url"), s("path"), s("type")
    if _IS_URL.match(path):
        fail(line, f"replica path {path!r} is a URL; put it under url:")
    if not url and not path and not written_type:
        fail(line, "replica has no type, path or url")
    scheme = ""
    if url:
        if re.search(r"%(?![0-9A-Fa-f]{2})", url):
            fail(line, f"replica url {url!r} has an invalid %-escape")
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", url)
        if not m:
            fail(line, f"replica url {url!r} has no scheme (write file:///path or s3://bucket/path)")
        scheme = m[1].lower()
    rtype = ("webdav" if scheme == "webdavs" else scheme) or written_type or "file"
    if rtype not in ALL_REPLICA_TYPES:
        fail(
            line,
            f"unknown replica type {rtype!r} (0.3 knows {', '.join(sorted(REPLICA_TYPES['0.3']))}; "
            f"0.5 knows {', '.join(sorted(REPLICA_TYPES['0.5']))})",
        )
    for generation in GENERATIONS:
        if rtype not in REPLICA_TYPES[generation]:
            other = {"gcs": "gs", "gs": "gcs"}.get(rtype)
            also = f" (it calls Google Cloud Storage {other!r})" if other else ""
            note(generation, f"{generation} has no replica type {rtype!r}{also}")
    if url and path:
        fail(line, f"replica has both url and path; a {rtype} replica takes one")

    # 0.5 fills unset replica settings from the top level, then refuses a URL next to the
    # part it names (a top-level bucket plus an s3 url fails there); 0.3 copies credentials only.
    inherited: list[str] = []
    clashes = _URL_CLASHES.get(rtype, ()) if url else ()
    for key in _INHERITED_05:
        if key not in _SETTINGS_USED[rtype] or not _unset(values.get(key)) or _unset(defaults.get(key)):
            continue
        if key in clashes:
            note("0.5", f"0.5 refuses this url next to the top-level {key}")
            continue
        values[key] = defaults[key]
        inherited.append(key)
    if extra := [k for k in inherited if k not in _INHERITED_03]:
        note("0.3", f"0.3 does not take {', '.join(extra)} from the top level (it copies only credentials)")

    bucket, region, endpoint = s("bucket"), s("region"), s("endpoint")
    host, user, key_path, account = s("host"), s("user"), s("key-path"), s("account-name")
    skip_verify = values.get("skip-verify") is True
    fps_given = values.get("force-path-style")
    force_path_style: bool | None = None
    remote_path = path

    if rtype == "file":
        if url:
            remote_path, query = _file_url_path(url)
            if query:
                note("0.3", f"0.3 keeps the query in a file URL's path ({remote_path}?{query})")
        if not remote_path:
            fail(line, "file replica has no path")
        remote_path = expand_path(remote_path, cwd)
        location = "file://" + remote_path
    else:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            fail(line, f"replica url {url!r} is not a URL: {exc}")
        url_user, _password, url_host = _split_netloc(parts.netloc)  # the password stays in raw only
        url_path = unquote(parts.path)
        if url and bucket and rtype in ("s3", "gs", "gcs", "abs", "oss"):
            fail(line, f"replica has both url and bucket; a {rtype} replica takes one")
        if rtype == "s3":
            force_path_style = fps_given if isinstance(fps_given, bool) else endpoint != ""
            if url:
                s3 = _s3_from_url(url, url_host, url_path, parts.query)
                bucket_03, region_03, endpoint_03, _ = s3.as_03
                seen_by_03 = (bucket or bucket_03, region or region_03, endpoint or endpoint_03)
                remote_path = remote_path or s3.prefix
                bucket, region, endpoint = bucket or s3.bucket, region or s3.region, endpoint or s3.endpoint
                force_path_style = force_path_style or s3.force_path_style
                skip_verify = s3.skip_verify if s3.skip_verify is not None else skip_verify
                if s3.arn:
                    note("0.3", "0.3 cannot read an S3 access-point ARN URL")
                elif seen_by_03 != (bucket, region, endpoint):
                    where = f"at {seen_by_03[2]}" if seen_by_03[2] else "on AWS"
                    ignored = " (it ignores the URL's ?query)" if parts.query else ""
                    note("0.3", f"0.3 reads this URL as bucket {seen_by_03[0]!r} {where}{ignored}")
            if not isinstance(fps_given, bool) and _path_style_provider(endpoint):
                force_path_style = True
            if not bucket:
                fail(line, "s3 replica has no bucket")
            location = _joined(f"s3://{bucket}", remote_path)
        elif rtype in ("gs", "gcs", "oss"):
            if url:
                url_bucket = url_host
                if rtype == "oss" and (m := _OSS_HOST.match(url_host)):
                    url_bucket, region = m[1] or "", region or m[2]
                remote_path, bucket = remote_path or _key_prefix(url_path), bucket or url_bucket
            if not bucket:
                fail(line, f"{rtype} replica has no bucket")
            location = _joined(f"{rtype}://{bucket}", remote_path)
        elif rtype == "abs":
            if url:
                account = account or url_user
                remote_path, bucket = remote_path or _key_prefix(url_path), bucket or url_host
            if not bucket:
                fail(line, "abs replica has no bucket (container)")
            location = _joined(f"abs://{account + '@' if account else ''}{bucket}", remote_path)
        elif rtype == "sftp":
            if url and host:
                fail(line, "replica has both url and host; an sftp replica takes one")
            if url:
                host, user, remote_path = url_host, user or url_user, remote_path or url_path
            if not host:
                fail(line, "sftp replica has no host")
            if not user:
                fail(line, "sftp replica has no user")
            # A relative sftp path is relative to the login directory: /~/ says so.
            shown = remote_path if remote_path.startswith("/") else "/~/" + remote_path
            location = f"sftp://{user}@{host}{shown}".rstrip("/")
        elif rtype == "webdav":
            if url and s("webdav-url"):
                fail(line, "replica has both url and webdav-url; a webdav replica takes one")
            endpoint = s("webdav-url")
            if url and url_host:
                endpoint = ("https" if scheme == "webdavs" else "http") + "://" + url_host
            remote_path = remote_path or url_path
            if not endpoint:
                fail(line, "webdav replica has no webdav-url")
            location = _joined(endpoint, remote_path)
        else:  # nats: the URL names the server and the bucket
            if url:
                endpoint = f"nats://{url_host}" if url_host else ""
                bucket = _key_prefix(url_path).strip("/") or bucket
            if not bucket:
                fail(line, "nats replica has no bucket")
            location = f"nats://{endpoint.removeprefix('nats://')}/{bucket}"

    durations = {k: values.get(k) for k in _REPLICA_DURATIONS}
    for key in _REPLICA_KEYS_DROPPED_IN_05:
        if key in given and given[key] is not None:
            note("0.5", f"0.5 ignores {key} on a replica (snapshots and retention are top-level settings there)")
    if "age" in raw:
        note("0.5", "0.5 refuses age encryption (supported only by 0.3)")
    sync_interval = durations["sync-interval"]
    if sync_interval is not None and sync_interval <= 0:
        note("0.5", "0.5 requires sync-interval greater than 0")
    return ReplicaConfig(
        type=rtype,
        location=location,
        name=s("name"),
        path=remote_path,
        url=url,
        bucket=bucket,
        region=region,
        endpoint=endpoint,
        force_path_style=force_path_style,
        skip_verify=skip_verify,
        host=host,
        user=user,
        key_path=key_path,
        account_name=account,
        sync_interval=sync_interval,
        snapshot_interval=durations["snapshot-interval"],
        retention=durations["retention"],
        retention_check_interval=durations["retention-check-interval"],
        validation_interval=durations["validation-interval"],
        inherited=tuple(inherited),
        notes=tuple(notes),
        raw=raw,
        line=line,
        node=node,
    )


def _unset(value: Any) -> bool:
    """Go's zero value: what SetDefaults treats as 'not given'."""
    return value is None or value == "" or value is False


# --------------------------------------------------------------------------------------
# the YAML walk


_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_YAML11_EXTRA_BOOLS = {"y": True, "Y": True, "n": False, "N": False}  # yaml.v2 has them, PyYAML not

_Pairs = dict[str, tuple[yaml.Node, yaml.Node]]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


class _Reader:
    """Walks the composed YAML nodes so that every value keeps its line and its source text."""

    def __init__(self, source: str, cwd: str) -> None:
        self.source = source
        self.cwd = cwd
        self.loader: yaml.SafeLoader | None = None

    def fail(self, line: int, message: str, hint: str = HINT) -> NoReturn:
        prefix = f"{self.source}:{line}: " if line else f"{self.source}: "
        raise ConfigError(prefix + message, hint)

    # -- scalars, each as yaml.v2 decodes it into the Go field's type

    def pairs(self, node: yaml.MappingNode) -> _Pairs:
        out: _Pairs = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                out[str(key.value)] = (key, value)  # the last duplicate wins, as in yaml.v2
        return out

    def string(self, pairs: _Pairs, key: str) -> str:
        if key not in pairs:
            return ""
        node = pairs[key][1]
        if not isinstance(node, yaml.ScalarNode):
            self.fail(_line(node), f"{key} must be a string, not {_kind(node)}")
        return "" if node.tag == _NULL_TAG else str(node.value)

    def boolean(self, pairs: _Pairs, key: str) -> bool | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _BOOL_TAG:
                return bool(self._construct(node))
            if node.style is None and node.value in _YAML11_EXTRA_BOOLS:
                return _YAML11_EXTRA_BOOLS[node.value]
        self.fail(_line(node), f"{key} must be true or false, not {_kind(node)}")

    def integer(self, pairs: _Pairs, key: str) -> int | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
            return int(self._construct(node))
        self.fail(_line(node), f"{key} must be a whole number, not {_kind(node)}")

    def duration(self, pairs: _Pairs, key: str) -> float | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG:
                return int(self._construct(node)) / 1e9  # yaml.v2: a bare number is nanoseconds
            if node.tag == _FLOAT_TAG:
                return int(self._construct(node)) / 1e9
            if node.tag == _STR_TAG:
                try:
                    return parse_go_duration(str(node.value))
                except ValueError:
                    pass
        self.fail(
            _line(node),
            f"{key}: {_kind(node)} is not a duration",
            "write a Go duration such as 100ms, 1s, 1m30s or 24h (units ns us ms s m h; no days)",
        )

    def mapping(self, pairs: _Pairs, key: str) -> yaml.MappingNode | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"{key} must be a mapping, not {_kind(node)}")
        return node

    def sequence(self, pairs: _Pairs, key: str) -> yaml.SequenceNode | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_line(node), f"{key} must be a list, not {_kind(node)}")
        return node

    def _construct(self, node: yaml.Node) -> Any:
        assert self.loader is not None
        return self.loader.construct_object(node, deep=True)

    # -- structure

    def read(self, text: str) -> LitestreamConfig:
        loader = yaml.SafeLoader(text)
        self.loader = loader
        try:
            try:
                root = loader.get_node() if loader.check_node() else None  # the first document only
                raw = loader.construct_document(root) if root is not None else None  # also flattens `<<:` merges
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = int(mark.line) + 1 if mark else 0
                self.fail(line, f"invalid YAML: {exc.problem or exc.context}")
            except yaml.YAMLError as exc:
                self.fail(0, f"invalid YAML: {exc}")
            if root is None or _is_null(root):
                return LitestreamConfig(self.source, "explicit", "none", (), {}, cwd=self.cwd)
            if not isinstance(root, yaml.MappingNode):
                self.fail(_line(root), f"the top level must be a mapping with a dbs: list, not {_kind(root)}")
            return self._config(root, raw if isinstance(raw, dict) else {})
        finally:
            loader.dispose()

    def _config(self, root: yaml.MappingNode, raw: dict[str, JSON]) -> LitestreamConfig:
        top = self.pairs(root)
        notes: list[Incompatibility] = []
        defaults = self._global_replica_settings(top)
        logging = self.mapping(top, "logging")
        log = self.pairs(logging) if logging else {}
        snapshot = self.mapping(top, "snapshot")
        snap = self.pairs(snapshot) if snapshot else {}
        levels: list[float] = []
        levels_node = self.sequence(top, "levels")
        for item in levels_node.value if levels_node else []:
            if not isinstance(item, yaml.MappingNode):
                self.fail(_line(item), f"each levels: entry must be a mapping with an interval, not {_kind(item)}")
            levels.append(self.duration(self.pairs(item), "interval") or 0.0)
        for key in _GLOBAL_DURATIONS:
            self.duration(top, key)
        retention = top.get("retention", (None, None))[1]
        if isinstance(retention, yaml.ScalarNode) and not _is_null(retention):
            notes.append(Incompatibility("0.5", _line(retention), "0.5 wants retention: {enabled: …} here"))
        dbs_node = self.sequence(top, "dbs")
        dbs: list[DatabaseConfig] = []
        seen: dict[str, int] = {}
        for entry in dbs_node.value if dbs_node else []:
            db = self._database(entry, defaults, raw_entry=self._construct(entry))
            if not db.dir:
                if db.path in seen:
                    message = f"{db.path} is listed twice (first at line {seen[db.path]}); 0.5.17 refuses that"
                    db = replace(db, notes=(*db.notes, Incompatibility("0.5", db.line, message)))
                seen.setdefault(db.path, db.line)
            dbs.append(db)
        shapes: set[str] = set()
        for db in dbs:
            shapes |= {"replica", "replicas"} if db.shape == "both" else {db.shape} if db.shape else set()
        shape = "none" if not shapes else shapes.pop() if len(shapes) == 1 else "mixed"
        return LitestreamConfig(
            source_path=self.source,
            how_found="explicit",
            shape=shape,
            dbs=tuple(dbs),
            raw=raw,
            cwd=self.cwd,
            addr=self.string(top, "addr"),
            exec=self.string(top, "exec"),
            log_level=self.string(log, "level"),
            log_type=self.string(log, "type"),
            snapshot_interval=self.duration(snap, "interval"),
            snapshot_retention=self.duration(snap, "retention"),
            levels=tuple(levels),
            notes=tuple(notes),
            node=root,
        )

    def _global_replica_settings(self, pairs: _Pairs) -> dict[str, Any]:
        """0.5's top-level ReplicaSettings, the defaults every replica inherits."""
        values: dict[str, Any] = {}
        for key in _INHERITED_05:
            if key in _REPLICA_BOOLS:
                values[key] = self.boolean(pairs, key)
            elif key in _REPLICA_DURATIONS:
                values[key] = self.duration(pairs, key)
            else:
                values[key] = self.string(pairs, key)
        return values

    def _database(self, node: yaml.Node, defaults: Mapping[str, Any], raw_entry: Any) -> DatabaseConfig:
        if _is_null(node):
            self.fail(_line(node), "empty database entry (Litestream crashes on it)")
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"a database entry must be a mapping with a path, not {_kind(node)}")
        line = _line(node)
        notes: list[Incompatibility] = []
        db = self.pairs(node)
        written, directory = self.string(db, "path"), self.string(db, "dir")
        if not written and not directory:
            self.fail(line, "database entry has no path")
        if written and directory:
            notes.append(Incompatibility("0.5", line, "0.5 refuses both path and dir on one entry (0.3 uses path)"))
        is_dir = not written
        pattern = self.string(db, "pattern")
        if is_dir and not pattern:
            self.fail(line, f'dir entry {directory!r} has no pattern (such as "*.db")')
        if is_dir:
            notes.append(Incompatibility("0.3", line, "0.3 has no dir: entries; it would take its cwd as the database"))
        shown = written or directory
        if strip_sqlite_prefix(shown) != shown:
            notes.append(Incompatibility("0.3", line, f"0.3 does not strip the sqlite:// prefix of {shown}"))
        path = expand_path(shown, self.cwd)
        meta_path, meta_dir_key = self.string(db, "meta-path"), self.string(db, "meta-dir")
        if meta_path and meta_dir_key:
            notes.append(Incompatibility("0.5", line, "0.5 refuses both meta-path and meta-dir"))
        if meta_dir_key and not is_dir:
            notes.append(Incompatibility("0.5", line, "0.5 refuses meta-dir on a path entry (use meta-path)"))
            notes.append(Incompatibility("0.3", line, "0.3 ignores meta-dir (it reads meta-path)"))
        if meta_path.startswith("~"):
            notes.append(Incompatibility("0.3", line, f"0.3 does not expand ~ in meta-path {meta_path}"))
        if is_dir:
            base = meta_dir_key or meta_path
            meta_dir = expand_path(base, self.cwd) if base else ""
        else:
            meta_dir = expand_path(meta_path, self.cwd) if meta_path else default_meta_dir(path)
        max_cp = self.integer(db, "max-checkpoint-page-count")
        if max_cp is not None:
            notes.append(Incompatibility("0.5", line, "0.5 ignores max-checkpoint-page-count"))
        snapshot = self.mapping(db, "snapshot")
        snap = self.pairs(snapshot) if snapshot else {}
        self.integer(db, "truncate-page-n")
        self.integer(db, "max-sync-wal-bytes")

        replicas: list[ReplicaConfig] = []
        list_node = self.sequence(db, "replicas")
        single = self.mapping(db, "replica")
        has_list, has_single = "replicas" in db, "replica" in db
        shape = "both" if has_list and has_single else "replicas" if has_list else "replica" if has_single else None
        for item in list_node.value if list_node else []:
            replicas.append(self._replica(item, defaults))
        if single is not None:
            replica = self._replica(single, defaults)
            message = "0.3 ignores replica: (it reads the replicas: list), so it does not replicate here"
            ignored = Incompatibility("0.3", replica.line, message)
            replicas.append(replace(replica, notes=(*replica.notes, ignored)))
        if has_list and has_single:
            notes.append(Incompatibility("0.5", line, "0.5 refuses replica: and replicas: on one database"))
        elif list_node is not None and len(list_node.value) > 1:
            notes.append(Incompatibility("0.5", line, f"0.5 allows one replica per database, not {len(replicas)}"))
        if not replicas:
            notes.append(Incompatibility("0.5", line, "0.5 refuses a database without a replica"))
            notes.append(Incompatibility("0.3", line, "no replica: 0.3 watches this database but copies it nowhere"))

        return DatabaseConfig(
            path=path,
            meta_dir=meta_dir,
            line=line,
            replicas=tuple(replicas),
            shape=shape,
            written_path=shown,
            relative=not _is_absolute_or_home(shown),
            monitor_interval=self.duration(db, "monitor-interval"),
            checkpoint_interval=self.duration(db, "checkpoint-interval"),
            busy_timeout=self.duration(db, "busy-timeout"),
            min_checkpoint_page_count=self.integer(db, "min-checkpoint-page-count"),
            max_checkpoint_page_count=max_cp,
            snapshot_interval=self.duration(snap, "interval"),
            snapshot_retention=self.duration(snap, "retention"),
            dir=is_dir,
            pattern=pattern,
            recursive=bool(self.boolean(db, "recursive")),
            watch=bool(self.boolean(db, "watch")),
            notes=tuple(notes),
            raw=raw_entry if isinstance(raw_entry, dict) else {},
            node=node,
        )

    def _replica(self, node: yaml.Node, defaults: Mapping[str, Any]) -> ReplicaConfig:
        if _is_null(node):
            self.fail(_line(node), "empty replica entry (Litestream crashes on it)")
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"a replica must be a mapping with a type, path or url, not {_kind(node)}")
        pairs = self.pairs(node)
        given: dict[str, Any] = {k: self.string(pairs, k) for k in _REPLICA_STRINGS}
        given.update({k: self.boolean(pairs, k) for k in _REPLICA_BOOLS})
        given.update({k: self.duration(pairs, k) for k in _REPLICA_DURATIONS})
        raw = self._construct(node)
        return _build_replica(
            given,
            defaults,
            raw=raw if isinstance(raw, dict) else {},
            line=_line(node),
            cwd=self.cwd,
            fail=self.fail,
            node=node,
        )


# --------------------------------------------------------------------------------------
# dir entries (0.5)


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


# --------------------------------------------------------------------------------------
# narrowing


def narrowed_yaml(config: LitestreamConfig, db: DatabaseConfig, *, shape: str | None = None) -> str:
    """A config for a private Litestream that replicates `db` alone, with everything else kept.

    The top-level settings (credentials, logging, snapshot, levels …) and the database's own
    keys are copied node for node, so every value means what it meant in the original; paths
    become absolute (a private Litestream runs in another cwd); the keys in NARROWING_DROPS,
    which act outside the database, go. Values are already env-expanded: run Litestream on
    it with `-no-expand-env`, or a `$` inside a value would be expanded a second time.
    `shape` ("replica" or "replicas") rewrites the replica key for the installed binary.
    The text holds the original credentials: write it with mode 0600.
    """
    if config.node is None:
        raise ConfigError(f"{config.source_path}: has no databases to narrow", HINT)
    pairs = [(k, v) for k, v in config.node.value if _key(k) not in (*NARROWING_DROPS, "dbs")]
    pairs.append((_scalar("dbs"), yaml.SequenceNode(_SEQ_TAG, [_narrowed_db(db, shape, config)])))
    root = yaml.MappingNode(_MAP_TAG, pairs)
    body = yaml.serialize(root, Dumper=yaml.SafeDumper, allow_unicode=True, width=1 << 16)
    header = f"# {db.path} alone, narrowed by litefix from {config.source_path}; run with -no-expand-env\n"
    return header + body


def _scalar(value: str) -> yaml.ScalarNode:
    return yaml.ScalarNode(_STR_TAG, value)


def _narrowed_db(db: DatabaseConfig, shape: str | None, config: LitestreamConfig) -> yaml.MappingNode:
    dropped = {"path", "meta-path", "meta-dir", "replica", "replicas"}
    if db.from_dir:
        dropped |= {"dir", "pattern", "recursive", "watch"}
    assert db.node is not None
    pairs = [(k, v) for k, v in db.node.value if _key(k) not in dropped]
    pairs.insert(0, (_scalar("path"), _scalar(db.path)))
    keeps_meta = db.from_dir or "meta-path" in db.raw or ("meta-dir" in db.raw and not db.dir)
    if keeps_meta:
        pairs.insert(1, (_scalar("meta-path"), _scalar(db.meta_dir)))
    single = next((v for k, v in db.node.value if _key(k) == "replica"), None)
    from_single = [_narrowed_replica(r, db) for r in db.replicas if single is not None and r.node is single]
    from_list = [_narrowed_replica(r, db) for r in db.replicas if single is None or r.node is not single]
    if shape is None:  # as written, so each version still reads (or ignores) what it did
        if from_list:
            pairs.append((_scalar("replicas"), yaml.SequenceNode(_SEQ_TAG, from_list)))
        if from_single:
            pairs.append((_scalar("replica"), from_single[0]))
    elif shape == "replica":
        if len(db.replicas) > 1:
            raise ConfigError(
                f"{config.source_path}:{db.line}: {db.path} has {len(db.replicas)} replicas; "
                "a replica: (0.5) config takes one",
                "keep one replica for this database, or run Litestream 0.3 on the replicas: list",
            )
        if db.replicas:
            pairs.append((_scalar("replica"), (from_list + from_single)[0]))
    elif db.replicas:
        pairs.append((_scalar("replicas"), yaml.SequenceNode(_SEQ_TAG, from_list + from_single)))
    return yaml.MappingNode(_MAP_TAG, pairs)


def _narrowed_replica(replica: ReplicaConfig, db: DatabaseConfig) -> yaml.Node:
    """The replica's own node; a file replica gets its absolute path, a dir-derived one its own path or URL."""
    assert replica.node is not None
    if replica.type != "file" and not db.from_dir:
        return replica.node
    pairs = list(replica.node.value)
    if replica.type == "file":  # the URL's scheme may disagree with a stale `type:`, so both go
        pairs = [(k, v) for k, v in pairs if _key(k) not in ("type", "path", "url")]
        return yaml.MappingNode(
            _MAP_TAG, [(_scalar("type"), _scalar("file")), (_scalar("path"), _scalar(replica.path)), *pairs]
        )
    key, value = ("url", replica.url) if replica.url else ("path", replica.path)
    pairs = [(k, v) for k, v in pairs if _key(k) != key]
    return yaml.MappingNode(_MAP_TAG, [*pairs, (_scalar(key), _scalar(value))])


def _key(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None


# --------------------------------------------------------------------------------------
# JSON


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
