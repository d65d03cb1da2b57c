"""One replica resolved the way NewReplicaFromConfig does: URL parts, top-level settings (0.5
inherits all, 0.3 only credentials), then the part each replica type reads, as Litestream has one
client constructor per type."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import SplitResult, unquote, urlsplit

from litefix.config.constants import (
    _INHERITED_03,
    _INHERITED_05,
    _IS_URL,
    _REPLICA_DURATIONS,
    _REPLICA_KEYS_DROPPED_IN_05,
    _SETTINGS_USED,
    _URL_CLASHES,
    ALL_REPLICA_TYPES,
    GENERATIONS,
    JSON,
    REPLICA_TYPES,
)
from litefix.config.expand import expand_path
from litefix.config.model import Incompatibility, ReplicaConfig
from litefix.config.urls import (
    _OSS_HOST,
    _file_url_path,
    _joined,
    _key_prefix,
    _path_style_provider,
    _s3_from_url,
    _split_netloc,
)
from litefix.errors import ConfigError

if TYPE_CHECKING:
    import yaml


def parse_replica_url(url: str, cwd: str | None = None) -> ReplicaConfig:
    """A replica from a URL as Litestream's commands accept one; a plain path is a file replica.

    Accepts file:///abs, file:rel, s3://bucket/prefix (with 0.5's ?endpoint=&region=&
    forcePathStyle=&skipVerify= query, provider hosts such as bucket.localhost:9000 or
    bucket.s3.region.amazonaws.com, and access-point ARNs), gs:// (0.5) or gcs:// (0.3),
    abs://account@container/path, sftp://user:pass@host:port/path, webdav(s)://, nats://, oss://.
    Raises ConfigError for what Litestream would reject.
    """
    fields: dict[str, Any] = {"url": url} if _IS_URL.match(url) or url.lower().startswith("file:") else {"path": url}
    return _build_replica(fields, {}, raw=dict(fields), line=0, cwd=cwd or os.getcwd(), fail=_fail_without_line)


def _fail_without_line(line: int, message: str) -> NoReturn:
    raise ConfigError(message, "check the replica URL: scheme://bucket-or-host/path")


_Fail = Callable[[int, str], NoReturn]


def _build_replica(
    given: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    raw: Mapping[str, JSON],
    line: int,
    cwd: str,
    fail: _Fail,
    node: yaml.MappingNode | None = None,
) -> ReplicaConfig:
    """Resolve one replica the way NewReplicaFromConfig does, noting where the versions part ways."""
    notes: list[Incompatibility] = []

    def note(generation: str, message: str) -> None:
        notes.append(Incompatibility(generation, line, message))

    values = dict(given)

    def s(key: str) -> str:
        value = values.get(key)
        return value if isinstance(value, str) else ""

    url, path, written_type = s("url"), s("path"), s("type")
    if _IS_URL.match(path):
        fail(line, f"replica path {path!r} is a URL; put it under url:")
    if not url and not path and not written_type:
        fail(line, "replica has no type, path or url")
    scheme = ""
    if url:
        if re.search(r"%(?![0-9A-Fa-f]{2})", url):
            fail(line, f"replica url {url!r} has an invalid %-escape")
        m = re.match(r"^([A-Za-z][A-Za-z0-9+.\-]*):", url)
        if not m:
            fail(line, f"replica url {url!r} has no scheme (write file:///path or s3://bucket/path)")
        scheme = m[1].lower()
    rtype = ("webdav" if scheme == "webdavs" else scheme) or written_type or "file"
    if rtype not in ALL_REPLICA_TYPES:
        fail(
            line,
            f"unknown replica type {rtype!r} (0.3 knows {', '.join(sorted(REPLICA_TYPES['0.3']))}; "
            f"0.5 knows {', '.join(sorted(REPLICA_TYPES['0.5']))})",
        )
    for generation in GENERATIONS:
        if rtype not in REPLICA_TYPES[generation]:
            other = {"gcs": "gs", "gs": "gcs"}.get(rtype)
            also = f" (it calls Google Cloud Storage {other!r})" if other else ""
            note(generation, f"{generation} has no replica type {rtype!r}{also}")
    if url and path:
        fail(line, f"replica has both url and path; a {rtype} replica takes one")

    # 0.5 fills unset replica settings from the top level, then refuses a URL next to the
    # part it names (a top-level bucket plus an s3 url fails there); 0.3 copies credentials only.
    inherited: list[str] = []
    clashes = _URL_CLASHES.get(rtype, ()) if url else ()
    for key in _INHERITED_05:
        if key not in _SETTINGS_USED[rtype] or not _unset(values.get(key)) or _unset(defaults.get(key)):
            continue
        if key in clashes:
            note("0.5", f"0.5 refuses this url next to the top-level {key}")
            continue
        values[key] = defaults[key]
        inherited.append(key)
    if extra := [k for k in inherited if k not in _INHERITED_03]:
        note("0.3", f"0.3 does not take {', '.join(extra)} from the top level (it copies only credentials)")

    r = _Replica(
        rtype=rtype,
        scheme=scheme,
        url=url,
        values=values,
        line=line,
        fail=fail,
        note=note,
        remote_path=path,
        bucket=s("bucket"),
        region=s("region"),
        endpoint=s("endpoint"),
        host=s("host"),
        user=s("user"),
        key_path=s("key-path"),
        account=s("account-name"),
        skip_verify=values.get("skip-verify") is True,
    )
    if rtype == "file":
        _resolve_file(r, cwd)
    else:
        try:
            parts = urlsplit(url)
        except ValueError as exc:
            fail(line, f"replica url {url!r} is not a URL: {exc}")
        if url and r.bucket and rtype in ("s3", "gs", "gcs", "abs", "oss"):
            fail(line, f"replica has both url and bucket; a {rtype} replica takes one")
        _RESOLVERS[rtype](r, parts)

    durations = {k: values.get(k) for k in _REPLICA_DURATIONS}
    for key in _REPLICA_KEYS_DROPPED_IN_05:
        if key in given and given[key] is not None:
            note("0.5", f"0.5 ignores {key} on a replica (snapshots and retention are top-level settings there)")
    if "age" in raw:
        note("0.5", "0.5 refuses age encryption (supported only by 0.3)")
    sync_interval = durations["sync-interval"]
    if sync_interval is not None and sync_interval <= 0:
        note("0.5", "0.5 requires sync-interval greater than 0")
    return ReplicaConfig(
        type=rtype,
        location=r.location,
        name=s("name"),
        path=r.remote_path,
        url=url,
        bucket=r.bucket,
        region=r.region,
        endpoint=r.endpoint,
        force_path_style=r.force_path_style,
        skip_verify=r.skip_verify,
        host=r.host,
        user=r.user,
        key_path=r.key_path,
        account_name=r.account,
        access_key_id=s("access-key-id"),
        secret_access_key=s("secret-access-key"),
        account_key=s("account-key"),
        sync_interval=sync_interval,
        snapshot_interval=durations["snapshot-interval"],
        retention=durations["retention"],
        retention_check_interval=durations["retention-check-interval"],
        validation_interval=durations["validation-interval"],
        inherited=tuple(inherited),
        notes=tuple(notes),
        raw=raw,
        line=line,
        node=node,
    )


@dataclass
class _Replica:
    """One replica while it is resolved: what was written, then what its type's resolver makes of it."""

    rtype: str
    scheme: str
    url: str
    values: dict[str, Any]
    line: int
    fail: _Fail
    note: Callable[[str, str], None]
    remote_path: str
    bucket: str
    region: str
    endpoint: str
    host: str
    user: str
    key_path: str
    account: str
    skip_verify: bool
    force_path_style: bool | None = None
    location: str = ""

    def setting(self, key: str) -> str:
        value = self.values.get(key)
        return value if isinstance(value, str) else ""

    def require(self, ok: object, message: str) -> None:
        if not ok:
            self.fail(self.line, message)


