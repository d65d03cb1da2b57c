"""Moving files aside instead of deleting them, with a manifest that proves nothing was lost.

A quarantine lives in `<db dir>/.litefix/quarantine/<id>/`: on the database's own
filesystem, so every move is an atomic rename. Before a file is moved its size and
sha256 are written to `manifest.json` (fsynced), so a repair killed at any point
leaves each byte either at its old path or in the quarantine, with the manifest
saying which. `restore_quarantine` puts everything back exactly, refusing to
overwrite, and checks the hashes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litefix import __version__
from litefix.errors import LitefixError, Refused

WORKSPACE = ".litefix"
HASH_CHUNK = 4 << 20


class QuarantineError(LitefixError):
    """A quarantine is damaged, unsafe, or cannot be put back."""


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
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


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
    state: str = "recorded"  # "recorded" (hashed, not yet moved) or "moved"
    note: str = ""

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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(
            str(data["name"]),
            str(data["original"]),
            str(data["kind"]),
            int(data.get("size", 0)),
            str(data.get("sha256", "")),
            list(data.get("files", [])),
            str(data.get("state", "recorded")),
            str(data.get("note", "")),
        )


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

    def move_in(self, src: str, note: str = "") -> Entry | None:
        """Hash `src`, record it, then rename it in. Safe to call again after a crash: it resumes."""
        name = os.path.basename(src)
        entry = self.entry(name)
        dest = self.files_dir / name
        if entry is None:
            if not os.path.lexists(src):
                return None
            entry = _describe(src, name, note)
            self.entries.append(entry)
            self.save()  # the manifest knows the bytes before they move
        if entry.state != "moved":
            if os.path.lexists(src) and not os.path.lexists(dest):
                os.rename(src, dest)
                fsync_dir(self.files_dir)
                fsync_dir(os.path.dirname(src))
            if os.path.lexists(dest):
                entry.state = "moved"
                self.save()
        return entry

    def copy_in(self, src: str, name: str, original: str, note: str) -> Entry:
        """Copy a file (e.g. /proc/PID/fd/N of a deleted file still held open) into the quarantine."""
        entry = self.entry(name)
        if entry is not None and entry.state == "moved":
            return entry
        dest = self.files_dir / name
        tmp = dest.with_name(name + ".partial")
        digest = hashlib.sha256()
        size = 0
        with open(src, "rb") as fh, open(tmp, "wb") as out:
            while chunk := fh.read(HASH_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        fsync_dir(self.files_dir)
        entry = Entry(name, original, "copy", size, digest.hexdigest(), state="moved", note=note)
        self.entries = [e for e in self.entries if e.name != name] + [entry]
        self.save()
        return entry

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
                    if not sub.is_file() or sha256_file(sub) != (item["size"], item["sha256"]):
                        problems.append(f"{sub} is missing or changed")
            elif not path.is_file() or sha256_file(path) != (entry.size, entry.sha256):
                problems.append(f"{path} is missing or changed")
        return problems

    def to_json(self) -> dict[str, Any]:
        return {**self.manifest(), "path": str(self.path)}


def _describe(src: str, name: str, note: str) -> Entry:
    if os.path.isdir(src) and not os.path.islink(src):
        files = []
        total = 0
        for root, _dirs, names in os.walk(src):
            for n in sorted(names):
                full = os.path.join(root, n)
                if os.path.islink(full):
                    continue
                size, digest = sha256_file(full)
                total += size
                files.append({"path": os.path.relpath(full, src), "size": size, "sha256": digest})
        return Entry(name, os.path.abspath(src), "dir", total, "", files, note=note)
    size, digest = sha256_file(src)
    return Entry(name, os.path.abspath(src), "file", size, digest, note=note)


def create(
    db: str, strategy: str, reason: str, findings: Iterable[dict[str, Any]] = (), litestream_version: str | None = None
) -> Quarantine:
    root = quarantine_root(db)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    qid = f"{stamp}-{os.path.basename(db)}-{strategy}"
    path = root / qid
    (path / "files").mkdir(parents=True)
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
    path = Path(path)
    try:
        data = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as exc:
        raise QuarantineError(f"cannot read {path}/manifest.json: {exc}", "the quarantine is damaged") from exc
    q = Quarantine(
        path,
        str(data["id"]),
        str(data["db"]),
        str(data["strategy"]),
        str(data.get("reason", "")),
        str(data.get("created", "")),
        list(data.get("findings", [])),
        data.get("litestream_version"),
        [Entry.from_json(e) for e in data.get("entries", [])],
    )
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
        original = entry.original
        if not os.path.isabs(original) or os.path.normpath(original) != original or ".." in original.split("/"):
            raise QuarantineError(
                f"{q.path}/manifest.json sends {entry.name} to {original!r}, not a clean absolute path",
                "the manifest was edited or is corrupt; restore by hand",
            )
        if entry.kind != "copy" and os.path.realpath(os.path.dirname(original)) != home:
            raise QuarantineError(
                f"{q.path}/manifest.json sends {entry.name} to {original}, outside {home}",
                "a quarantine only puts files back beside the database it came from",
            )
        for item in entry.files:
            rel = str(item.get("path", ""))
            if os.path.isabs(rel) or ".." in Path(rel).parts:
                raise QuarantineError(
                    f"{q.path}/manifest.json lists {rel!r} inside {entry.name}",
                    "the manifest was edited or is corrupt; restore by hand",
                )


def _inside(q: Quarantine, name: str) -> Path:
    path = q.files_dir / name
    if os.path.islink(path) or not os.path.realpath(path).startswith(os.path.realpath(q.files_dir) + os.sep):
        raise QuarantineError(f"{path} leaves the quarantine", "the quarantine was tampered with")
    return path


def _inside_dir(base: Path, rel: str) -> Path:
    path = base / rel
    if not os.path.realpath(path).startswith(os.path.realpath(base) + os.sep):
        raise QuarantineError(f"{path} leaves {base}", "the quarantine was tampered with")
    return path


def list_quarantines(db_or_dir: str | os.PathLike[str]) -> list[Quarantine]:
    root = quarantine_root(db_or_dir)
    if not root.is_dir():
        return []
    out = []
    for child in sorted(root.iterdir()):
        if (child / "manifest.json").is_file():
            try:
                out.append(load(child))
            except QuarantineError:
                continue
    return out


def find(db_or_dir: str | os.PathLike[str], qid: str) -> Quarantine:
    root = quarantine_root(db_or_dir)
    if "/" in qid or qid in (".", ".."):
        raise QuarantineError(f"{qid!r} is not a quarantine id", "use an id from `litefix quarantine list`")
    path = root / qid
    if not (path / "manifest.json").is_file():
        raise QuarantineError(f"no quarantine {qid} in {root}", "list them with `litefix quarantine list`")
    return load(path)


def restore_quarantine(q: Quarantine) -> list[str]:
    """Put every moved file back where it came from; refuse if anything is in the way. Returns the paths."""
    moved = [e for e in q.entries if e.state == "moved" and e.kind != "copy"]
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


def move_back_unverified(q: Quarantine, name: str) -> bool:
    """Rollback of one entry: put it back if its original path is free."""
    entry = q.entry(name)
    if entry is None or entry.state != "moved" or entry.kind == "copy" or os.path.lexists(entry.original):
        return False
    os.rename(_inside(q, entry.name), entry.original)
    fsync_dir(os.path.dirname(entry.original))
    entry.state = "restored"
    q.save()
    return True
