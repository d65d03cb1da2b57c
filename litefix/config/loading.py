"""Finding the config (the search order Litestream uses, plus ./litestream.yml) and loading it."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Mapping
from dataclasses import replace

from litefix.config._yaml import yaml
from litefix.config.constants import CWD_CONFIG_NAME, DEFAULT_CONFIG_PATH, ENV_VAR, RAILS_CONFIG_NAME
from litefix.config.expand import expand_env_vars, expand_path
from litefix.config.model import ConfigLocation, Incompatibility, LitestreamConfig
from litefix.config.yaml_reader import _Reader
from litefix.errors import ConfigError, describe_os_error
from litefix.system.files import CONFIG_LIMIT, read_bytes


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
    try:
        config = reader.read(text)
    except yaml.YAMLError as exc:  # raised before parsing starts, e.g. a NUL byte
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path}: invalid YAML: {first}", "a Litestream config is UTF-8 text") from None
    except RecursionError:
        raise ConfigError(
            f"{path}: the YAML is nested too deeply to be a Litestream config", "check the file"
        ) from None
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


_CONFIG_HINTS: dict[type[OSError], str] = {
    FileNotFoundError: f"pass --config PATH or set {ENV_VAR} to the file Litestream runs with",
    PermissionError: "run litefix as the user Litestream runs as (or with sudo), or make the config readable",
    IsADirectoryError: "point --config at the litestream.yml file",
}


def _read_text(path: str, expanded: str) -> str:
    """The file's text; errors name `path` as the user wrote it.

    Read as a regular file of at most 4 MiB (system/files.py): `/dev/zero`, `/dev/urandom`
    or a FIFO is one sentence, not gigabytes of memory or a hang.
    """
    try:
        data = read_bytes(expanded, CONFIG_LIMIT, "litestream config", ConfigError)
    except OSError as exc:
        hint = _CONFIG_HINTS.get(type(exc), "check the file and the disk under it")
        raise describe_os_error(exc, path, "read the config", ConfigError, hint) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}:{line}: config is not UTF-8 text", "save the file as UTF-8, as YAML requires"
        ) from None