def _url_parts(parts: SplitResult) -> tuple[str, str, str]:
    """(user, host, unquoted path); the password stays in raw only."""
    user, _password, host = _split_netloc(parts.netloc)
    return user, host, unquote(parts.path)


def _resolve_file(r: _Replica, cwd: str) -> None:
    if r.url:
        r.remote_path, query = _file_url_path(r.url)
        if query:
            r.note("0.3", f"0.3 keeps the query in a file URL's path ({r.remote_path}?{query})")
    r.require(r.remote_path, "file replica has no path")
    r.remote_path = expand_path(r.remote_path, cwd)
    r.location = "file://" + r.remote_path


def _resolve_s3(r: _Replica, parts: SplitResult) -> None:
    _user, url_host, url_path = _url_parts(parts)
    fps_given = r.values.get("force-path-style")
    r.force_path_style = fps_given if isinstance(fps_given, bool) else r.endpoint != ""
    if r.url:
        s3 = _s3_from_url(r.url, url_host, url_path, parts.query)
        bucket_03, region_03, endpoint_03, _ = s3.as_03
        seen_by_03 = (r.bucket or bucket_03, r.region or region_03, r.endpoint or endpoint_03)
        r.remote_path = r.remote_path or s3.prefix
        r.bucket, r.region, r.endpoint = r.bucket or s3.bucket, r.region or s3.region, r.endpoint or s3.endpoint
        r.force_path_style = r.force_path_style or s3.force_path_style
        r.skip_verify = s3.skip_verify if s3.skip_verify is not None else r.skip_verify
        if s3.arn:
            r.note("0.3", "0.3 cannot read an S3 access-point ARN URL")
        elif seen_by_03 != (r.bucket, r.region, r.endpoint):
            where = f"at {seen_by_03[2]}" if seen_by_03[2] else "on AWS"
            ignored = " (it ignores the URL's ?query)" if parts.query else ""
            r.note("0.3", f"0.3 reads this URL as bucket {seen_by_03[0]!r} {where}{ignored}")
    if not isinstance(fps_given, bool) and _path_style_provider(r.endpoint):
        r.force_path_style = True
    r.require(r.bucket, "s3 replica has no bucket")
    r.location = _joined(f"s3://{r.bucket}", r.remote_path)


