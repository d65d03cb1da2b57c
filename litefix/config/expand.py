"""Go semantics Litestream applies to the config: os.Expand over the text, time.ParseDuration,
path.Clean, and its own expand() of database paths (`~`, relative, `sqlite://`)."""

from __future__ import annotations

import os
import posixpath
import pwd
import re
from collections.abc import Mapping
from fractions import Fraction

from litefix.config.constants import META_DIR_SUFFIX
from litefix.errors import ConfigError


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
