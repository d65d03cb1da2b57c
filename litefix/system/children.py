"""Children that die with litefix: their own process group, and a parent-death signal.

Boot's Litestream and app, and a repair's `litestream replicate` or `restore`, must never outlive a
litefix that was killed: an orphaned replicator on a database is the incident all over again. The
kernel's PR_SET_PDEATHSIG sends them SIGTERM when litefix dies; their own process group lets litefix
signal a shell-wrapped child's real process too.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from typing import IO, Any

PR_SET_PDEATHSIG = 1

try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL(None, use_errno=True)
except OSError:  # not Linux: no parent-death signal
    _LIBC = None


def die_with_parent() -> None:
    """In the child before exec: SIGTERM when litefix dies. (A preexec_fn runs Python in the forked child;
    this one makes a single prctl call through ctypes, importing nothing and taking no lock another
    thread could have held at the fork.)"""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_child(
    argv: Sequence[str],
    env: Mapping[str, str] | None = None,
    stdout: IO[Any] | int | None = None,
    stderr: IO[Any] | int | None = None,
    *,
    shell: bool = False,
    new_session: bool = False,
) -> subprocess.Popen[bytes]:
    """Popen in its own process group (or session), SIGTERMed by the kernel if litefix dies first."""
    command: str | list[str] = argv[0] if shell else list(argv)
    return subprocess.Popen(
        command,
        stdout=stdout,
        stderr=stderr,
        env=dict(env) if env is not None else None,
        shell=shell,
        start_new_session=new_session,
        process_group=None if new_session else 0,
        preexec_fn=die_with_parent,  # noqa: PLW1509
    )


def signal_group(pgid: int, signum: int) -> None:
    """The child's whole process group (a shell-wrapped app's real server too, like `tini -g`); just the
    child if it has left that group."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pgid, signum)
    except PermissionError:
        pass