def _resolve_bucket_store(r: _Replica, parts: SplitResult) -> None:
    """gs (0.5), gcs (0.3) and oss: a bucket and a key prefix."""
    _user, url_host, url_path = _url_parts(parts)
    if r.url:
        url_bucket = url_host
        if r.rtype == "oss" and (m := _OSS_HOST.match(url_host)):
            url_bucket, r.region = m[1] or "", r.region or m[2]
        r.remote_path, r.bucket = r.remote_path or _key_prefix(url_path), r.bucket or url_bucket
    r.require(r.bucket, f"{r.rtype} replica has no bucket")
    r.location = _joined(f"{r.rtype}://{r.bucket}", r.remote_path)


def _resolve_abs(r: _Replica, parts: SplitResult) -> None:
    url_user, url_host, url_path = _url_parts(parts)
    if r.url:
        r.account = r.account or url_user
        r.remote_path, r.bucket = r.remote_path or _key_prefix(url_path), r.bucket or url_host
    r.require(r.bucket, "abs replica has no bucket (container)")
    r.location = _joined(f"abs://{r.account + '@' if r.account else ''}{r.bucket}", r.remote_path)


def _resolve_sftp(r: _Replica, parts: SplitResult) -> None:
    url_user, url_host, url_path = _url_parts(parts)
    r.require(not (r.url and r.host), "replica has both url and host; an sftp replica takes one")
    if r.url:
        r.host, r.user, r.remote_path = url_host, r.user or url_user, r.remote_path or url_path
    r.require(r.host, "sftp replica has no host")
    r.require(r.user, "sftp replica has no user")
    # A relative sftp path is relative to the login directory: /~/ says so.
    shown = r.remote_path if r.remote_path.startswith("/") else "/~/" + r.remote_path
    r.location = f"sftp://{r.user}@{r.host}{shown}".rstrip("/")


def _resolve_webdav(r: _Replica, parts: SplitResult) -> None:
    _user, url_host, url_path = _url_parts(parts)
    r.require(
        not (r.url and r.setting("webdav-url")), "replica has both url and webdav-url; a webdav replica takes one"
    )
    r.endpoint = r.setting("webdav-url")
    if r.url and url_host:
        r.endpoint = ("https" if r.scheme == "webdavs" else "http") + "://" + url_host
    r.remote_path = r.remote_path or url_path
    r.require(r.endpoint, "webdav replica has no webdav-url")
    r.location = _joined(r.endpoint, r.remote_path)


def _resolve_nats(r: _Replica, parts: SplitResult) -> None:
    """The URL names the server and the bucket."""
    _user, url_host, url_path = _url_parts(parts)
    if r.url:
        r.endpoint = f"nats://{url_host}" if url_host else ""
        r.bucket = _key_prefix(url_path).strip("/") or r.bucket
    r.require(r.bucket, "nats replica has no bucket")
    r.location = f"nats://{r.endpoint.removeprefix('nats://')}/{r.bucket}"


_RESOLVERS: dict[str, Callable[[_Replica, SplitResult], None]] = {
    "s3": _resolve_s3,
    "gs": _resolve_bucket_store,
    "gcs": _resolve_bucket_store,
    "oss": _resolve_bucket_store,
    "abs": _resolve_abs,
    "sftp": _resolve_sftp,
    "webdav": _resolve_webdav,
    "nats": _resolve_nats,
}


def _unset(value: Any) -> bool:
    """Go's zero value: what SetDefaults treats as 'not given'."""
    return value is None or value == "" or value is False
