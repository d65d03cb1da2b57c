"""The mount table as this process sees it, and what it says about a path's persistence.

A database on tmpfs, in a container's overlay layer or under /tmp is gone after a reboot or a
redeploy: every boot then depends on the replica.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

MEMORY_FILESYSTEMS = frozenset({"tmpfs", "ramfs", "devtmpfs"})
LAYER_FILESYSTEMS = frozenset({"overlay", "overlayfs", "aufs", "fuse-overlayfs"})
TMP_DIRECTORIES = ("/tmp", "/var/tmp")


@dataclass(frozen=True)
class Mount:
    point: str
    fs_type: str
    source: str


def read_mounts(path: str = "/proc/self/mountinfo") -> tuple[Mount, ...]:
    """The mount table as this process sees it (later lines stack over earlier ones)."""
    mounts = []
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return ()
    for line in text.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) > sep + 2:
            mounts.append(Mount(_unescape(fields[4]), fields[sep + 1], _unescape(fields[sep + 2])))
    return tuple(mounts)


def _unescape(text: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_of(path: str, mounts: Sequence[Mount]) -> Mount | None:
    real = os.path.realpath(path)
    best: Mount | None = None
    for mount in mounts:  # the last mount on the longest matching point is the one in effect
        inside = real == mount.point or real.startswith(mount.point.rstrip("/") + "/")
        if inside and (best is None or len(mount.point) >= len(best.point)):
            best = mount
    return best


def storage_risk(path: str, mounts: Sequence[Mount]) -> str | None:
    """Why `path` does not outlive a reboot or a redeploy (a phrase: "`path` is …"), or None when it does."""
    real = os.path.realpath(path)
    mount = mount_of(real, mounts)
    if mount is not None and mount.fs_type in MEMORY_FILESYSTEMS:
        return f"on {mount.fs_type} (memory, mounted at {mount.point}): gone after a reboot"
    if mount is not None and mount.fs_type in LAYER_FILESYSTEMS:
        return (
            f"in the container's {mount.fs_type} layer (mounted at {mount.point}), not on a volume: gone when the "
            "container is replaced"
        )
    for tmp in TMP_DIRECTORIES:
        if real.startswith(tmp + "/"):
            on = f" on {mount.fs_type}" if mount else ""
            return f"under {tmp}{on}, not on a volume: cleared at boot or by age by the OS's tmp cleaner"
    return None
