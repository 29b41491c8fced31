"""Lazy faces for fedkit's sub-packages: `fedkit.compression.make_encoder` imports `fedkit.compression.encoders`
(and TensorFlow) on first use, not when `fedkit.compression` is imported.

A sub-package's `__init__.py` names its public names once, as imports that only type checkers run, and
installs the PEP 562 hooks, which read those imports from the file:

    if TYPE_CHECKING:
        from fedkit.compression.encoders import make_encoder as make_encoder
    else:
        __getattr__, __dir__ = lazy.exports(__name__)

Its submodules are attributes too (`fedkit.compression.sizing`), imported on first use as well.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

_EXPORTED: dict[str, dict[str, str]] = {}  # package -> {public name: its submodule}, filled by `exports`


def type_checking_imports(path: str) -> dict[str, list[str]]:
    """{submodule: [names]} of the `from ... import` statements under `if TYPE_CHECKING:` in the file at `path`."""
    names: dict[str, list[str]] = {}
    for node in ast.parse(open(path, encoding="utf-8").read()).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                if isinstance(imp, ast.ImportFrom) and imp.module:
                    names.setdefault(imp.module.rpartition(".")[2], []).extend(a.asname or a.name for a in imp.names)
    return names


def exports(
    package: str, names: Mapping[str, Iterable[str]] | None = None
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of `package` that import each name of `names[submodule]` on first use
    (by default the names its `__init__.py` imports under `if TYPE_CHECKING:`)."""
    if names is None:
        names = type_checking_imports(sys.modules[package].__file__ or "")
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
