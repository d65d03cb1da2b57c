"""Where a replica's objects live: a directory, or an object store (S3 and compatibles, GCS, Azure Blob).

The layout code (replicas/layout.py) sees only this small interface — list objects under a
prefix, read a byte range, bring objects to a local path — so a `file` replica and an S3 one
are read by the same code. Object stores are reached through `obstore` (one Rust client for
S3, GCS and Azure, ~5 ms to import, imported only when a remote replica is read). Objects that
page-level work needs (`--compare`) are streamed into a private scratch directory in chunks,
several at once: memory stays at a few chunks whatever the database size.

Every request has a bounded wait (connect and request timeouts, one retry), and every failure
becomes a `StorageError` whose `reason` names the cause in a word and whose message is one
sentence: no credentials, access denied, unknown bucket, bad endpoint, connection refused, timeout.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Protocol

from litefix.errors import os_error_sentence
from litefix.replicas.progress import reporting

# Requests in flight at once (headers, downloads): enough to hide a round trip, few enough for a
# small host and the store's rate limits.
PARALLEL = 16
CHUNK = 4 << 20  # streamed downloads: bytes held per object in flight


def _timeout() -> float:
    """Seconds one request may take; LITEFIX_REMOTE_TIMEOUT tightens (or loosens) it."""
    try:
        return max(0.5, float(os.environ.get("LITEFIX_REMOTE_TIMEOUT", "20")))
    except ValueError:
        return 20.0


REQUEST_SECONDS = _timeout()
CONNECT_TIMEOUT = timedelta(seconds=min(5.0, REQUEST_SECONDS))
REQUEST_TIMEOUT = timedelta(seconds=REQUEST_SECONDS)
RETRY_TIMEOUT = timedelta(seconds=REQUEST_SECONDS)


@dataclass(frozen=True)
class ObjectInfo:
    """One object, by its key relative to the replica's root ("ltx/0/…ltx", "generations/…")."""

    key: str
    size: int
    mtime: float


