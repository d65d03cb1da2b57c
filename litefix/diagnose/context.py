"""What one diagnosis knows so far: paths, options, and every file read at most once.

Inspectors ask the context for the database header, the WAL scan or the schema;
the first one to ask pays for the read and the rest reuse it. That keeps the
"cheap before expensive" order honest and stops two inspectors reading one file.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from litefix.errors import describe_os_error
from litefix.formats.shm import WalIndex, read_shm
from litefix.formats.sqlite_header import HEADER_SIZE, DatabaseHeader, HeaderError, parse_header
from litefix.formats.wal import WalScan, read_wal_consistent
from litefix.system.litestream import Binary, find_binary
from litefix.system.procfs import ProcessScan, find_open_descriptors

if TYPE_CHECKING:  # the config module (and YAML) load only when a config is in play
    from litefix.config import DatabaseConfig, LitestreamConfig
    from litefix.diagnose.inspectors import Report
    from litefix.system.disk import Filesystem
    from litefix.system.locks import LockSample
    from litefix.system.schema import Schema


class Skip(Exception):
    """Raised by an inspector that has nothing to look at; the reason is reported."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Options:
    integrity: str | None = None  # None, "quick" or "full"
    config: str | None = None
    litestream: str | None = None
    replica: str | None = None
    compare: bool = False
    verify_restore: bool = False
    max_lag: float = 60.0
    max_age: float = 86400.0
    loaded_config: LitestreamConfig | None = None

    @classmethod
    def from_cli(cls, **values: Any) -> Options:
        """Options from command-line values; an explicit --config or --litestream is checked now,
        so that a typo is a usage error (exit 2) rather than a failed inspector."""
        loaded = None
        if values.get("config"):
            from litefix.config import load_config

            loaded = load_config(values["config"])
        if values.get("litestream"):
            find_binary(values["litestream"])
        return cls(loaded_config=loaded, **values)


@dataclass(frozen=True)
class FileState:
    """A file as found: what lstat/stat said, or that it is not there."""

    path: str
    exists: bool
    is_symlink: bool = False
    symlink_target: str | None = None
    kind: str = "missing"  # file, directory, symlink (dangling), other, missing
    size: int = 0
    inode: int = 0
    device: int = 0
    mtime_ns: int = 0

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"path": self.path, "kind": self.kind}
        if self.exists:
            out.update(size=self.size, inode=self.inode)
        if self.is_symlink:
            out["symlink_target"] = self.symlink_target
        return out


def file_state(path: str) -> FileState:
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return FileState(path, exists=False)
    except OSError as exc:
        raise describe_os_error(exc, path) from exc
    is_link = stat.S_ISLNK(lst.st_mode)
    target = os.readlink(path) if is_link else None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FileState(path, exists=False, is_symlink=True, symlink_target=target, kind="symlink")
    except OSError as exc:
        raise describe_os_error(exc, path) from exc
    if stat.S_ISREG(st.st_mode):
        kind = "file"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    else:
        kind = "other"
    return FileState(path, True, is_link, target, kind, st.st_size, st.st_ino, st.st_dev, st.st_mtime_ns)


@dataclass(frozen=True)
class SchemaView:
    """The schema as a reader that applies the committed WAL sees it, or why it could not be read."""

    schema: Schema | None
    read_by: str = ""  # "pages" (b-tree pages, a few reads) or "sqlite" (the read-only VFS)
    error: str | None = None  # SQLite cannot read the schema with the -wal applied
    view: str = "database file with its committed -wal frames"
    inconclusive: str | None = None  # the -wal changed while it was read (a live writer)


