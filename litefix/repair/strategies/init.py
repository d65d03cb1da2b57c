"""Initialise through Litestream: let the real binary create its tables and a fresh generation or
snapshot from the current file, then stop it.

For a file Litestream never initialised, or whose local state no longer matches
(the meta dir is quarantined first), or after a replacement once the live file is
known to be sound. The user's config is narrowed to this one database, so the
private Litestream touches nothing else.
"""

from __future__ import annotations

import json

from litefix.config import narrowed_yaml, parse_replica_url
from litefix.model import RepairPlan
from litefix.repair.args import (
    CheckpointArgs,
    CopyIntoQuarantineArgs,
    QuarantineArgs,
    RunInitArgs,
    VerifyDatabaseArgs,
    VerifyReplicaArgs,
)
from litefix.repair.strategies import Refusal, Situation, prelude
from litefix.system.files import is_utf8


def config_text(s: Situation) -> str:
    binary = s.ctx.binary
    assert binary is not None
    shape = "replicas" if binary.generation == "0.3" else "replica"
    db_config = s.ctx.config_db
    if s.ctx.config is not None and db_config is not None and not s.ctx.options.replica:
        return narrowed_yaml(s.ctx.config, db_config, shape=shape)
    if s.ctx.options.replica:
        replica = parse_replica_url(s.ctx.options.replica)
        # Quoted (JSON strings are YAML): a path with a space, a newline or a `#` says exactly itself.
        url = replica.url or replica.location
        entry = f"url: {json.dumps(url)}" if replica.type != "file" else f"path: {json.dumps(replica.path)}"
        block = f"    replicas:\n      - {entry}\n" if shape == "replicas" else f"    replica:\n      {entry}\n"
        return f"dbs:\n  - path: {json.dumps(s.db)}\n{block}"
    raise Refusal("init runs Litestream with your config: pass --config (listing this database) or --replica URL")


def plan(s: Situation) -> RepairPlan:
    if s.ctx.header is None:
        raise Refusal(
            f"{s.db} is not a readable database; initialising it would back up damage: use --strategy restore"
        )
    if not s.live_file_sound():
        raise Refusal(
            f"{s.db} fails quick_check; initialising would make the damage the new backup: use --strategy restore"
        )
    binary = s.ctx.binary
    if binary is None:
        raise Refusal("init needs the litestream binary: install it or pass --litestream PATH")
    if not is_utf8(s.db):
        raise Refusal(
            f"Litestream cannot replicate {s.db}: its config is YAML, which is UTF-8, and this file's name is not; "
            "rename the database to a UTF-8 name"
        )
    replica = s.replica
    if replica is None:
        raise Refusal("init needs a replica: pass --config (listing this database) or --replica URL")
    text = config_text(s)
    steps = prelude(s)
    real = s.ctx.real_db or s.db
    backups = [real, f"{real}-wal", f"{real}-shm"]  # the -shm too: rollback is byte for byte
    steps.append(
        CopyIntoQuarantineArgs(backups, "init").step(
            "a byte copy of the database, -wal and -shm as they are now, for undo (the checkpoint and "
            "Litestream's tables are undone from it)"
        )
    )
    if s.ctx.wal_state.exists:
        steps.append(
            CheckpointArgs(s.db).step(
                "fold the -wal into the file, so Litestream sees a new WAL and takes a full snapshot instead of "
                "continuing from a WAL it last saw on the old file"
            )
        )
    meta = s.meta_dir
    if meta in s.local_paths():
        steps.append(
            QuarantineArgs([meta]).step(
                "the meta dir no longer describes this file; Litestream starts afresh without it"
            )
        )
    config = s.ctx.config.source_path if s.ctx.config else None
    common = (s.db, replica.to_json(), binary.path, config, s.source())
    steps += [
        RunInitArgs(
            *common,
            config_text=text,
            format=binary.generation or "",
            timeout=120.0,
            meta=meta,
        ).step("run the real Litestream on this database alone until its snapshot is on the replica, then stop it"),
        VerifyDatabaseArgs(s.db, require_tables=True).step("quick_check, and Litestream's tables exist"),
        VerifyReplicaArgs(*common).step("the replica's newest state equals the database, page for page"),
    ]
    return RepairPlan(
        s.db,
        "init",
        f"a new {'generation' if binary.generation == '0.3' else 'snapshot'} on {replica.location}",
        tuple(steps),
    )
