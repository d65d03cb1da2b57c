"""Replica URLs as each version parses them: file: URLs as Go re-serialises them, s3 provider hosts
(0.3 and 0.5 differ), access-point ARNs, and the canonical location litefix compares."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, unquote

from litefix.config.expand import go_clean

_VALID_ENCODED = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@\[\]%/]*$")


def _file_url_path(url: str) -> tuple[str, str]:
    """(path, query) of a file: URL as Go re-serialises it without its scheme, before expand()."""
    rest = url.split(":", 1)[1]
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    if not _VALID_ENCODED.match(rest):
        rest = quote(unquote(rest), safe="/$&+,:;=@")
    if fragment:
        rest += "#" + fragment
    return go_clean(rest), query


def _split_netloc(netloc: str) -> tuple[str, str, str]:
    """(user, password, host) without urllib's lower-casing of the host."""
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return "", "", netloc
    user, _, password = userinfo.partition(":")
    return unquote(user), unquote(password), host


def _s3_host_05(host: str) -> tuple[str, str, str, bool]:
    """0.5's s3.ParseHost: (bucket, region, endpoint, force_path_style)."""
    if ":" in host and ".com" not in host:
        bucket, dot, rest = host.partition(".")
        if dot:
            return bucket, "us-east-1", "http://" + rest, True
        return "", "", "http://" + host, True
    if m := re.match(r"^(.+)\.s3(?:\.([^.]+))?\.amazonaws\.com$", host):
        return m[1], m[2] or "", "", False
    if m := re.match(r"^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$", host):
        return m[1] or "", m[2], f"https://{m[2]}.digitaloceanspaces.com", False
    if m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$", host):
        return m[1] or "", m[2], f"https://s3.{m[2]}.backblazeb2.com", True
    if m := re.match(r"^(?:(.+)\.)?s3.filebase.com$", host):
        return m[1] or "", "", "s3.filebase.com", False
    if m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$", host):
        return m[1] or "", m[2], f"s3.{m[2]}.scw.cloud", False
    return host, "", "", False


def _s3_host_03(host_port: str) -> tuple[str, str, str, bool]:
    """0.3's s3.ParseHost: providers by host, the port carried over to the endpoint."""
    host, port = host_port, ""
    if m := re.match(r"^(.*):(\d*)$", host_port):
        host, port = m[1], m[2]
    scheme, region, endpoint, bucket = "https", "", "", ""
    if m := re.match(r"^(?:(.+)\.)?localhost$", host):
        bucket, region, scheme, endpoint = m[1] or "", "us-east-1", "http", "localhost"
    elif m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.backblazeb2.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"s3.{m[2]}.backblazeb2.com"
    elif m := re.match(r"^(?:(.+)\.)?s3.filebase.com$", host):
        bucket, endpoint = m[1] or "", "s3.filebase.com"
    elif m := re.match(r"^(?:(.+)\.)?([^.]+)\.digitaloceanspaces.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"{m[2]}.digitaloceanspaces.com"
    elif m := re.match(r"^(?:(.+)\.)?s3.([^.]+)\.scw\.cloud$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"s3.{m[2]}.scw.cloud"
    elif m := re.match(r"^(?:(.+)\.)?([^.]+)\.linodeobjects.com$", host):
        bucket, region, endpoint = m[1] or "", m[2], f"{m[2]}.linodeobjects.com"
    else:
        return host, "", "", False
    if port:
        endpoint += ":" + port
    return bucket, region, f"{scheme}://{endpoint}", True


def _is_local_endpoint(endpoint: str) -> bool:
    host = endpoint.lower().split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    return (
        host in ("localhost", "127.0.0.1")
        or host.startswith(("192.168.", "10.", "172.16.", "172.17.", "172.18.", "172.19.", "172.2", "172.30."))
        or host.startswith("172.31.")
        or host.endswith((".local", ".localhost"))
    )


def _path_style_provider(endpoint: str) -> bool:
    """0.5 forces path-style for Filebase, Backblaze, Supabase and MinIO-like host:port endpoints."""
    host = endpoint.lower().split("://", 1)[-1].split("/", 1)[0]
    if not host:
        return False
    if host == "s3.filebase.com" or host.endswith((".backblazeb2.com", ".supabase.co")):
        return True
    return ":" in host and not any(k in host for k in _KNOWN_CLOUDS)


_KNOWN_CLOUDS = (
    ".amazonaws.com",
    ".digitaloceanspaces.com",
    ".backblazeb2.com",
    ".filebase.com",
    ".scw.cloud",
    ".r2.cloudflarestorage.com",
    "tigris.dev",
    "t3.storage.dev",
    ".supabase.co",
)
# fmt: on
_OSS_HOST = re.compile(r"^(?:([^.]+)\.)?oss-(.+?)(?:-internal)?\.aliyuncs\.com$")


@dataclass(frozen=True)
class _S3Url:
    """What 0.5 reads from an s3:// URL, and what 0.3 would have read from its host."""

    bucket: str
    region: str
    endpoint: str
    force_path_style: bool
    skip_verify: bool | None
    prefix: str
    arn: bool
    as_03: tuple[str, str, str, bool]


def _s3_from_url(url: str, host: str, url_path: str, query_text: str) -> _S3Url:
    query = {k: v[0] for k, v in parse_qs(query_text).items()}
    arn = host.lower().startswith("arn:")
    if arn:
        # s3://arn:aws:s3:REGION:ACCOUNT:accesspoint/NAME/prefix: the access point is the bucket.
        text = url.split("://", 1)[1].split("?", 1)[0]
        marker = text.lower().find(":accesspoint/")
        name_end = text.find("/", marker + len(":accesspoint/")) if marker >= 0 else -1
        bucket, key = (text, "") if name_end < 0 else (text[:name_end], text[name_end + 1 :])
        fields = bucket.split(":", 5)
        region, endpoint, force_path_style = fields[3] if len(fields) >= 4 else "", "", False
        prefix = _location_key(key)
    else:
        bucket, region, endpoint, force_path_style = _s3_host_05(host)
        prefix = _key_prefix(url_path)
    if q := query.get("endpoint"):
        if not q.startswith(("http://", "https://")):
            q = ("http://" if _is_local_endpoint(q) else "https://") + q
        endpoint, force_path_style = q, query.get("forcePathStyle") != "false"
    region = query.get("region") or region
    if "forcePathStyle" in query:
        force_path_style = query["forcePathStyle"] == "true"
    skip_verify = query["skipVerify"] == "true" if "skipVerify" in query else None
    return _S3Url(bucket, region, endpoint, force_path_style, skip_verify, prefix, arn, _s3_host_03(host))


def _joined(base: str, key: str) -> str:
    """A canonical location: the key cleaned, no leading, trailing or doubled slashes."""
    key = _location_key(key)
    return f"{base}/{key}" if key else base


def _key_prefix(url_path: str) -> str:
    """Go's strings.TrimPrefix(path.Clean(u.Path), "/"): note "" becomes "."."""
    return go_clean(url_path).removeprefix("/")


def _location_key(prefix: str) -> str:
    key = go_clean("/" + prefix).strip("/")
    return "" if key == "." else key
