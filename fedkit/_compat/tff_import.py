"""Workaround `tff_import_hook`: run fedkit's runtime set-up right after TFF's import, whoever imports TFF.

Symptom: importing `tensorflow_federated` makes TFF's own local context the default
(`tff.backends.native.set_sync_local_cpp_execution_context()` in its `__init__`). A script that imports fedkit,
then TFF, and never calls `fedkit.runtime.set_local_context()` ran its computations on TFF's worker, which
outlives Python: `python script.py | cat` hung until the orphaned worker was killed.
Why here: importing fedkit must stay free of TensorFlow (the CLI parses its arguments in milliseconds), so
fedkit cannot import TFF itself; this meta-path finder waits for TFF's import and then calls fedkit back
(`fedkit/__init__.py` passes a function that imports `fedkit.runtime.workers`, whose import calls `install()`).
Written for: TFF 0.87.0 (which sets its default context at import). It uses only `importlib`'s public API
(it wraps the `exec_module` of the loader Python found for TFF), so no version guard; skip it with
`FEDKIT_COMPAT_SKIP=tff_import_hook`.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Callable

from fedkit._compat.versions import skipped

NAME = "tff_import_hook"


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds `module` by the finders after it, and has its loader call `then()` once the module has run."""

    def __init__(self, module: str, then: Callable[[], object]) -> None:
        self.module, self.then = module, then

    def find_spec(
        self, name: str, path: object = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """`name`'s spec as the other finders give it, its loader wrapped, once; None for any other module."""
        if name != self.module:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # by the finders after this one
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then(module: types.ModuleType) -> None:
                exec_module(module)
                self.then()

            spec.loader.exec_module = exec_then  # type: ignore[method-assign]
        return spec


def after_import(module: str, then: Callable[[], object]) -> None:
    """Call `then()` once `module` is imported: now if it already is, else right after its import (idempotent)."""
    if NAME in skipped():
        return
    if module in sys.modules:
        then()
    elif not any(isinstance(f, _AfterImport) and f.module == module for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(module, then))
