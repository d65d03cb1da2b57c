"""A config for a private Litestream that replicates one database alone (repair's init), node
for node from the original."""

from __future__ import annotations

from litefix.config._yaml import yaml
from litefix.config.constants import HINT, NARROWING_DROPS
from litefix.config.model import DatabaseConfig, LitestreamConfig, ReplicaConfig
from litefix.config.yaml_reader import _MAP_TAG, _SEQ_TAG, _STR_TAG
from litefix.errors import ConfigError


def narrowed_yaml(config: LitestreamConfig, db: DatabaseConfig, *, shape: str | None = None) -> str:
    """A config for a private Litestream that replicates `db` alone, with everything else kept.

    The top-level settings (credentials, logging, snapshot, levels …) and the database's own
    keys are copied node for node, so every value means what it meant in the original; paths
    become absolute (a private Litestream runs in another cwd); the keys in NARROWING_DROPS,
    which act outside the database, go. Values are already env-expanded: run Litestream on
    it with `-no-expand-env`, or a `$` inside a value would be expanded a second time.
    `shape` ("replica" or "replicas") rewrites the replica key for the installed binary.
    The text holds the original credentials: write it with mode 0600.
    """
    if config.node is None:
        raise ConfigError(f"{config.source_path}: has no databases to narrow", HINT)
    pairs = [(k, v) for k, v in config.node.value if _key(k) not in (*NARROWING_DROPS, "dbs")]
    pairs.append((_scalar("dbs"), yaml.SequenceNode(_SEQ_TAG, [_narrowed_db(db, shape, config)])))
    root = yaml.MappingNode(_MAP_TAG, pairs)
    body = yaml.serialize(root, Dumper=yaml.SafeDumper, allow_unicode=True, width=1 << 16)
    header = f"# {db.path} alone, narrowed by litefix from {config.source_path}; run with -no-expand-env\n"
    return header + body


def _scalar(value: str) -> yaml.ScalarNode:
    return yaml.ScalarNode(_STR_TAG, value)


def _narrowed_db(db: DatabaseConfig, shape: str | None, config: LitestreamConfig) -> yaml.MappingNode:
    dropped = {"path", "meta-path", "meta-dir", "replica", "replicas"}
    if db.from_dir:
        dropped |= {"dir", "pattern", "recursive", "watch"}
    assert db.node is not None
    pairs = [(k, v) for k, v in db.node.value if _key(k) not in dropped]
    pairs.insert(0, (_scalar("path"), _scalar(db.path)))
    keeps_meta = db.from_dir or "meta-path" in db.raw or ("meta-dir" in db.raw and not db.dir)
    if keeps_meta:
        pairs.insert(1, (_scalar("meta-path"), _scalar(db.meta_dir)))
    single = next((v for k, v in db.node.value if _key(k) == "replica"), None)
    from_single = [_narrowed_replica(r, db) for r in db.replicas if single is not None and r.node is single]
    from_list = [_narrowed_replica(r, db) for r in db.replicas if single is None or r.node is not single]
    if shape is None:  # as written, so each version still reads (or ignores) what it did
        if from_list:
            pairs.append((_scalar("replicas"), yaml.SequenceNode(_SEQ_TAG, from_list)))
        if from_single:
            pairs.append((_scalar("replica"), from_single[0]))
    elif shape == "replica":
        if len(db.replicas) > 1:
            raise ConfigError(
                f"{config.source_path}:{db.line}: {db.path} has {len(db.replicas)} replicas; "
                "a replica: (0.5) config takes one",
                "keep one replica for this database, or run Litestream 0.3 on the replicas: list",
            )
        if db.replicas:
            pairs.append((_scalar("replica"), (from_list + from_single)[0]))
    elif db.replicas:
        pairs.append((_scalar("replicas"), yaml.SequenceNode(_SEQ_TAG, from_list + from_single)))
    return yaml.MappingNode(_MAP_TAG, pairs)


def _narrowed_replica(replica: ReplicaConfig, db: DatabaseConfig) -> yaml.Node:
    """The replica's own node; a file replica gets its absolute path, a dir-derived one its own path or URL."""
    assert replica.node is not None
    if replica.type != "file" and not db.from_dir:
        return replica.node
    pairs = list(replica.node.value)
    if replica.type == "file":  # the URL's scheme may disagree with a stale `type:`, so both go
        pairs = [(k, v) for k, v in pairs if _key(k) not in ("type", "path", "url")]
        return yaml.MappingNode(
            _MAP_TAG, [(_scalar("type"), _scalar("file")), (_scalar("path"), _scalar(replica.path)), *pairs]
        )
    key, value = ("url", replica.url) if replica.url else ("path", replica.path)
    pairs = [(k, v) for k, v in pairs if _key(k) != key]
    return yaml.MappingNode(_MAP_TAG, [*pairs, (_scalar(key), _scalar(value))])


def _key(node: yaml.Node) -> str | None:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else None
