"""Lazy faces for fedkit's sub-packages: `fedkit.compression.make_encoder` imports `fedkit.compression.encoders`
(and TensorFlow) on first use, not when `fedkit.compression` is imported.

A sub-package's `__init__.py` names its public names by submodule and installs the PEP 562 hooks:

    __getattr__, __dir__ = lazy.exports(__name__, {"encoders": ["make_encoder", ...], ...})

Its submodules are attributes too (`fedkit.compression.sizing`), imported on first use as well.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_EXPORTED: dict[str, dict[str, str]] = {}  # package -> {public name: its submodule}, filled by `exports`


def exports(package: str, names: Mapping[str, Iterable[str]]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package` that import each name of `names[submodule]` on first use."""
    listed = [(name, submodule) for submodule, those in names.items() for name in those]
    home = dict(listed)
    module = sys.modules[package]
    submodules = {m.name for m in pkgutil.iter_modules(module.__path__)}
    clash = sorted({name for name, _ in listed if name in submodules or [n for n, _ in listed].count(name) > 1})
    if clash or not names.keys() <= submodules:
        missing = sorted(names.keys() - submodules)
        raise ValueError(f"{package}: names {clash} repeat or shadow a submodule; no submodules {missing}.")

    def __getattr__(name: str) -> Any:
        if name in home:
            value = getattr(importlib.import_module(f"{package}.{home[name]}"), name)
            setattr(module, name, value)  # later lookups find it without this hook
            return value
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(module)) | home.keys() | submodules)

    _EXPORTED[package] = home
    return __getattr__, __dir__


def exported(package: str) -> dict[str, str]:
    """Each public name of `package`'s face and the submodule it comes from (for tests and documentation)."""
    importlib.import_module(package)  # its face calls `exports`
    return dict(_EXPORTED[package])
