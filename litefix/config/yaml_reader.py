"""The YAML walk: composed nodes, so every value keeps its line and its source text, decoded with
yaml.v2 semantics (first document, last duplicate key wins, any scalar's text for a string field)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NoReturn

from litefix.config._yaml import yaml
from litefix.config.constants import (
    _GLOBAL_DURATIONS,
    _INHERITED_05,
    _REPLICA_BOOLS,
    _REPLICA_DURATIONS,
    _REPLICA_STRINGS,
    HINT,
    JSON,
)
from litefix.config.expand import (
    _is_absolute_or_home,
    default_meta_dir,
    expand_path,
    parse_go_duration,
    strip_sqlite_prefix,
)
from litefix.config.model import DatabaseConfig, Incompatibility, LitestreamConfig, ReplicaConfig
from litefix.config.resolve import _build_replica
from litefix.errors import ConfigError

_STR_TAG = "tag:yaml.org,2002:str"
_NULL_TAG = "tag:yaml.org,2002:null"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_YAML11_EXTRA_BOOLS = {"y": True, "Y": True, "n": False, "N": False}  # yaml.v2 has them, PyYAML not

_Pairs = dict[str, tuple[yaml.Node, yaml.Node]]


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


class _Reader:
    """Walks the composed YAML nodes so that every value keeps its line and its source text."""

    def __init__(self, source: str, cwd: str) -> None:
        self.source = source
        self.cwd = cwd
        self.loader: yaml.SafeLoader | None = None

    def fail(self, line: int, message: str, hint: str = HINT) -> NoReturn:
        prefix = f"{self.source}:{line}: " if line else f"{self.source}: "
        raise ConfigError(prefix + message, hint)

    # -- scalars, each as yaml.v2 decodes it into the Go field's type

    def pairs(self, node: yaml.MappingNode) -> _Pairs:
        out: _Pairs = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                out[str(key.value)] = (key, value)  # the last duplicate wins, as in yaml.v2
        return out

    def string(self, pairs: _Pairs, key: str) -> str:
        if key not in pairs:
            return ""
        node = pairs[key][1]
        if not isinstance(node, yaml.ScalarNode):
            self.fail(_line(node), f"{key} must be a string, not {_kind(node)}")
        return "" if node.tag == _NULL_TAG else str(node.value)

    def boolean(self, pairs: _Pairs, key: str) -> bool | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _BOOL_TAG:
                return bool(self._construct(node))
            if node.style is None and node.value in _YAML11_EXTRA_BOOLS:
                return _YAML11_EXTRA_BOOLS[node.value]
        self.fail(_line(node), f"{key} must be true or false, not {_kind(node)}")

    def integer(self, pairs: _Pairs, key: str) -> int | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
            return int(self._construct(node))
        self.fail(_line(node), f"{key} must be a whole number, not {_kind(node)}")

    def duration(self, pairs: _Pairs, key: str) -> float | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _INT_TAG:
                return int(self._construct(node)) / 1e9  # yaml.v2: a bare number is nanoseconds
            if node.tag == _FLOAT_TAG:
                return int(self._construct(node)) / 1e9
            if node.tag == _STR_TAG:
                try:
                    return parse_go_duration(str(node.value))
                except ValueError:
                    pass
        self.fail(
            _line(node),
            f"{key}: {_kind(node)} is not a duration",
            "write a Go duration such as 100ms, 1s, 1m30s or 24h (units ns us ms s m h; no days)",
        )

    def mapping(self, pairs: _Pairs, key: str) -> yaml.MappingNode | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"{key} must be a mapping, not {_kind(node)}")
        return node

    def sequence(self, pairs: _Pairs, key: str) -> yaml.SequenceNode | None:
        if key not in pairs or _is_null(pairs[key][1]):
            return None
        node = pairs[key][1]
        if not isinstance(node, yaml.SequenceNode):
            self.fail(_line(node), f"{key} must be a list, not {_kind(node)}")
        return node

    def _construct(self, node: yaml.Node) -> Any:
        assert self.loader is not None
        return self.loader.construct_object(node, deep=True)

    # -- structure

    def read(self, text: str) -> LitestreamConfig:
        loader = yaml.SafeLoader(text)
        self.loader = loader
        try:
            try:
                root = loader.get_node() if loader.check_node() else None  # the first document only
                raw = loader.construct_document(root) if root is not None else None  # also flattens `<<:` merges
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                line = int(mark.line) + 1 if mark else 0
                self.fail(line, f"invalid YAML: {exc.problem or exc.context}")
            except yaml.YAMLError as exc:
                self.fail(0, f"invalid YAML: {exc}")
            if root is None or _is_null(root):
                return LitestreamConfig(self.source, "explicit", "none", (), {}, cwd=self.cwd)
            if not isinstance(root, yaml.MappingNode):
                self.fail(_line(root), f"the top level must be a mapping with a dbs: list, not {_kind(root)}")
            return self._config(root, raw if isinstance(raw, dict) else {})
        finally:
            loader.dispose()

    def _config(self, root: yaml.MappingNode, raw: dict[str, JSON]) -> LitestreamConfig:
        top = self.pairs(root)
        notes: list[Incompatibility] = []
        defaults = self._global_replica_settings(top)
        logging = self.mapping(top, "logging")
        log = self.pairs(logging) if logging else {}
        snapshot = self.mapping(top, "snapshot")
        snap = self.pairs(snapshot) if snapshot else {}
        levels: list[float] = []
        levels_node = self.sequence(top, "levels")
        for item in levels_node.value if levels_node else []:
            if not isinstance(item, yaml.MappingNode):
                self.fail(_line(item), f"each levels: entry must be a mapping with an interval, not {_kind(item)}")
            levels.append(self.duration(self.pairs(item), "interval") or 0.0)
        for key in _GLOBAL_DURATIONS:
            self.duration(top, key)
        retention = top.get("retention", (None, None))[1]
        if isinstance(retention, yaml.ScalarNode) and not _is_null(retention):
            notes.append(Incompatibility("0.5", _line(retention), "0.5 wants retention: {enabled: …} here"))
        dbs_node = self.sequence(top, "dbs")
        dbs: list[DatabaseConfig] = []
        seen: dict[str, int] = {}
        for entry in dbs_node.value if dbs_node else []:
            db = self._database(entry, defaults, raw_entry=self._construct(entry))
            if not db.dir:
                if db.path in seen:
                    message = f"{db.path} is listed twice (first at line {seen[db.path]}); 0.5.17 refuses that"
                    db = replace(db, notes=(*db.notes, Incompatibility("0.5", db.line, message)))
                seen.setdefault(db.path, db.line)
            dbs.append(db)
        shapes: set[str] = set()
        for db in dbs:
            shapes |= {"replica", "replicas"} if db.shape == "both" else {db.shape} if db.shape else set()
        shape = "none" if not shapes else shapes.pop() if len(shapes) == 1 else "mixed"
        return LitestreamConfig(
            source_path=self.source,
            how_found="explicit",
            shape=shape,
            dbs=tuple(dbs),
            raw=raw,
            cwd=self.cwd,
            addr=self.string(top, "addr"),
            exec=self.string(top, "exec"),
            log_level=self.string(log, "level"),
            log_type=self.string(log, "type"),
            snapshot_interval=self.duration(snap, "interval"),
            snapshot_retention=self.duration(snap, "retention"),
            levels=tuple(levels),
            notes=tuple(notes),
            node=root,
        )

    def _global_replica_settings(self, pairs: _Pairs) -> dict[str, Any]:
        """0.5's top-level ReplicaSettings, the defaults every replica inherits."""
        values: dict[str, Any] = {}
        for key in _INHERITED_05:
            if key in _REPLICA_BOOLS:
                values[key] = self.boolean(pairs, key)
            elif key in _REPLICA_DURATIONS:
                values[key] = self.duration(pairs, key)
            else:
                values[key] = self.string(pairs, key)
        return values

    def _database(self, node: yaml.Node, defaults: Mapping[str, Any], raw_entry: Any) -> DatabaseConfig:
        if _is_null(node):
            self.fail(_line(node), "empty database entry (Litestream crashes on it)")
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"a database entry must be a mapping with a path, not {_kind(node)}")
        line = _line(node)
        notes: list[Incompatibility] = []
        db = self.pairs(node)
        written, directory = self.string(db, "path"), self.string(db, "dir")
        if not written and not directory:
            self.fail(line, "database entry has no path")
        if written and directory:
            notes.append(Incompatibility("0.5", line, "0.5 refuses both path and dir on one entry (0.3 uses path)"))
        is_dir = not written
        pattern = self.string(db, "pattern")
        if is_dir and not pattern:
            self.fail(line, f'dir entry {directory!r} has no pattern (such as "*.db")')
        if is_dir:
            notes.append(Incompatibility("0.3", line, "0.3 has no dir: entries; it would take its cwd as the database"))
        shown = written or directory
        if strip_sqlite_prefix(shown) != shown:
            notes.append(Incompatibility("0.3", line, f"0.3 does not strip the sqlite:// prefix of {shown}"))
        path = expand_path(shown, self.cwd)
        meta_path, meta_dir_key = self.string(db, "meta-path"), self.string(db, "meta-dir")
        if meta_path and meta_dir_key:
            notes.append(Incompatibility("0.5", line, "0.5 refuses both meta-path and meta-dir"))
        if meta_dir_key and not is_dir:
            notes.append(Incompatibility("0.5", line, "0.5 refuses meta-dir on a path entry (use meta-path)"))
            notes.append(Incompatibility("0.3", line, "0.3 ignores meta-dir (it reads meta-path)"))
        if meta_path.startswith("~"):
            notes.append(Incompatibility("0.3", line, f"0.3 does not expand ~ in meta-path {meta_path}"))
        if is_dir:
            base = meta_dir_key or meta_path
            meta_dir = expand_path(base, self.cwd) if base else ""
        else:
            meta_dir = expand_path(meta_path, self.cwd) if meta_path else default_meta_dir(path)
        max_cp = self.integer(db, "max-checkpoint-page-count")
        if max_cp is not None:
            notes.append(Incompatibility("0.5", line, "0.5 ignores max-checkpoint-page-count"))
        snapshot = self.mapping(db, "snapshot")
        snap = self.pairs(snapshot) if snapshot else {}
        self.integer(db, "truncate-page-n")
        self.integer(db, "max-sync-wal-bytes")

        replicas: list[ReplicaConfig] = []
        list_node = self.sequence(db, "replicas")
        single = self.mapping(db, "replica")
        has_list, has_single = "replicas" in db, "replica" in db
        shape = "both" if has_list and has_single else "replicas" if has_list else "replica" if has_single else None
        for item in list_node.value if list_node else []:
            replicas.append(self._replica(item, defaults))
        if single is not None:
            replica = self._replica(single, defaults)
            message = "0.3 ignores replica: (it reads the replicas: list), so it does not replicate here"
            ignored = Incompatibility("0.3", replica.line, message)
            replicas.append(replace(replica, notes=(*replica.notes, ignored)))
        if has_list and has_single:
            notes.append(Incompatibility("0.5", line, "0.5 refuses replica: and replicas: on one database"))
        elif list_node is not None and len(list_node.value) > 1:
            notes.append(Incompatibility("0.5", line, f"0.5 allows one replica per database, not {len(replicas)}"))
        if not replicas:
            notes.append(Incompatibility("0.5", line, "0.5 refuses a database without a replica"))
            notes.append(Incompatibility("0.3", line, "no replica: 0.3 watches this database but copies it nowhere"))

        return DatabaseConfig(
            path=path,
            meta_dir=meta_dir,
            line=line,
            replicas=tuple(replicas),
            shape=shape,
            written_path=shown,
            relative=not _is_absolute_or_home(shown),
            monitor_interval=self.duration(db, "monitor-interval"),
            checkpoint_interval=self.duration(db, "checkpoint-interval"),
            busy_timeout=self.duration(db, "busy-timeout"),
            min_checkpoint_page_count=self.integer(db, "min-checkpoint-page-count"),
            max_checkpoint_page_count=max_cp,
            snapshot_interval=self.duration(snap, "interval"),
            snapshot_retention=self.duration(snap, "retention"),
            dir=is_dir,
            pattern=pattern,
            recursive=bool(self.boolean(db, "recursive")),
            watch=bool(self.boolean(db, "watch")),
            notes=tuple(notes),
            raw=raw_entry if isinstance(raw_entry, dict) else {},
            node=node,
        )

    def _replica(self, node: yaml.Node, defaults: Mapping[str, Any]) -> ReplicaConfig:
        if _is_null(node):
            self.fail(_line(node), "empty replica entry (Litestream crashes on it)")
        if not isinstance(node, yaml.MappingNode):
            self.fail(_line(node), f"a replica must be a mapping with a type, path or url, not {_kind(node)}")
        pairs = self.pairs(node)
        given: dict[str, Any] = {k: self.string(pairs, k) for k in _REPLICA_STRINGS}
        given.update({k: self.boolean(pairs, k) for k in _REPLICA_BOOLS})
        given.update({k: self.duration(pairs, k) for k in _REPLICA_DURATIONS})
        raw = self._construct(node)
        return _build_replica(
            given,
            defaults,
            raw=raw if isinstance(raw, dict) else {},
            line=_line(node),
            cwd=self.cwd,
            fail=self.fail,
            node=node,
        )
