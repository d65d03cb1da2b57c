"""Free space of a filesystem and the size and age of a directory's files (statvfs, lstat).

Both are metadata reads: no file is opened, so they cost the same for a 1 GiB database as for
an empty one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Filesystem:
    path: str  # its mount point
    device: int
    free: int  # bytes an unprivileged process may still write (f_bavail)
    total: int

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "free_bytes": self.free, "total_bytes": self.total}


def filesystem_of(path: str) -> Filesystem | None:
    """The filesystem `path` is on (or its nearest existing parent); None when nothing can be stat'ed."""
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return None
        probe = parent
    try:
        st = os.statvfs(probe)
        device = os.stat(probe).st_dev
    except OSError:
        return None
    return Filesystem(_mount_point(probe, device), device, st.f_bavail * st.f_frsize, st.f_blocks * st.f_frsize)


def _mount_point(path: str, device: int) -> str:
    """The topmost directory above `path` on the same device: the filesystem's mount point."""
    current = os.path.abspath(path)
    while True:
        parent = os.path.dirname(current)
        try:
            if parent == current or os.stat(parent).st_dev != device:
                return current
        except OSError:
            return current
        current = parent


@dataclass(frozen=True)
class FileAge:
    path: str
    size: int
    mtime: float


def files_in(directory: str, suffix: str) -> list[FileAge]:
    """Regular files named `*suffix` directly in `directory`, oldest first ([] when it is absent)."""
    out: list[FileAge] = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for entry in entries:
        if not entry.name.endswith(suffix):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue  # removed while we looked (Litestream cleans up as it goes)
        if entry.is_file(follow_symlinks=False):
            out.append(FileAge(entry.path, st.st_size, st.st_mtime))
    return sorted(out, key=lambda f: (f.mtime, f.path))


def tree_size(directory: str) -> tuple[int, int]:
    """(bytes, files) under `directory`, not following symlinks."""
    total = count = 0
    for root, _dirs, names in os.walk(directory):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
            count += 1
    return total, count
