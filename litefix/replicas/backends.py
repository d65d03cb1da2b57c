"""One storage constructor per replica type, taking credentials and settings the way Litestream does.

Litestream builds one client per replica type (`s3.NewReplicaClient`, `gs.…`, `abs.…`); so does this
module, over `obstore`. Types litefix does not read itself (sftp, webdav, nats, oss) return None and
stay with the `litestream` binary.

- **s3** (and R2, B2, Tigris, MinIO…): the replica's `access-key-id`/`secret-access-key`, else
  `LITESTREAM_ACCESS_KEY_ID`/`LITESTREAM_SECRET_ACCESS_KEY`, else `AWS_ACCESS_KEY_ID`/
  `AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else the client's default chain (profile, web
  identity, container and instance metadata). `region` else `AWS_REGION`/`AWS_DEFAULT_REGION` else
  us-east-1; `endpoint`; `force-path-style`; `skip-verify`.
- **gs/gcs**: `GOOGLE_APPLICATION_CREDENTIALS`; `STORAGE_EMULATOR_HOST` points the Go client (and
  this one) at an emulator, unauthenticated.
- **abs**: `account-name`/`account-key` from the replica, else `LITESTREAM_AZURE_ACCOUNT_KEY`
  (as Litestream reads it), else `AZURE_STORAGE_ACCOUNT_KEY`/`AZURE_STORAGE_SAS_TOKEN`; `endpoint`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from litefix.config import ReplicaConfig
from litefix.replicas.storage import (
    CONNECT_TIMEOUT,
    REQUEST_TIMEOUT,
    RETRY_TIMEOUT,
    FileStorage,
    ObjectStorage,
    Storage,
    StorageError,
)

NATIVE_TYPES = frozenset({"file", "s3", "gs", "gcs", "abs"})


def open_storage(replica: ReplicaConfig, env: Mapping[str, str] | None = None) -> Storage | None:
    """The storage of this replica, or None when litefix leaves its type to the binary."""
    env = os.environ if env is None else env
    if replica.type == "file":
        return FileStorage(replica.path, replica.location)
    if replica.type not in NATIVE_TYPES:
        return None
    try:
        if replica.type == "s3":
            return _s3(replica, env)
        if replica.type in ("gs", "gcs"):
            return _gcs(replica, env)
        return _azure(replica, env)
    except StorageError:
        raise
    except Exception as exc:  # the client rejected a setting: a bad endpoint URL, an unknown region …
        from litefix.replicas.storage import classify

        raise classify(exc, None, f"open {replica.location}") from None


def _client_options(endpoint: str, skip_verify: bool) -> dict[str, Any]:
    return {
        "allow_http": endpoint.startswith("http://"),
        "allow_invalid_certificates": skip_verify,
        "connect_timeout": CONNECT_TIMEOUT,
        "timeout": REQUEST_TIMEOUT,
    }


def _retry() -> dict[str, Any]:
    from datetime import timedelta

    return {
        "max_retries": 1,
        "retry_timeout": RETRY_TIMEOUT,
        "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=1), "base": 2},
    }


def _prefix(replica: ReplicaConfig) -> str | None:
    prefix = replica.path.strip("/")
    return prefix if prefix and prefix != "." else None


def s3_credentials(replica: ReplicaConfig, env: Mapping[str, str]) -> tuple[str, str, str, str]:
    """(access key, secret, session token, where they came from), in Litestream's order."""
    if replica.access_key_id and replica.secret_access_key:
        return replica.access_key_id, replica.secret_access_key, "", "the replica's access-key-id"
    if env.get("LITESTREAM_ACCESS_KEY_ID") and env.get("LITESTREAM_SECRET_ACCESS_KEY"):
        return env["LITESTREAM_ACCESS_KEY_ID"], env["LITESTREAM_SECRET_ACCESS_KEY"], "", "LITESTREAM_ACCESS_KEY_ID"
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        return env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN", ""), "AWS_*"
    return "", "", "", "the default AWS chain"