class Context:
    """What every inspector of one diagnosis shares, each value derived once and typed.

    Inspectors never hand each other values: whatever two of them need (the config entry, the
    meta dir, the schema, whether a Litestream runs) is a property here, computed on first use,
    so any order of inspectors gives the same findings.
    """

    def __init__(self, db: str | os.PathLike[str], options: Options | None = None) -> None:
        self.db = os.path.abspath(os.fspath(db))
        self.options = options or Options()

    # --- paths --------------------------------------------------------------------------
    @cached_property
    def real_db(self) -> str:
        """SQLite resolves symlinks, so the -wal and -shm live next to the target."""
        return os.path.realpath(self.db)

    @property
    def wal_path(self) -> str:
        return self.real_db + "-wal"

    @property
    def shm_path(self) -> str:
        return self.real_db + "-shm"

    @property
    def journal_path(self) -> str:
        return self.real_db + "-journal"

    @property
    def default_meta_dir(self) -> str:
        """Litestream's default meta path for this database: `.<name>-litestream` beside it."""
        directory, name = os.path.split(self.real_db)
        return os.path.join(directory, f".{name}-litestream")

    @property
    def meta_dir(self) -> str:
        """Where Litestream keeps this database's state: the config's meta path when the config lists
        the database and sets one, else the default. The one answer every inspector and planner uses."""
        explicit = self.config_db.meta_dir if self.config_db is not None else None
        return str(explicit) if explicit else self.default_meta_dir

    def sidecar_paths(self) -> dict[str, str]:
        """Every file SQLite or a Litestream restore may leave beside the database."""
        base = self.real_db
        names = ("-wal", "-shm", "-journal", ".tmp", ".tmp-wal", ".tmp-shm")
        return {suffix: base + suffix for suffix in names}

    # --- cached reads -----------------------------------------------------------------------
    @cached_property
    def db_state(self) -> FileState:
        return file_state(self.db)

    @cached_property
    def wal_state(self) -> FileState:
        return file_state(self.wal_path)

    @cached_property
    def shm_state(self) -> FileState:
        return file_state(self.shm_path)

    @cached_property
    def header_bytes(self) -> bytes:
        try:
            with open(self.db, "rb", buffering=0) as fh:
                return fh.read(HEADER_SIZE)
        except OSError as exc:
            raise describe_os_error(exc, self.db) from exc

    @cached_property
    def header(self) -> DatabaseHeader | None:
        """The parsed header, or None when there is no database file to parse."""
        if self.db_state.kind != "file" or self.db_state.size == 0:
            return None
        try:
            return parse_header(self.header_bytes)
        except HeaderError:
            return None

    def require_header(self) -> DatabaseHeader:
        if self.header is None:
            raise Skip("no readable SQLite database at the path")
        return self.header

    @cached_property
    def wal(self) -> WalScan | None:
        """The -wal as one consistent read saw it (SQLite and Litestream write it while we look): see
        `read_wal_consistent`; `inconclusive` says when no read was consistent."""
        if self.wal_state.kind != "file":
            return None
        try:
            return read_wal_consistent(self.wal_path, collect_pages=True)
        except FileNotFoundError:
            return None  # removed since it was listed: the last connection closed
        except OSError as exc:
            raise describe_os_error(exc, self.wal_path) from exc

    @cached_property
    def shm(self) -> WalIndex | None:
        if self.shm_state.kind != "file" or self.shm_state.size == 0:
            return None
        try:
            return read_shm(self.shm_path)
        except OSError as exc:
            raise describe_os_error(exc, self.shm_path) from exc

    @cached_property
    def config(self) -> LitestreamConfig | None:
        """The Litestream config in play (the CLI loads an explicit one first, so its errors exit 2)."""
        if self.options.loaded_config is not None:
            return self.options.loaded_config
        from litefix.config import discover_config, find_config_path

        if find_config_path(self.options.config) is None:
            return None
        return discover_config(self.options.config)

    @cached_property
    def binary(self) -> Binary | None:
        """The litestream this machine would run (--litestream, LITEFIX_LITESTREAM, PATH)."""
        return find_binary(self.options.litestream)

    @cached_property
    def processes(self) -> ProcessScan:
        """Every process holding the database, its -wal or its -shm (one walk of /proc)."""
        paths = {self.db, self.real_db, self.wal_path, self.shm_path}
        return find_open_descriptors(paths)

    def wal_with_pages(self) -> WalScan | None:
        """The WAL scan with its page map (pgno -> newest committed frame), scanning again if needed."""
        scan = self.wal
        if scan is not None and scan.page_frames is None:
            scan = read_wal_consistent(self.wal_path, collect_pages=True)
        return scan

    def wal_changed_since_scan(self) -> bool:
        """True when a writer touched the -wal after we read it: comparisons are then unsafe."""
        now = file_state(self.wal_path)
        scan = self.wal
        if scan is not None and scan.identity is not None:  # what the kept read saw, not the first stat
            inode, size, mtime_ns, _device = scan.identity
            return (now.exists, now.inode, now.size, now.mtime_ns) != (True, inode, size, mtime_ns)
        before = self.wal_state
        return (now.exists, now.size, now.mtime_ns, now.inode) != (
            before.exists,
            before.size,
            before.mtime_ns,
            before.inode,
        )

    # --- derived once, shared by inspectors and planners -------------------------------------
    @cached_property
    def config_db(self) -> DatabaseConfig | None:
        """This database's entry in the config in play, or None when it is not listed (or no config)."""
        return self.config.find_db(self.db) if self.config is not None else None

    @cached_property
    def litestream_running(self) -> bool:
        """A Litestream process holds the database, its -wal or its -shm right now."""
        scan = self.processes
        return not scan.error and any(h.is_litestream for h in scan.holders)

    @cached_property
    def wal_report(self) -> Report:
        """The -wal's checks (header, checksum chain, does it belong to this file), run once."""
        from litefix.diagnose.inspectors.wal import check_wal

        return check_wal(self)

    @property
    def wal_suspect(self) -> bool:
        """The -wal has findings: readers of the schema should let SQLite judge it, not the page reader."""
        return bool(self.wal_report.findings)

    @cached_property
    def local_state_report(self) -> Report:
        """Litestream's local state in the meta dir against the live -wal, read once."""
        from litefix.diagnose.inspectors.meta_dir import check_meta_dir

        return check_meta_dir(self)

    @property
    def unsynced_wal_bytes(self) -> int | None:
        """Committed -wal bytes Litestream's local state has not taken yet (None: not comparable)."""
        value = self.local_state_report.facts.get("unsynced_wal_bytes")
        return int(value) if isinstance(value, int) else None

    @cached_property
    def schema_view(self) -> SchemaView:
        """The schema, read from the b-tree pages (a few reads), or by SQLite when the -wal is suspect or
        the pages cannot be walked; when SQLite cannot read it with the -wal applied, the file alone."""
        from litefix.formats.btree import BtreeError
        from litefix.system.schema import SchemaError, read_schema, read_schema_from_pages

        header = self.require_header()
        try:
            try:
                if self.wal_suspect:
                    raise BtreeError("the -wal has findings: let SQLite read it")
                return SchemaView(read_schema_from_pages(self.real_db, header, self.wal_with_pages()), "pages")
            except (BtreeError, OSError):
                return SchemaView(read_schema(self.db), "sqlite")
        except SchemaError as exc:
            if self.wal_changed_since_scan():
                return SchemaView(None, inconclusive=f"the -wal changed while it was read ({exc})")
            try:  # the file on its own may still say what it is
                alone = read_schema(self.db, ignore_wal=True)
            except SchemaError:
                alone = None
            return SchemaView(alone, "sqlite", str(exc), "database file alone (its -wal cannot be applied)")

    # --- locks, disk and the binary's SQLite (issue 14) -------------------------------------
    def sample_locks(self) -> LockSample:
        """SQLite's locks on this database right now (/proc/locks and the -shm read marks), read
        without taking any; each call is a new sample, for inspectors that must see a lock last."""
        from litefix.system.locks import take_sample

        vouched: dict[int, list[int]] = {}
        for holder in self.processes.holders:
            for d in holder.descriptors:
                vouched.setdefault(d.inode, []).append(holder.pid)
        return take_sample(self.real_db, self.wal_path, self.shm_path, vouched)

    @cached_property
    def lock_sample(self) -> LockSample:
        """The first lock sample of this diagnosis, shared by every inspector that asks."""
        return self.sample_locks()

    @cached_property
    def filesystem(self) -> Filesystem | None:
        """Free and total space of the filesystem the database (or its directory) is on."""
        from litefix.system.disk import filesystem_of

        return filesystem_of(self.real_db)