class StorageError(Exception):
    """The store could not be read. `reason` is one word a script can test; the message is one sentence."""

    def __init__(self, reason: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.detail = detail


class Storage(Protocol):
    location: str
    kind: str  # "file", "s3", "gs", "abs"

    def list(self, prefix: str) -> list[ObjectInfo]: ...

    def read_range(self, key: str, start: int, length: int) -> bytes: ...

    def local_path(self, key: str) -> Path:
        """Where the object's bytes are (or will be, once fetched) on this machine."""
        ...

    def fetch(self, keys: Sequence[str], progress: Callable[[int], None] | None = None) -> None:
        """Make `local_path(key)` hold each object (a no-op for a directory)."""
        ...

    def close(self) -> None: ...


# --- a directory ---------------------------------------------------------------------------------


def _raise_unless_gone(exc: OSError) -> None:
    """os.walk skips a directory it cannot list, which made an unreadable replica look empty (a "first
    deploy"); only a directory that is not there (no such prefix, or removed by retention) is nothing."""
    if not isinstance(exc, FileNotFoundError | NotADirectoryError):
        raise exc


@dataclass
class FileStorage:
    root: str
    location: str = ""
    kind: str = "file"

    def list(self, prefix: str) -> list[ObjectInfo]:
        base = os.path.join(self.root, prefix)
        out: list[ObjectInfo] = []
        for directory, _dirs, files in os.walk(base, onerror=_raise_unless_gone):
            for name in files:
                path = os.path.join(directory, name)
                try:
                    st = os.stat(path)
                except FileNotFoundError:  # retention removed it while we listed
                    continue
                out.append(ObjectInfo(os.path.relpath(path, self.root).replace(os.sep, "/"), st.st_size, st.st_mtime))
        return out

    def read_range(self, key: str, start: int, length: int) -> bytes:
        with open(self.local_path(key), "rb") as fh:
            fh.seek(start)
            return fh.read(length)

    def local_path(self, key: str) -> Path:
        return Path(self.root) / key

    def fetch(self, keys: Sequence[str], progress: Callable[[int], None] | None = None) -> None:
        return None

    def close(self) -> None:
        return None


# --- an object store -------------------------------------------------------------------------------


def _scratch_name() -> str:
    import tempfile  # object stores only: a file replica is read in place

    return os.path.join(tempfile.gettempdir(), f"litefix-replica-{uuid.uuid4().hex[:12]}")


@dataclass
class ObjectStorage:
    """An obstore store rooted at the replica's prefix, and a scratch directory for fetched objects."""

    store: Any
    location: str
    kind: str
    endpoint: str = ""
    bucket: str = ""
    credentials: str = ""  # where they came from (never the values), for the facts
    # Named now (object paths are derived from it while listing), made on the first fetch: a listing
    # alone leaves nothing behind, even if the caller never closes.
    scratch: str = field(default_factory=_scratch_name)
    _made: bool = False
    _sizes: dict[str, int] = field(default_factory=dict)  # from the listing: what a fetch will read

    def _make_scratch(self) -> None:
        if not self._made:
            os.makedirs(self.scratch, mode=0o700)
            self._made = True

    def list(self, prefix: str) -> list[ObjectInfo]:
        import obstore

        out: list[ObjectInfo] = []
        try:
            for batch in obstore.list(self.store, prefix=prefix.rstrip("/") + "/" if prefix else None):
                for meta in batch:
                    when = meta["last_modified"]
                    out.append(ObjectInfo(str(meta["path"]), int(meta["size"]), when.timestamp()))
                    self._sizes[out[-1].key] = out[-1].size
        except Exception as exc:
            raise self._error(exc, f"list {prefix or 'the root'}") from None
        return out

    def read_range(self, key: str, start: int, length: int) -> bytes:
        import obstore

        try:
            return bytes(obstore.get_range(self.store, key, start=start, length=length))
        except Exception as exc:
            if "Range" in str(exc) and "not satisfiable" in str(exc).lower():
                return b""
            raise self._error(exc, f"read {key}") from None

    def local_path(self, key: str) -> Path:
        return Path(self.scratch) / key

    def fetch(self, keys: Sequence[str], progress: Callable[[int], None] | None = None) -> None:
        todo = [k for k in dict.fromkeys(keys) if not self.local_path(k).exists()]
        if not todo:
            return
        self._make_scratch()
        total = sum(self._sizes.get(k, 0) for k in todo) or None
        with reporting(f"reading {len(todo)} objects from {self.location}", total) as shown:

            def advance(n: int) -> None:
                shown(n)
                if progress is not None:
                    progress(n)

            from concurrent.futures import ThreadPoolExecutor  # object stores only: a disk needs no threads

            with ThreadPoolExecutor(max_workers=min(PARALLEL, len(todo))) as pool:
                for _ in pool.map(lambda k: self._download(k, advance), todo):
                    pass

    def _download(self, key: str, progress: Callable[[int], None] | None) -> None:
        import obstore

        target = self.local_path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as out:
                for chunk in obstore.get(self.store, key).stream(min_chunk_size=CHUNK):
                    out.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
        except Exception as exc:
            partial.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not _is_obstore_error(exc):
                raise StorageError("local", os_error_sentence(exc, self.scratch, f"write {key} to")) from None
            raise self._error(exc, f"read {key}") from None
        os.replace(partial, target)

    def close(self) -> None:
        if self._made:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self._made = False

    def _error(self, exc: BaseException, doing: str) -> StorageError:
        return classify(exc, self, doing)


def _is_obstore_error(exc: BaseException) -> bool:
    return type(exc).__module__.startswith("obstore")


# --- the cause, named ------------------------------------------------------------------------------

# (reason, words in the client's error chain, the sentence's tail); the first match wins.
_CAUSES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # With no key anywhere the client falls back to the instance metadata service: its failure means none.
    ("no-credentials", ("nocredentials", "no credentials", "missing credentials", "credential provider",
                        "failed to load credentials", "unable to load credential", "169.254.169.254",
                        "/latest/api/token"),
     "no credentials were found (replica access-key-id/secret-access-key, LITESTREAM_ACCESS_KEY_ID, AWS_*)"),
    ("access-denied", ("invalidaccesskeyid", "signaturedoesnotmatch", "accessdenied", "access denied", "forbidden",
                       "status: 403", "403 forbidden", "authorizationfailure", "authenticationfailed",
                       "unauthenticated", "status: 401", "invalid_grant"),
     "the store refused the credentials or the request (access denied)"),
    ("no-such-bucket", ("nosuchbucket", "bucket does not exist", "containernotfound", "the specified container",
                        "specified bucket does not exist"),
     "the bucket (container) does not exist"),
    ("wrong-region", ("permanentredirect", "authorizationheadermalformed", "incorrectendpoint", "wrong region",
                      "status: 301"),
     "the bucket is in another region than the one configured"),
    ("tls", ("certificate", "x509", "invalid peer certificate", "unknownissuer", "tls"),
     "the TLS certificate of the endpoint is not trusted (skip-verify, or the CA)"),
    ("connection-refused", ("connection refused", "connect error", "error trying to connect", "tcp connect",
                            "connection reset", "broken pipe"),
     "the endpoint refused the connection (nothing listens there, or the server stopped)"),
    ("bad-endpoint", ("dns error", "failed to lookup", "name or service not known", "invalid url",
                      "relative url", "builder error", "no such host", "unknown url scheme",
                      "empty host"),
     "the endpoint cannot be reached as written (a bad host name or URL)"),
    ("timeout", ("timed out", "timeout", "deadline has elapsed"),
     "the endpoint did not answer in time"),
)  # fmt: skip


_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS = re.compile(r"Server returned non-2xx status code: \d+ [A-Za-z ]+")


def classify(exc: BaseException, storage: ObjectStorage | None, doing: str) -> StorageError:
    """One sentence naming the cause, from the client's error chain (its words, lower-cased)."""
    chain: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(chain) < 8:
        chain.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    text = " | ".join(chain)
    # The client prints its own retry settings ("retry_timeout: 20s") in every error: not a cause.
    low = re.sub(r"retry_timeout: \S+|max_retries: \S+", "", text.lower())
    where = ""
    if storage is not None:
        where = f" {storage.location}" + (f" at {storage.endpoint}" if storage.endpoint else "")
    if type(exc).__name__ == "NotFoundError" and "bucket" not in low and "container" not in low:
        return StorageError("not-found", f"cannot {doing} in{where}: the object is gone (retention?)", text[:2000])
    code = _CODE.search(text)
    said = f" ({code[1]})" if code else ""
    for reason, words, tail in _CAUSES:
        if any(w in low for w in words):
            return StorageError(reason, f"cannot {doing} in{where}: {tail}{said}", text[:2000])
    status = _STATUS.search(text)
    first = status[0] if status else (text.splitlines()[0][:200] if text else type(exc).__name__)
    return StorageError("other", f"cannot {doing} in{where}: {first}", text[:2000])


def read_all(storage: Storage, infos: Iterable[ObjectInfo]) -> dict[str, bytes]:
    """Small objects read whole, several at once (0.3 segment names are enough for listings; this is
    for the few objects whose bytes a listing needs)."""
    items = list(infos)
    if not items:
        return {}
    from concurrent.futures import ThreadPoolExecutor  # object stores only: a disk needs no threads

    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(items))) as pool:
        data = pool.map(lambda i: storage.read_range(i.key, 0, i.size), items)
        return {i.key: d for i, d in zip(items, data, strict=True)}
