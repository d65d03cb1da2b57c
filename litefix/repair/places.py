"""Putting files in place the way they were: owner, group and mode; and room on the disk before writing.

A restore run as root used to leave the database owned by root, mode 0600 (0.3.13's
restore), and the app's user then got "attempt to write a readonly database". What a
repair puts at a user's path takes the owner and mode of what it replaces, else of the
directory (mode 0644). Free space is checked before each step that writes, so a full disk
is refused with the numbers instead of failing half-way.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from litefix.errors import NoSpace
from litefix.repair.quarantine import Entry

MARGIN = 256 * 1024  # the journal, the manifest, SQLite's -shm: a few writes beside the big one


def free_bytes(where: str) -> int:
    st = os.statvfs(where)
    return st.f_bavail * st.f_frsize


def ensure_room(subject: str, where: str, needed: int, doing: str) -> None:
    """NoSpace with the numbers when `where`'s filesystem cannot take `needed` bytes (plus a margin)."""
    free = free_bytes(where)
    if free < needed + MARGIN:
        raise NoSpace(
            f"not enough space for {doing} {subject}: {_size(free)} free on the filesystem of {where}, "
            f"about {_size(needed + MARGIN)} needed",
            "free space there, then run `litefix repair DB --resume` (or `--rollback`); nothing was lost",
        )


def _size(n: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} bytes"


def own_like(path: str, like: Entry | None, db_dir: str) -> None:
    """Give `path` the owner, group and mode of the file it replaces (else of the directory, mode 0644)."""
    if like is not None and like.uid >= 0:
        uid, gid, mode = like.uid, like.gid, stat.S_IMODE(like.mode) or 0o644
    else:
        st = os.stat(db_dir)
        uid, gid, mode = st.st_uid, st.st_gid, 0o644
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
    os.chmod(path, mode)


def match_owner(reference: str, paths: Iterable[str]) -> None:
    """Give files (and directory trees) a child made as root the owner of the database they belong to."""
    if os.geteuid() != 0:
        return
    try:
        st = os.stat(reference)
    except OSError:
        return
    for path in paths:
        if not os.path.lexists(path) or os.path.islink(path):
            continue
        os.chown(path, st.st_uid, st.st_gid)
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), st.st_uid, st.st_gid)
