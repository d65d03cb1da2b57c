"""Names, defaults and the tables of replica settings both Litestream versions read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

JSON = Any

ENV_VAR = "LITESTREAM_CONFIG"
DEFAULT_CONFIG_PATH = "/etc/litestream.yml"
CWD_CONFIG_NAME = "litestream.yml"
RAILS_CONFIG_NAME = "config/litestream.yml"  # where Rails apps (and litestream-ruby) keep it
META_DIR_SUFFIX = "-litestream"

# How the config was found: litefix's --config, $LITESTREAM_CONFIG, ./litestream.yml, /etc.
HOW_FOUND = ("explicit", "env", "cwd", "rails", "default")

GENERATIONS = ("0.3", "0.5")
REPLICA_TYPES: Mapping[str, frozenset[str]] = {
    "0.3": frozenset({"file", "s3", "gcs", "abs", "sftp"}),
    "0.5": frozenset({"file", "s3", "gs", "abs", "sftp", "webdav", "nats", "oss"}),
}
ALL_REPLICA_TYPES = REPLICA_TYPES["0.3"] | REPLICA_TYPES["0.5"]

# Top-level keys a private, narrowed Litestream must not inherit: they act outside the
# database (run the app, bind the metrics port or control socket, ping a health monitor).
NARROWING_DROPS = ("exec", "addr", "mcp-addr", "socket", "heartbeat-url", "heartbeat-interval")

# Never shown in to_json(): Litestream reads them as plain config values.
# fmt: off
SECRET_KEYS = frozenset({
    "secret-access-key", "password", "account-key", "sas-token", "webdav-password", "jwt", "seed", "nkey", "token",
    "sse-customer-key", "age",
})
REDACTED = "<redacted>"

HINT = "fix the config; `litestream databases -config FILE` shows what Litestream makes of it"

# 0.5 copies these top-level replica settings into every replica that leaves them unset;
# 0.3 copies only the two credentials.
_INHERITED_05 = (
    "bucket", "region", "endpoint", "force-path-style", "skip-verify", "sync-interval", "validation-interval",
    "access-key-id", "secret-access-key", "account-name", "account-key", "host", "user", "password", "key-path",
    "webdav-url", "webdav-username", "webdav-password",
)
_INHERITED_03 = frozenset({"access-key-id", "secret-access-key"})
_REPLICA_STRINGS = (
    "type", "name", "path", "url", "bucket", "region", "endpoint", "access-key-id", "secret-access-key",
    "account-name", "account-key", "host", "user", "password", "key-path", "webdav-url", "webdav-username",
    "webdav-password",
)
_REPLICA_BOOLS = ("force-path-style", "skip-verify")
# The inheritable settings each replica type reads (the rest are inherited but unused).
_SETTINGS_BY_TYPE = {
    "file": (),
    "s3": ("bucket", "region", "endpoint", "force-path-style", "skip-verify", "access-key-id", "secret-access-key"),
    "gs": ("bucket",), "gcs": ("bucket",),
    "abs": ("bucket", "endpoint", "account-name", "account-key"),
    "oss": ("bucket", "region", "endpoint", "access-key-id", "secret-access-key"),
    "sftp": ("host", "user", "password", "key-path"),
    "webdav": ("webdav-url", "webdav-username", "webdav-password"),
    "nats": ("bucket", "password"),
}
_SETTINGS_USED = {t: ("sync-interval", "validation-interval", *keys) for t, keys in _SETTINGS_BY_TYPE.items()}
# What a replica's url already names, per type: Litestream refuses the key next to a url.
_URL_CLASHES = {
    "s3": ("bucket",), "gs": ("bucket",), "gcs": ("bucket",), "abs": ("bucket",), "oss": ("bucket",),
    "sftp": ("host",), "webdav": ("webdav-url",),
}
_REPLICA_DURATIONS = (
    "sync-interval", "snapshot-interval", "retention", "retention-check-interval", "validation-interval",
)
# Replica keys 0.5 no longer reads: snapshots and retention became top-level settings.
_REPLICA_KEYS_DROPPED_IN_05 = ("snapshot-interval", "retention", "retention-check-interval")
_GLOBAL_DURATIONS = (
    "l0-retention", "l0-retention-check-interval", "shutdown-sync-timeout", "shutdown-sync-interval",
    "heartbeat-interval",
)
# fmt: on
_IS_URL = re.compile(r"^\w+://")
