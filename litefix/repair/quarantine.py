"""Moving files aside instead of deleting them, with a manifest that proves nothing was lost.

A quarantine lives in `<db dir>/.litefix/quarantine/<id>/`: on the database's own
filesystem, so every move is an atomic rename. Before a file is moved its size and
sha256 are written to `manifest.json` (fsynced), so a repair killed at any point
leaves each byte either at its old path or in the quarantine, with the manifest
saying which. `restore_quarantine` puts everything back exactly, refusing to
overwrite, and checks the hashes.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litefix import __version__
from litefix.errors import EXIT_REPAIR_FAILED, LitefixError, Refused, UsageError, describe_os_error
from litefix.repair.faults import crash_point
from litefix.system.files import MANIFEST_LIMIT, iter_chunks, read_text

WORKSPACE = ".litefix"
HASH_CHUNK = 4 << 20


class QuarantineError(LitefixError):
    """A quarantine is damaged, unsafe, or cannot be put back."""

    exit_code = EXIT_REPAIR_FAILED


# Kinds of entry: "file" and "dir" were moved in from the user's paths and go back there;
# "copy" (of a file a process held) and "set-aside" (a file litefix made, taken away by a
# rollback) are kept for the user but never put back over anything.
KINDS = ("file", "dir", "copy", "set-aside")
PUT_BACK = ("file", "dir")


def workspace(db: str | os.PathLike[str]) -> Path:
    """`<dir>/.litefix/`, beside the real database file (same filesystem: renames are atomic)."""
    return Path(os.path.realpath(db)).parent / WORKSPACE


def quarantine_root(db_or_dir: str | os.PathLike[str]) -> Path:
    path = Path(db_or_dir)
    base = path if path.is_dir() and not path.name.endswith(".litefix") else workspace(path).parent
    return base / WORKSPACE / "quarantine"


def fsync_dir(path: str | os.PathLike[str]) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | os.PathLike[str]) -> tuple[int, str]:
    """Size and sha256 of a regular file; refuses (NotRegularFile) a FIFO or device instead of hanging on it."""
    import hashlib  # OpenSSL loads for a repair, not for every diagnose that looks for an unfinished one

    digest = hashlib.sha256()
    size = 0
    for chunk in iter_chunks(path, "database file"):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def own_workspace(db: str | os.PathLike[str]) -> None:
    """Give litefix's own files under `.litefix/` (directories, journals, locks, manifests) the owner of
    the database directory, when run as root, so the app's user can run litefix (and read them) later.

    Quarantined files keep the owner they had (a copy takes its source's): they are evidence.
    """
    home = workspace(db)
    if os.geteuid() != 0 or not home.is_dir():
        return
    st = os.stat(home.parent)
    for root, dirs, files in os.walk(home):
        os.lchown(root, st.st_uid, st.st_gid)
        if os.path.basename(root) == "files" and os.path.dirname(os.path.dirname(root)).endswith("quarantine"):
            dirs[:] = []  # the quarantined files themselves and everything below them
            continue
        for name in files:
            os.lchown(os.path.join(root, name), st.st_uid, st.st_gid)


def make_dirs(path: Path, db_dir: str) -> None:
    """mkdir -p of litefix's own directories, owned like the database's directory (when run as root).

    A `.litefix/` owned by root beside an app's database would keep the app's user (and a
    later litefix run as that user) from writing its lock or journal.
    """
    missing = []
    here = path
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not missing:
        return
    st = os.stat(db_dir)
    for made in missing:
        os.chown(made, st.st_uid, st.st_gid)


def write_json_atomically(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


@dataclass
class Entry:
    """One thing in the quarantine: a moved file or directory, or a copy (of a file held by a process)."""

    name: str  # under files/: a bare name, never a path
    original: str  # where it came from (and goes back to)
    kind: str  # "file", "dir" or "copy"
    size: int = 0
    sha256: str = ""
    files: list[dict[str, Any]] = field(default_factory=list)  # for a dir: {path, size, sha256} each
    state: str = "recorded"  # "recorded" (hashed, about to move), "moved", or "restored"
    note: str = ""
    uid: int = -1  # owner, group and mode the original had (-1: not recorded, older manifests)
    gid: int = -1
    mode: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "original": self.original,
            "kind": self.kind,
            "size": self.size,
            "sha256": self.sha256,
            "files": self.files,
            "state": self.state,
            "note": self.note,
            "uid": self.uid,
            "gid": self.gid,
            "mode": self.mode,
        }

    @classmethod
    def from_json(cls, data: Any) -> Entry:
        """An entry from a manifest, every field type-checked: a hand-edited manifest is a sentence, not a crash."""
        if not isinstance(data, dict):
            raise ValueError(f"an entry is a {type(data).__name__}, not an object")
        files = _field(data, "files", list, [])
        for item in files:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise ValueError("a directory entry lists something that is not {path, size, sha256}")
            _field(item, "size", int, 0)
            _field(item, "sha256", str, "")
        return cls(
            _field(data, "name", str),
            _field(data, "original", str),
            _field(data, "kind", str),
            _field(data, "size", int, 0),
            _field(data, "sha256", str, ""),
            files,
            _field(data, "state", str, "recorded"),
            _field(data, "note", str, ""),
            _field(data, "uid", int, -1),
            _field(data, "gid", int, -1),
            _field(data, "mode", int, 0),
        )


_MISSING: Any = object()


def _field(data: dict[str, Any], key: str, kind: type, default: Any = _MISSING) -> Any:
    value = data.get(key, default)
    if value is _MISSING:
        raise ValueError(f"{key!r} is missing")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ValueError(f"{key!r} is a {type(value).__name__}, not a {kind.__name__}")
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"{key!r} contains a NUL byte")
    return value


@dataclass
class Quarantine:
    path: Path
    id: str
    db: str
    strategy: str
    reason: str
    created: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    litestream_version: str | None = None
    entries: list[Entry] = field(default_factory=list)

    @property
    def files_dir(self) -> Path:
        return self.path / "files"

    def manifest(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "db": self.db,
            "strategy": self.strategy,
            "reason": self.reason,
            "created": self.created,
            "litefix_version": __version__,
            "litestream_version": self.litestream_version,
            "findings": self.findings,
            "entries": [e.to_json() for e in self.entries],
        }

    def save(self) -> None:
        write_json_atomically(self.path / "manifest.json", self.manifest())

    def entry(self, name: str) -> Entry | None:
        return next((e for e in self.entries if e.name == name), None)

    # --- adding --------------------------------------------------------------------------------

    def move_in(self, src: str, note: str = "", name: str | None = None, kind: str | None = None) -> Entry | None:
        """Hash `src`, record the intent, then rename it in. Safe to call again after a crash: it resumes.

        The manifest says "about to move src to files/NAME" (state `recorded`) before the
        rename and `moved` after it; a kill between the two is settled by `reconcile`, which
        looks at which of the two names exists.
        """
        name = name or os.path.basename(src)
        entry = self.entry(name)
        dest = self.files_dir / name
        if entry is None:
            if not os.path.lexists(src):
                return None
            entry = _describe(src, name, note)
            if kind is not None:
                entry.kind = kind
            self.entries.append(entry)
            self.save()  # the manifest knows the bytes before they move
            crash_point("recorded")
        if entry.state != "moved":
            if os.path.lexists(src) and not os.path.lexists(dest):
                os.rename(src, dest)
                crash_point("renamed")
                fsync_dir(self.files_dir)
                fsync_dir(os.path.dirname(src))
            if os.path.lexists(dest):
                entry.state = "moved"
                self.save()
        return entry

    def copy_in(self, src: str, name: str, original: str, note: str, kind: str = "copy") -> Entry:
        """Copy a file (e.g. /proc/PID/fd/N of a deleted file still held open) into the quarantine."""
        entry = self.entry(name)
        if entry is not None and entry.state == "moved":
            return entry
        dest = self.files_dir / name
        tmp = dest.with_name(name + ".partial")
        import hashlib

        digest = hashlib.sha256()
        size = 0
        owner = _owner(os.stat(src))
        with open(tmp, "wb") as out:
            for chunk in iter_chunks(src, "file to copy"):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            if os.geteuid() == 0:
                os.fchown(out.fileno(), owner["uid"], owner["gid"])
            os.fchmod(out.fileno(), owner["mode"])
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        crash_point("copied")
        fsync_dir(self.files_dir)
        entry = Entry(name, original, kind, size, digest.hexdigest(), state="moved", note=note, **owner)
        self.entries = [e for e in self.entries if e.name != name] + [entry]
        self.save()
        return entry

    # --- recovering -----------------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """Make the manifest say where each entry really is, from the names that exist on disk.

        A kill between a rename and the manifest update leaves an entry `recorded` whose bytes
        are already under files/; the rename is atomic, so the name under files/ is the truth.
        Returns the names whose state changed.
        """
        changed = []
        files = self.checked_files_dir()
        for entry in self.entries:
            inside = os.path.lexists(files / entry.name)
            if entry.state == "recorded" and inside:
                entry.state = "moved"
                changed.append(entry.name)
            elif entry.state == "moved" and not inside and entry.kind in PUT_BACK and _same_as(entry):
                entry.state = "restored"  # put back by a rollback killed before it saved
                changed.append(entry.name)
        if changed:
            self.save()
        return changed

    def checked_files_dir(self) -> Path:
        """files/, after checking that no component from the quarantine root down is a symlink."""
        root = self.path.parent
        for component in (root, self.path, self.files_dir):
            if os.path.islink(component):
                raise QuarantineError(f"{component} is a symlink", "the quarantine was tampered with; inspect it")
        expected = os.path.join(os.path.realpath(root), self.path.name, "files")
        if os.path.realpath(self.files_dir) != expected:
            raise QuarantineError(f"{self.files_dir} leaves the quarantine", "the quarantine was tampered with")
        return self.files_dir

    # --- checking and putting back ------------------------------------------------------------

    def verify(self) -> list[str]:
        """Problems with the quarantined bytes (empty when every hash matches)."""
        problems = []
        for entry in self.entries:
            if entry.state != "moved":
                continue
            path = _inside(self, entry.name)
            if entry.kind == "dir":
                for item in entry.files:
                    sub = _inside_dir(path, str(item["path"]))
                    if not _is_file(sub) or sha256_file(sub) != (item["size"], item["sha256"]):
                        problems.append(f"{sub} is missing or changed")
            elif not _is_file(path) or sha256_file(path) != (entry.size, entry.sha256):
                problems.append(f"{path} is missing or changed")
        return problems

    def to_json(self) -> dict[str, Any]:
        return {**self.manifest(), "path": str(self.path)}


def _is_file(path: Path) -> bool:
    return os.path.isfile(path) and not os.path.islink(path)


def _same_as(entry: Entry) -> bool:
    """The original path holds what the entry describes (size; hash for files)."""
    try:
        if entry.kind == "dir":
            return os.path.isdir(entry.original)
        return _is_file(Path(entry.original)) and sha256_file(entry.original) == (entry.size, entry.sha256)
    except (OSError, LitefixError):
        return False


def _describe(src: str, name: str, note: str) -> Entry:
    st = os.lstat(src)
    if stat.S_ISDIR(st.st_mode):
        files = []
        total = 0
        for root, _dirs, names in os.walk(src):
            for n in sorted(names):
                full = os.path.join(root, n)
                if os.path.islink(full) or not os.path.isfile(full):
                    continue
                size, digest = sha256_file(full)
                total += size
                files.append({"path": os.path.relpath(full, src), "size": size, "sha256": digest})
        return Entry(name, os.path.abspath(src), "dir", total, "", files, note=note, **_owner(st))
    size, digest = sha256_file(src)
    return Entry(name, os.path.abspath(src), "file", size, digest, note=note, **_owner(st))


def _owner(st: os.stat_result) -> dict[str, Any]:
    return {"uid": st.st_uid, "gid": st.st_gid, "mode": stat.S_IMODE(st.st_mode)}


def create(
    db: str, strategy: str, reason: str, findings: Iterable[dict[str, Any]] = (), litestream_version: str | None = None
) -> Quarantine:
    root = quarantine_root(db)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    qid = f"{stamp}-{os.path.basename(db)[:100]}-{strategy}"
    path = root / qid
    make_dirs(path / "files", os.path.dirname(os.path.realpath(db)))
    fsync_dir(root)
    q = Quarantine(
        path,
        qid,
        os.path.abspath(db),
        strategy,
        reason,
        datetime.now(UTC).isoformat(),
        list(findings),
        litestream_version,
    )
    q.save()
    return q


def load(path: str | os.PathLike[str]) -> Quarantine:
    """A quarantine from its manifest; QuarantineError (one sentence) for anything damaged or unsafe."""
    path = Path(path)
    where = path / "manifest.json"
    try:
        data = json.loads(read_text(where, MANIFEST_LIMIT, "quarantine manifest", QuarantineError))
    except OSError as exc:
        raise describe_os_error(
            exc, where, error=QuarantineError, hint="the quarantine is damaged or unreadable; inspect it by hand"
        ) from None
    except (ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise QuarantineError(f"cannot read {where}: {why}", "the quarantine is damaged; inspect it by hand") from None
    try:
        if not isinstance(data, dict):
            raise ValueError(f"the manifest is a {type(data).__name__}, not an object")
        version = data.get("litestream_version")
        findings = _field(data, "findings", list, [])
        entries = _field(data, "entries", list, [])
        q = Quarantine(
            path,
            _field(data, "id", str),
            _field(data, "db", str),
            _field(data, "strategy", str),
            _field(data, "reason", str, ""),
            _field(data, "created", str, ""),
            [f for f in findings if isinstance(f, dict)],
            version if isinstance(version, str) else None,
            [Entry.from_json(e) for e in entries],
        )
    except (ValueError, TypeError, RecursionError) as exc:
        raise QuarantineError(
            f"{where} is damaged: {exc}", "the manifest was edited or is corrupt; restore by hand"
        ) from None
    _validate(q)
    return q


def _validate(q: Quarantine) -> None:
    """Refuse any manifest that could make a restore write outside its own places."""
    home = os.path.realpath(q.path.parent.parent.parent)  # <db dir>/.litefix/quarantine/<id> -> <db dir>
    for entry in q.entries:
        if not entry.name or entry.name in (".", "..") or entry.name != os.path.basename(entry.name):
            raise QuarantineError(
                f"{q.path}/manifest.json names {entry.name!r}, not a plain file name",
                "the manifest was edited or is corrupt; restore by hand",
            )
        if entry.kind not in KINDS:
            raise QuarantineError(
                f"{q.path}/manifest.json gives {entry.name} the unknown kind {entry.kind!r}",
                "the manifest was edited or is corrupt; restore by hand",
            )
        original = entry.original
        if not os.path.isabs(original) or os.path.normpath(original) != original or ".." in original.split("/"):
            raise QuarantineError(
                f"{q.path}/manifest.json sends {entry.name} to {original!r}, not a clean absolute path",
                "the manifest was edited or is corrupt; restore by hand",
            )
        if entry.kind in PUT_BACK and os.path.realpath(os.path.dirname(original)) != home:
            raise QuarantineError(
                f"{q.path}/manifest.json sends {entry.name} to {original}, outside {home}",
                "a quarantine only puts files back beside the database it came from",
            )
        for item in entry.files:
            rel = str(item.get("path", ""))
            if not rel or os.path.isabs(rel) or ".." in Path(rel).parts:
                raise QuarantineError(
                    f"{q.path}/manifest.json lists {rel!r} inside {entry.name}",
                    "the manifest was edited or is corrupt; restore by hand",
                )


def _inside(q: Quarantine, name: str) -> Path:
    files = q.checked_files_dir()
    path = files / name
    if os.path.islink(path) or not os.path.realpath(path).startswith(os.path.realpath(files) + os.sep):
        raise QuarantineError(f"{path} leaves the quarantine", "the quarantine was tampered with")
    return path


def _inside_dir(base: Path, rel: str) -> Path:
    path = base / rel
    if not os.path.realpath(path).startswith(os.path.realpath(base) + os.sep):
        raise QuarantineError(f"{path} leaves {base}", "the quarantine was tampered with")
    return path


@dataclass
class Damaged:
    """A quarantine whose manifest cannot be trusted: listed, with why, never restored from."""

    path: Path
    why: str

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.path.name,
            "path": str(self.path),
            "strategy": "DAMAGED",
            "reason": f"damaged: {self.why}",
            "damaged": self.why,
            "entries": [],
        }


def list_quarantines(db_or_dir: str | os.PathLike[str]) -> list[Quarantine | Damaged]:
    root = quarantine_root(db_or_dir)
    if not root.is_dir():
        return []
    out: list[Quarantine | Damaged] = []
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.is_symlink():
            continue
        if not os.path.lexists(child / "manifest.json"):
            out.append(Damaged(child, "it has no manifest.json"))
            continue
        try:
            out.append(load(child))
        except LitefixError as exc:  # the table has room for why, not for the path it already names
            out.append(Damaged(child, exc.message.replace(f"{child}/", "").replace(str(child), "the quarantine")))
    return out


def find(db_or_dir: str | os.PathLike[str], qid: str) -> Quarantine:
    root = quarantine_root(db_or_dir)
    if "/" in qid or "\0" in qid or qid in (".", "..") or len(qid.encode(errors="surrogateescape")) > 255:
        shown = qid if len(qid) <= 80 else qid[:80] + "…"
        raise UsageError(f"{shown!r} is not a quarantine id", "use an id from `litefix quarantine list`")
    path = root / qid
    if not os.path.lexists(path / "manifest.json"):
        raise QuarantineError(f"no quarantine {qid} in {root}", "list them with `litefix quarantine list`")
    return load(path)


def restore_quarantine(q: Quarantine) -> list[str]:
    """Put every moved file back where it came from; refuse if anything is in the way. Returns the paths."""
    q.reconcile()
    moved = [e for e in q.entries if e.state == "moved" and e.kind in PUT_BACK]
    if not moved:
        raise Refused(
            f"quarantine {q.id} holds nothing to put back (already restored?)", "see `litefix quarantine list`"
        )
    blocked = [e.original for e in moved if os.path.lexists(e.original)]
    if blocked:
        raise Refused(
            f"{', '.join(blocked)} already exist{'s' if len(blocked) == 1 else ''}; litefix will not overwrite",
            "move the current files aside first (`litefix repair DB --strategy quarantine`), then restore",
        )
    problems = q.verify()
    if problems:
        raise QuarantineError(
            f"the quarantine {q.id} does not match its manifest: {problems[0]}",
            "its bytes changed since they were moved; inspect it by hand",
        )
    restored = []
    for entry in moved:
        os.rename(_inside(q, entry.name), entry.original)
        fsync_dir(os.path.dirname(entry.original))
        entry.state = "restored"
        q.save()
        restored.append(entry.original)
    return restored


def put_back_copy(q: Quarantine, entry: Entry, path: str) -> None:
    """Write the bytes of a copy entry at `path` (free), as the original was: owner, mode, fsynced.

    Through a temporary name beside it and a rename, so `path` is never half-written.
    """
    source = _inside(q, entry.name)
    if sha256_file(source) != (entry.size, entry.sha256):
        raise QuarantineError(f"{source} no longer matches its manifest", "inspect the quarantine by hand")
    tmp = f"{path}.litefix-rollback"
    with open(tmp, "wb") as out:
        for chunk in iter_chunks(source):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if entry.uid >= 0:
        if os.geteuid() == 0:
            os.chown(tmp, entry.uid, entry.gid)
        os.chmod(tmp, stat.S_IMODE(entry.mode))
    os.rename(tmp, path)
    crash_point("copied-back")
    fsync_dir(os.path.dirname(path))


def move_back_unverified(q: Quarantine, name: str) -> bool:
    """Rollback of one entry: put it back if its original path is free."""
    entry = q.entry(name)
    if entry is None or entry.state != "moved" or entry.kind not in PUT_BACK or os.path.lexists(entry.original):
        return False
    os.rename(_inside(q, entry.name), entry.original)
    crash_point("moved-back")
    fsync_dir(os.path.dirname(entry.original))
    entry.state = "restored"
    q.save()
    return True
