"""The words for an OSError: what litefix was doing, on which path, and the plain cause.

It lives in formats/ because the byte readers (an LTX file that cannot be read while
its directory is listed) phrase a read failure too, and formats/ imports nothing else of
litefix; `litefix.errors` builds the user-facing error (exit code and hint) on top of it.
Pure: it only reads the exception.
"""

from __future__ import annotations

import errno
import os

# Where strerror is jargon or shouting, the words a user acts on; the rest is strerror in lower case.
_PLAIN = {
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "I/O error",
    errno.ELOOP: "a symlink loop",
    errno.EROFS: "read-only filesystem",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.EDQUOT: "disk quota exceeded",
}

_LONG_PATH = 200  # characters: an ENAMETOOLONG path is shown by its first 80


def os_error_cause(exc: OSError) -> str:
    """The plain cause, in lower case: "permission denied", "no space left on device", "is a directory"."""
    if exc.errno in _PLAIN:
        return _PLAIN[exc.errno]
    if exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def os_error_sentence(exc: OSError, what: str | os.PathLike[str] | bytes = "", doing: str = "read") -> str:
    """The one sentence for an OSError: `cannot DOING PATH: CAUSE`.

    `doing` is what litefix was doing, as a verb phrase ("read", "take the boot lock", "listen
    on"); the path is `what`, as the caller (and so the user) named it, else the one the system
    call named (`exc.filename`).
    """
    path = what if what else exc.filename if exc.filename is not None else ""
    shown = os.fsdecode(path) if isinstance(path, bytes | os.PathLike) else str(path)
    if len(shown) > _LONG_PATH:
        shown = shown[:80] + "…"
    on = f" {shown}" if shown else ""
    return f"cannot {doing}{on}: {os_error_cause(exc)}"
