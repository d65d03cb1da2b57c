"""The typed arguments of each repair action: what a planner promises and a step reads.

A plan is JSON (the dry run prints it, the journal stores it, `--resume` reads it back from
disk), so each action's arguments are a frozen dataclass with `to_json`/`from_json`: the
journal format stays plain JSON, mypy checks every read, and a journal edited by hand or
torn is one sentence ("step 3's arguments are damaged: 'paths' is a str"), not a KeyError.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from litefix.errors import RepairFailed
from litefix.model import JSON, Step

A = TypeVar("A", bound="Args")


def _is_str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


# Each annotation used below, and how to check a JSON value against it.
_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "str | None": lambda v: v is None or isinstance(v, str),
    "list[str]": _is_str_list,
    "dict[str, JSON]": lambda v: isinstance(v, dict),
}


@dataclass(frozen=True)
class Args:
    action: ClassVar[str] = ""

    def to_json(self) -> dict[str, JSON]:
        out: dict[str, JSON] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple | list) else value
        return out

    @classmethod
    def from_json(cls: type[A], data: Any) -> A:
        """Check every field against its annotation; unknown keys are ignored (older/newer journals)."""
        if not isinstance(data, dict):
            raise ValueError(f"the arguments are a {type(data).__name__}, not an object")
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name not in data:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise ValueError(f"{f.name!r} is missing")
                continue
            value = data[f.name]
            check = _CHECKS[str(f.type)]
            if not check(value):
                raise ValueError(f"{f.name!r} is a {type(value).__name__}, not {f.type}")
            values[f.name] = float(value) if f.type == "float" else value
        return cls(**values)

    @classmethod
    def of(cls: type[A], step: Step) -> A:
        """The arguments of a step from a plan or a journal; RepairFailed names what is wrong."""
        try:
            return cls.from_json(dict(step.args))
        except ValueError as exc:
            raise RepairFailed(
                f"the arguments of the {step.action} step are damaged: {exc}",
                "the journal was edited or is corrupt; `litefix quarantine list` shows what was moved",
            ) from None

    def step(self, reason: str) -> Step:
        return Step(self.action, reason, self.to_json())


@dataclass(frozen=True)
class QuarantineArgs(Args):
    action: ClassVar[str] = "quarantine"
    paths: list[str]


@dataclass(frozen=True)
class VerifyQuarantineArgs(Args):
    action: ClassVar[str] = "verify-quarantine"
    paths: list[str]


@dataclass(frozen=True)
class CopyHeldArgs(Args):
    action: ClassVar[str] = "copy-held"
    pid: int
    fd: int
    target: str
    role: str = "file"


@dataclass(frozen=True)
class CopyIntoQuarantineArgs(Args):
    action: ClassVar[str] = "copy-into-quarantine"
    paths: list[str]
    label: str = "repair"


@dataclass(frozen=True)
class CheckpointArgs(Args):
    action: ClassVar[str] = "checkpoint"
    path: str


@dataclass(frozen=True)
class StopLitestreamArgs(Args):
    action: ClassVar[str] = "stop-litestream"
    pid: int
    command: str = ""


@dataclass(frozen=True)
class ReplicaArgs(Args):
    """What every step that talks to the replica needs."""

    db: str
    replica: dict[str, JSON]
    litestream: str
    config: str | None = None
    source: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunInitArgs(ReplicaArgs):
    action: ClassVar[str] = "run-litestream-init"
    config_text: str = ""
    format: str = ""
    timeout: float = 60.0
    meta: str = ""  # the meta dir Litestream will create (set aside by a rollback)

    @property
    def meta_dir(self) -> str:
        if self.meta:
            return self.meta
        head, tail = os.path.split(self.db)
        return os.path.join(head, f".{tail}-litestream")


@dataclass(frozen=True)
class RestoreToTempArgs(ReplicaArgs):
    action: ClassVar[str] = "restore-to-temp"
    point: list[str] = field(default_factory=list)
    search_clean: bool = True


@dataclass(frozen=True)
class VerifyRestoredArgs(ReplicaArgs):
    action: ClassVar[str] = "verify-restored"


@dataclass(frozen=True)
class VerifyReplicaArgs(ReplicaArgs):
    action: ClassVar[str] = "verify-replica"


@dataclass(frozen=True)
class MoveIntoPlaceArgs(Args):
    action: ClassVar[str] = "move-into-place"
    path: str


@dataclass(frozen=True)
class VerifyDatabaseArgs(Args):
    action: ClassVar[str] = "verify-database"
    path: str
    require_tables: bool = False
