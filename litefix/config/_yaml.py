"""PyYAML, imported on first use: finding out that there is no config must not cost its import."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import yaml
else:

    class _Yaml(ModuleType):
        def __getattr__(self, name: str) -> Any:
            import yaml as module

            globals()["yaml"] = module
            return getattr(module, name)

    yaml = _Yaml("yaml")

__all__ = ["yaml"]