def _s3(replica: ReplicaConfig, env: Mapping[str, str]) -> ObjectStorage:
    from obstore.store import S3Store

    make: Any = S3Store  # the TypedDict configs are built from the replica's settings at run time

    key, secret, token, source = s3_credentials(replica, env)
    region = replica.region or env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
    config: dict[str, Any] = {"region": region}
    if key:
        config.update(access_key_id=key, secret_access_key=secret)
        if token:
            config["session_token"] = token
    endpoint = replica.endpoint
    if endpoint and not endpoint.startswith(("http://", "https://")):
        endpoint = "https://" + endpoint
    path_style = bool(replica.force_path_style)
    if endpoint:
        if path_style:
            config["endpoint"] = endpoint
        else:  # the client wants the virtual-hosted endpoint with the bucket in it
            scheme, _, host = endpoint.partition("://")
            config["endpoint"] = f"{scheme}://{replica.bucket}.{host}"
    config["virtual_hosted_style_request"] = not path_style
    store = make(
        replica.bucket,
        prefix=_prefix(replica),
        config=config,
        client_options=_client_options(endpoint or "https://", replica.skip_verify),
        retry_config=_retry(),
    )
    return ObjectStorage(store, replica.location, "s3", endpoint or f"AWS S3 ({region})", replica.bucket, source)


def _gcs(replica: ReplicaConfig, env: Mapping[str, str]) -> ObjectStorage:
    from obstore.store import GCSStore

    make: Any = GCSStore  # the TypedDict configs are built from the replica's settings at run time

    config: dict[str, Any] = {}
    emulator = env.get("STORAGE_EMULATOR_HOST", "")
    endpoint = ""
    if emulator:
        endpoint = emulator if emulator.startswith(("http://", "https://")) else "http://" + emulator
        config.update(base_url=endpoint.rstrip("/"), skip_signature=True)
    elif env.get("GOOGLE_APPLICATION_CREDENTIALS"):
        config["application_credentials"] = env["GOOGLE_APPLICATION_CREDENTIALS"]
    source = (
        "none (STORAGE_EMULATOR_HOST)"
        if emulator
        else "GOOGLE_APPLICATION_CREDENTIALS"
        if "application_credentials" in config
        else "the default Google chain"
    )
    store = make(
        replica.bucket,
        prefix=_prefix(replica),
        config=config,
        client_options=_client_options(endpoint or "https://", replica.skip_verify),
        retry_config=_retry(),
    )
    return ObjectStorage(
        store, replica.location, replica.type, endpoint or "Google Cloud Storage", replica.bucket, source
    )


def _azure(replica: ReplicaConfig, env: Mapping[str, str]) -> ObjectStorage:
    from obstore.store import AzureStore

    make: Any = AzureStore  # the TypedDict configs are built from the replica's settings at run time

    account = replica.account_name or env.get("AZURE_STORAGE_ACCOUNT_NAME", "")
    key = replica.account_key or env.get("LITESTREAM_AZURE_ACCOUNT_KEY") or env.get("AZURE_STORAGE_ACCOUNT_KEY", "")
    config: dict[str, Any] = {}
    if account:
        config["account_name"] = account
    source = "the default Azure chain"
    if key:
        config["account_key"] = key
        source = "the replica's account-key" if replica.account_key else "the account key in the environment"
    elif env.get("AZURE_STORAGE_SAS_TOKEN"):
        config["sas_key"] = env["AZURE_STORAGE_SAS_TOKEN"]
        source = "AZURE_STORAGE_SAS_TOKEN"
    endpoint = replica.endpoint
    if endpoint:
        # Litestream's endpoint is the service URL; Azurite's carries the account in its path.
        config["endpoint"] = endpoint.rstrip("/")
    store = make(
        replica.bucket,
        prefix=_prefix(replica),
        config=config,
        client_options=_client_options(endpoint or "https://", replica.skip_verify),
        retry_config=_retry(),
    )
    where = endpoint or (f"https://{account}.blob.core.windows.net" if account else "Azure Blob Storage")
    return ObjectStorage(store, replica.location, "abs", where, replica.bucket, source)
