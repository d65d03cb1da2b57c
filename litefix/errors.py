"""Expected failures: things a user can cause, each with what to do about it.

The CLI turns any of these into one `Error: …` line plus a hint and the exit code
below; anything else is a bug and gets a traceback-free report with exit code 3.
"""

from __future__ import annotations

import os

from litefix.formats.oserror import os_error_cause, os_error_sentence

__all__ = ["os_error_cause", "os_error_sentence"]  # the pure words live beside the byte readers that use them

# Exit codes, documented in the README and checked by tests/test_docs.py.
EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CANNOT_INSPECT = 3
EXIT_REFUSED = 4
EXIT_REPAIR_FAILED = 5
EXIT_LITESTREAM_STOPPED = 6
EXIT_INTERRUPTED = 130

EXIT_CODES = {
    EXIT_OK: "Nothing at or above `--fail-on` (default `error`); for `repair`, the database is healthy afterwards; "
    "for `explain`, only routine, informational and warning lines.",
    EXIT_FINDINGS: "At least one finding at or above `--fail-on`; for `explain`, an ERROR-level line (known or not) "
    "or a known error signature.",
    EXIT_USAGE: "Usage error: unknown command or option, bad value, unreadable or invalid config.",
    EXIT_CANNOT_INSPECT: "Could not inspect: permission denied, I/O error, or an inspector failed (named in the "
    "output).",
    EXIT_REFUSED: "Refused: the action could lose data (a live process holds the database, another repair runs, "
    "no replica).",
    EXIT_REPAIR_FAILED: "A repair step or rollback failed, the disk is full, or a quarantine is damaged; nothing "
    "was lost, the error says how to `--resume` or roll back.",
    EXIT_LITESTREAM_STOPPED: "boot: Litestream did not start, or stopped while the app ran (the app was stopped "
    "too: its writes would not be backed up). Otherwise `boot` exits with the app's own exit code.",
    EXIT_INTERRUPTED: "Interrupted (Ctrl-C / SIGINT).",
}


class LitefixError(Exception):
    """Base of every expected error. `message` is one sentence; `hint` says what to do."""

    exit_code = EXIT_CANNOT_INSPECT

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(LitefixError):
    """The command line or its arguments make no sense."""

    exit_code = EXIT_USAGE


class CannotInspect(LitefixError):
    """Something that must be read could not be: permissions, I/O errors."""

    exit_code = EXIT_CANNOT_INSPECT


class ConfigError(LitefixError):
    """The Litestream config is missing, unreadable or malformed."""

    exit_code = EXIT_USAGE


class Refused(LitefixError):
    """litefix will not do this because it could lose data (or needs --force)."""

    exit_code = EXIT_REFUSED


class RepairFailed(LitefixError):
    """A repair step failed; the journal says where, and how to resume or roll back."""

    exit_code = EXIT_REPAIR_FAILED


class NoSpace(LitefixError):
    """The disk (or quota) is full: nothing litefix did is lost, there is no room to go on."""

    exit_code = EXIT_REPAIR_FAILED


_OS_HINTS = {
    "space": "free space on that filesystem; nothing was lost, then run the same command again "
    "(an interrupted repair: --resume or --rollback)",
    "permission": "run litefix as the user that owns the database (or with sudo), or fix the file's permissions",
    "io": "the disk or filesystem is failing; copy what you can",
    "other": "check that the path and its directory are readable",
}


def describe_os_error(
    exc: OSError,
    what: str | os.PathLike[str] | bytes = "",
    doing: str = "read",
    error: type[LitefixError] = CannotInspect,
    hint: str = "",
) -> LitefixError:
    """An OSError as the error the user sees, worded by `os_error_sentence`.

    A full disk (or quota) is always `NoSpace`, exit 5, whatever was being done: the fix is
    room, not another path. Anything else is `error` (cannot-inspect, 3, unless the caller
    knows better: an unreadable config is a usage error, 2) with `hint`, else the hint for
    the cause.
    """
    import errno

    sentence = os_error_sentence(exc, what, doing)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return NoSpace(sentence, _OS_HINTS["space"])
    if hint:
        return error(sentence, hint)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return error(sentence, _OS_HINTS["permission"])
    if exc.errno == errno.EIO:
        return error(sentence, _OS_HINTS["io"])
    if exc.errno == errno.ELOOP:
        return error(sentence, "point the path at the real file")
    return error(sentence, _OS_HINTS["other"])
