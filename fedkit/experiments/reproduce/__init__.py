"""The lessons' long runs, one module each: `python -m fedkit reproduce NAME` runs one over its seeds and
writes `fedkit/results/NAME.json`, which the lesson reads back (`fedkit.common.results.read`).

An experiment module defines `HELP` (one line), `SEEDS` (its default seeds) and
`run(seeds: tuple[int, ...]) -> dict` (JSON-ready data; it may print progress). Modules are found by name
in this package, so adding one needs no other edit.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def names() -> list[str]:
    """The experiments there are, by name (`-` for `_` in module names)."""
    return sorted(m.name.replace("_", "-") for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    """The module of experiment `name`; a ValueError naming the choices if there is none."""
    if name not in names():
        raise ValueError(f"unknown experiment {name!r}: choose one of {', '.join(names())}.")
    return importlib.import_module(f"{__name__}.{name.replace('-', '_')}")
