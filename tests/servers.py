"""What every test server helper shares: a free port on 127.0.0.1, and stopping the server's process."""

from __future__ import annotations

import socket
import subprocess


def free_port() -> int:
    """A port nothing listens on right now (the kernel's pick), for a server the test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL after `timeout`: a test never leaves its server behind."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)
