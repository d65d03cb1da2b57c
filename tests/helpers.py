"""Small shared tools for the tests: run the real CLI, fingerprint a directory."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
NOBODY = 65534


def skip_outside_ci(reason: str) -> NoReturn:
    """Skip on a developer's machine that cannot run this test; in CI (root, everything installed) the
    same condition is a failure, so CI never silently skips a test that needs Litestream or root."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


def as_nobody() -> list[str]:
    """The command prefix that runs a process as `nobody` (root ignores file modes); skips if impossible."""
    if not shutil.which("setpriv"):
        skip_outside_ci("running as root without setpriv: cannot drop privileges to test permission errors")
    prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "import litefix"], capture_output=True, check=False)
    if probe.returncode:
        skip_outside_ci("the user nobody cannot run this Python: cannot test permission errors as root")
    return prefix


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def litefix(
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    timeout: float = 120,
    cwd: str | os.PathLike[str] | None = None,
    user: int | None = None,
) -> Result:
    """Run `python -m litefix ARGS` as a real process, the way users and entrypoints do."""
    cmd = [sys.executable, "-m", "litefix", *map(str, args)]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    # surrogateescape: a path whose bytes are not UTF-8 comes back as the str Path gave (os.fsdecode)
    proc = subprocess.run(
        cmd, capture_output=True, text=True, errors="surrogateescape", timeout=timeout, env=env, cwd=cwd, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def fingerprint(directory: str | os.PathLike[str]) -> dict[str, tuple[object, ...]]:
    """Every file under `directory`: kind, size, mtime, mode, sha256. Symlinks are not followed."""
    out: dict[str, tuple[object, ...]] = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = os.path.join(root, name)
            st = os.lstat(path)
            rel = os.path.relpath(path, directory)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", st.st_mode, st.st_mtime_ns)
            else:
                digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
                out[rel] = ("file", st.st_size, st.st_mtime_ns, st.st_mode, st.st_ino, digest)
    return out


def codes(result: Result) -> list[str]:
    return sorted({f["code"] for f in result.json()["findings"]})


def stderr_on_a_terminal(*args: str | Path, env: dict[str, str]) -> str:
    """Run litefix with its stderr on a pseudo-terminal, as a user at a shell sees it."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "litefix", *map(str, args)], stdout=subprocess.DEVNULL, stderr=slave, env=env
    )
    os.close(slave)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(master)
        proc.wait(120)
    return b"".join(chunks).decode(errors="replace")


def copy_present(src: Path, dst: Path, names: list[str]) -> None:
    """Copy each of `names` (a file or a directory) from `src` to `dst`, where it exists: a snapshot of a
    database's files (the database, its -wal, the meta dir) as a volume backup would hold them."""
    for name in names:
        if (src / name).is_dir():
            shutil.copytree(src / name, dst / name)
        elif (src / name).exists():
            shutil.copy(src / name, dst / name)


def put_back(src: Path, dst: Path, names: list[str]) -> None:
    """Replace each of `names` in `dst` by its copy in `src` (or by nothing): an older volume mounted."""
    for name in names:
        target = dst / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    copy_present(src, dst, names)
