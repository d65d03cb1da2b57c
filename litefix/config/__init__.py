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

The package follows those steps, one module each: `loading` (where the file is, reading it),
`expand` (Go's env expansion, durations and paths), `yaml_reader` (the YAML walk), `resolve` (one
replica, per type), `urls` (replica URLs), `dirs` (0.5 `dir:` entries), `model` (the dataclasses and
their JSON) and `narrowed` (a one-database config for a private Litestream).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

# The public names live in the modules below; they load on first use, so that importing one
# module of the package does not load all of it (and a submodule never imports its package).
if TYPE_CHECKING:
    from litefix.config.constants import (
        ALL_REPLICA_TYPES,
        CWD_CONFIG_NAME,
        DEFAULT_CONFIG_PATH,
        ENV_VAR,
        GENERATIONS,
        HINT,
        HOW_FOUND,
        JSON,
        META_DIR_SUFFIX,
        NARROWING_DROPS,
        REDACTED,
        REPLICA_TYPES,
        SECRET_KEYS,
    )
    from litefix.config.expand import (
        default_meta_dir,
        expand_env_vars,
        expand_path,
        go_clean,
        parse_go_duration,
        strip_sqlite_prefix,
    )
    from litefix.config.loading import discover_config, find_config_path, load_config, locate_config
    from litefix.config.model import (
        ConfigLocation,
        DatabaseConfig,
        Incompatibility,
        LitestreamConfig,
        ReplicaConfig,
        litestream_generation,
    )
    from litefix.config.narrowed import narrowed_yaml
    from litefix.config.resolve import parse_replica_url

_HOME = {
    "ALL_REPLICA_TYPES": "constants",
    "CWD_CONFIG_NAME": "constants",
    "ConfigLocation": "model",
    "DEFAULT_CONFIG_PATH": "constants",
    "DatabaseConfig": "model",
    "ENV_VAR": "constants",
    "GENERATIONS": "constants",
    "HINT": "constants",
    "HOW_FOUND": "constants",
    "Incompatibility": "model",
    "JSON": "constants",
    "LitestreamConfig": "model",
    "META_DIR_SUFFIX": "constants",
    "NARROWING_DROPS": "constants",
    "REDACTED": "constants",
    "REPLICA_TYPES": "constants",
    "ReplicaConfig": "model",
    "SECRET_KEYS": "constants",
    "default_meta_dir": "expand",
    "discover_config": "loading",
    "expand_env_vars": "expand",
    "expand_path": "expand",
    "find_config_path": "loading",
    "go_clean": "expand",
    "litestream_generation": "model",
    "load_config": "loading",
    "locate_config": "loading",
    "narrowed_yaml": "narrowed",
    "parse_go_duration": "expand",
    "parse_replica_url": "resolve",
    "strip_sqlite_prefix": "expand",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f"litefix.config.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "ALL_REPLICA_TYPES",
    "CWD_CONFIG_NAME",
    "DEFAULT_CONFIG_PATH",
    "ENV_VAR",
    "GENERATIONS",
    "HINT",
    "HOW_FOUND",
    "JSON",
    "META_DIR_SUFFIX",
    "NARROWING_DROPS",
    "REDACTED",
    "REPLICA_TYPES",
    "SECRET_KEYS",
    "ConfigLocation",
    "DatabaseConfig",
    "Incompatibility",
    "LitestreamConfig",
    "ReplicaConfig",
    "default_meta_dir",
    "discover_config",
    "expand_env_vars",
    "expand_path",
    "find_config_path",
    "go_clean",
    "litestream_generation",
    "load_config",
    "locate_config",
    "narrowed_yaml",
    "parse_go_duration",
    "parse_replica_url",
    "strip_sqlite_prefix",
]
