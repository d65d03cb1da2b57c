"""Repair under `litefix boot`: a control socket the running boot owns, so a repair can ask it to
pause (stop the app, then Litestream after its final sync), run, and resume (Litestream, then the app).

When the container's entrypoint is `litefix boot`, stopping the app stops the container, and a repair
that kills boot's Litestream makes boot stop the app and exit (measured before this existed: exit 6,
"Litestream exited with 0", and one committed row written through the app's old file was lost).
The boot that replicates listens on `<db dir>/.litefix/boot.sock` (on the volume, so a `kamal app
exec` container reaches it too); the repair connects, says `pause`, waits for "paused", repairs, and
says `resume`. If the repair dies, its connection closes and boot resumes by itself: a paused app is
never left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from litefix.errors import LitefixError, Refused, os_error_sentence

SOCKET_NAME = "boot.sock"
REPLY_TIMEOUT = 180.0  # stopping the app and Litestream's final sync, or a restart, take at most this


def socket_path(databases: Sequence[str]) -> str:
    """The control socket of the boot that replicates these databases (beside its lock)."""
    from litefix.gate.volume import lock_paths

    return os.path.join(os.path.dirname(lock_paths(databases)[0]), SOCKET_NAME)


@dataclass
class Request:
    """One request from a repair, answered by boot's main thread (which owns the processes)."""

    op: str  # "pause" or "resume"
    who: str
    connection: socket.socket

    def reply(self, ok: bool, message: str) -> None:
        with contextlib.suppress(OSError):
            self.connection.sendall(json.dumps({"ok": ok, "message": message}).encode() + b"\n")


class ControlServer:
    """Accepts requests on the socket in a background thread; boot's main loop takes them with `poll`.
    A connection that closes while boot is paused counts as `resume` (the repair died)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.requests: queue.Queue[Request] = queue.Queue()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a socket file left by a boot that was killed: we hold the lock now
        self._sock.bind(path)
        os.chmod(path, 0o600)
        self._sock.listen(4)
        self._sock.settimeout(0.2)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="litefix-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket) -> None:
        conn.settimeout(None)
        with conn, conn.makefile("rb") as lines:
            for raw in lines:
                try:
                    doc = json.loads(raw)
                    op, who = str(doc["op"]), str(doc.get("who", "a repair"))
                except (ValueError, KeyError, TypeError):
                    conn.sendall(b'{"ok": false, "message": "not a request"}\n')
                    continue
                self.requests.put(Request(op, who, conn))
            self.requests.put(Request("closed", "", conn))  # the repair went away

    def has_request(self) -> bool:
        return not self.requests.empty()

    def poll(self) -> Request | None:
        try:
            return self.requests.get_nowait()
        except queue.Empty:
            return None

    def wait(self, timeout: float) -> Request | None:
        try:
            return self.requests.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    def __enter__(self) -> ControlServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class BootClient:
    """The repair's side: one connection for the whole pause; closing it resumes boot."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(REPLY_TIMEOUT)
        try:
            self._sock.connect(path)
        except OSError as exc:
            self._sock.close()
            raise Refused(
                "a litefix boot holds these databases but " + os_error_sentence(exc, path, "reach its control socket"),
                "stop that container first, then repair",
            ) from None
        self._lines = self._sock.makefile("rb")

    def ask(self, op: str) -> str:
        self._sock.sendall(json.dumps({"op": op, "who": f"litefix repair (pid {os.getpid()})"}).encode() + b"\n")
        try:
            raw = self._lines.readline()
        except TimeoutError:
            raw = b""
        if not raw:
            raise LitefixError(f"the running litefix boot did not answer `{op}` within {REPLY_TIMEOUT:.0f}s")
        doc = json.loads(raw)
        if not doc.get("ok"):
            raise Refused(f"the running litefix boot refused `{op}`: {doc.get('message')}")
        return str(doc.get("message", ""))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._lines.close()
            self._sock.close()


@contextlib.contextmanager
def paused_boot(databases: Sequence[str]) -> Iterator[str | None]:
    """If a litefix boot replicates these databases, pause it for the block (app stopped, Litestream
    stopped after its final sync) and resume it afterwards, even if the block fails; yields what boot
    said, or None when no boot holds them."""
    from litefix.gate.volume import held_by_others

    holders = held_by_others(databases)
    if not holders:
        yield None
        return
    client = BootClient(holders[0].socket or socket_path(databases))
    try:
        said = client.ask("pause")
        try:
            yield said
        finally:
            client.ask("resume")
    finally:
        client.close()
