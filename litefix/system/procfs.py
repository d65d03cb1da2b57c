"""Which processes hold a database, its -wal or its -shm open — read from /proc.

This is the evidence the incident needed: a Litestream whose descriptor for the
database is `(deleted)` or points at another inode than the path now has was
left running while the file was replaced under it. `/proc/PID/fd/N` can be
stat()ed even when the file is deleted, so the inode it holds is known exactly.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field

from litefix.errors import os_error_sentence

DELETED = " (deleted)"


@dataclass(frozen=True)
class Descriptor:
    fd: int
    target: str  # the path the kernel reports, without " (deleted)"
    deleted: bool
    inode: int
    device: int

    def to_json(self) -> dict[str, object]:
        return {"fd": self.fd, "target": self.target, "deleted": self.deleted, "inode": self.inode}


@dataclass(frozen=True)
class Holder:
    """One process and the descriptors it holds on the files asked about."""

    pid: int
    cmdline: tuple[str, ...]
    exe: str | None
    cwd: str | None
    descriptors: tuple[Descriptor, ...]

    @property
    def is_litestream(self) -> bool:
        names = [os.path.basename(self.exe or "")] + [os.path.basename(a) for a in self.cmdline[:1]]
        return any(name == "litestream" or name.startswith("litestream ") for name in names)

    @property
    def command(self) -> str:
        return shlex.join(self.cmdline) if self.cmdline else f"pid {self.pid}"

    def to_json(self) -> dict[str, object]:
        return {
            "pid": self.pid,
            "command": self.command,
            "litestream": self.is_litestream,
            "descriptors": [d.to_json() for d in self.descriptors],
        }


@dataclass
class ProcessScan:
    holders: list[Holder] = field(default_factory=list)
    unreadable: int = 0  # processes whose fds we may not read (other users, without root)
    error: str | None = None  # /proc itself is unusable

    @property
    def litestream(self) -> list[Holder]:
        return [h for h in self.holders if h.is_litestream]


def _read_cmdline(pid: int) -> tuple[str, ...]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            raw = fh.read()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def find_open_descriptors(paths: Iterable[str], proc: str = "/proc") -> ProcessScan:
    """Every process holding any of `paths` — by name (even deleted) or by current inode."""
    wanted_names = {os.path.abspath(p) for p in paths}
    wanted_inodes: set[tuple[int, int]] = set()
    for p in wanted_names:
        try:
            st = os.stat(p)
            wanted_inodes.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    scan = ProcessScan()
    try:
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError as exc:
        scan.error = os_error_sentence(exc, proc, "list")
        return scan
    me = os.getpid()
    for pid in pids:
        if pid == me:
            continue
        fd_dir = f"{proc}/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            scan.unreadable += 1
            continue
        except OSError:
            continue  # the process exited while we looked
        held: list[Descriptor] = []
        for fd in fds:
            link = _readlink(f"{fd_dir}/{fd}")
            if link is None or not link.startswith("/"):
                continue  # sockets, pipes, anon inodes
            deleted = link.endswith(DELETED)
            target = link[: -len(DELETED)] if deleted else link
            if target not in wanted_names:
                # Same file reached by another name (bind mount, symlinked dir)?
                if not wanted_inodes:
                    continue
                try:
                    st = os.stat(f"{fd_dir}/{fd}")
                except OSError:
                    continue
                if (st.st_dev, st.st_ino) not in wanted_inodes:
                    continue
            else:
                try:
                    st = os.stat(f"{fd_dir}/{fd}")
                except OSError:
                    continue
            held.append(Descriptor(int(fd), target, deleted, st.st_ino, st.st_dev))
        if held:
            scan.holders.append(
                Holder(
                    pid,
                    _read_cmdline(pid),
                    _readlink(f"{proc}/{pid}/exe"),
                    _readlink(f"{proc}/{pid}/cwd"),
                    tuple(sorted(held, key=lambda d: d.fd)),
                )
            )
    return scan


def litestream_processes(proc: str = "/proc") -> list[Holder]:
    """Every running litestream, whatever it holds (one may be waiting for a missing database)."""
    out: list[Holder] = []
    try:
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return out
    for pid in pids:
        cmdline = _read_cmdline(pid)
        holder = Holder(pid, cmdline, _readlink(f"{proc}/{pid}/exe"), _readlink(f"{proc}/{pid}/cwd"), ())
        if cmdline and holder.is_litestream:
            out.append(holder)
    return out


# `replicate` flags that take a value (both versions); the rest are booleans.
_VALUE_FLAGS = {"config", "exec", "trace", "addr", "log-level", "mcp-addr"}


def _replicate_args(holder: Holder) -> tuple[dict[str, str], list[str]] | None:
    """Split a `litestream replicate …` command line into its flags and positional arguments."""
    args = list(holder.cmdline)
    if "replicate" not in args:
        return None
    flags: dict[str, str] = {}
    positional: list[str] = []
    rest = args[args.index("replicate") + 1 :]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.lstrip("-").partition("=")
            if not eq and name in _VALUE_FLAGS and i + 1 < len(rest):
                i += 1
                value = rest[i]
            flags[name] = value if (eq or name in _VALUE_FLAGS) else "true"
        else:
            positional.append(arg)
        i += 1
    return flags, positional


def _resolve(holder: Holder, path: str) -> str:
    return path if os.path.isabs(path) else os.path.normpath(os.path.join(holder.cwd or "/", path))


def replicate_config_path(holder: Holder) -> str | None:
    """The config a `litestream replicate` process runs with: its -config flag, resolved in its cwd.

    Without -config and without positional arguments Litestream reads LITESTREAM_CONFIG
    (from that process's environment, readable as root or as its owner), else /etc/litestream.yml.
    """
    parsed = _replicate_args(holder)
    if parsed is None:
        return None
    flags, positional = parsed
    if "config" in flags:
        return _resolve(holder, flags["config"])
    if positional:
        return None
    from_env = _environ(holder.pid).get("LITESTREAM_CONFIG")
    return _resolve(holder, from_env) if from_env else "/etc/litestream.yml"


def _environ(pid: int) -> dict[str, str]:
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            raw = fh.read()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if b"=" in item)
    return {k: v for k, _, v in pairs}


def replicate_command_db(holder: Holder) -> str | None:
    """`litestream replicate DB URL` names its database on the command line."""
    parsed = _replicate_args(holder)
    if parsed is None or len(parsed[1]) < 2:
        return None
    return _resolve(holder, parsed[1][0])


_RESTORE_VALUE_FLAGS = {
    "config",
    "o",
    "generation",
    "index",
    "timestamp",
    "txid",
    "parallelism",
    "replica",
    "integrity-check",
    "level",
}


def restore_target(holder: Holder) -> str | None:
    """The path a `litestream restore` writes: its -o, else the database it names."""
    args = list(holder.cmdline)
    rest = args[args.index("restore") + 1 :] if "restore" in args else []
    output, positional, i = None, [], 0
    while i < len(rest):
        name, eq, value = rest[i].lstrip("-").partition("=")
        if rest[i].startswith("-") and name in _RESTORE_VALUE_FLAGS:
            if not eq and i + 1 < len(rest):
                i += 1
                value = rest[i]
            if name == "o":
                output = value
        elif not rest[i].startswith("-"):
            positional.append(rest[i])
        i += 1
    target = output or (positional[-1] if positional and "://" not in positional[-1] else None)
    if target is None:
        return None
    return target if os.path.isabs(target) else os.path.normpath(os.path.join(holder.cwd or "/", target))
