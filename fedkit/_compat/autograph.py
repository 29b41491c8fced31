"""Workarounds in AutoGraph (TensorFlow's converter of Python control flow to graph ops), TF 2.14.

- `autograph_sources_unlinked`: AutoGraph writes each function it converts to `__autograph_generated_file*.py`
  in the temp folder and removes them only at a normal exit (atexit): a killed kernel, or a CLI run ended by
  Ctrl-C, left hundreds behind. Each file is unlinked once loaded; its lines stay in `linecache`, so
  tracebacks still show them. Private API: `tensorflow.python.autograph.pyct.loader.load_source`.
- `autograph_calls_as_written`: AutoGraph rewrites every library's code that a traced function calls, unless
  a `DoNotConvert` rule lists it (as TF does for Keras and itself). The libraries in `AUTOGRAPH_AS_WRITTEN`
  branch and loop only on Python values or in TF ops, so rewriting them yields the same graphs
  (tests/test_runtime.py compares them) and costs seconds per process built: tensor_encoding's uniform:8
  FedAvg on the CNN built in 7.3 s, then 2.6 s; TFF's Keras wrapper, metrics, optimizers and structures: the
  CNN's FedAvg in 4.2 s, then 3.1 s. Private API: `tensorflow.python.autograph.core.config.CONVERSION_RULES`.
  The list names TFF's and tfmot's internal modules, so it is checked against their versions too.
- `autograph_builtins_kept`: AutoGraph records the id of every value in `builtins` once, when TF is imported,
  and calls any object with one of those ids as a built-in. In a Jupyter kernel one of them is the `input`
  that ipykernel puts there for each cell and drops after it; a bound method later allocated at its address
  was called without its instance (notebook 04, about 1 run in 100: "'TfMethodTarget' object has no attribute
  '_v'"). The ids become those of the values in `builtins` now, kept alive in `KEPT` for the life of Python.
  Private API: `tensorflow.python.autograph.pyct.inspect_utils._BUILTIN_FUNCTION_IDS`.

Written for: TF 2.14.x (TFF 0.87.0 and tfmot 0.7.5 for `AUTOGRAPH_AS_WRITTEN`).
"""

from __future__ import annotations

import builtins
import contextlib
import linecache
import os
import types
from collections.abc import Sequence

from fedkit._compat.versions import applies

SOURCES_UNLINKED = "autograph_sources_unlinked"
CALLS_AS_WRITTEN = "autograph_calls_as_written"
BUILTINS_KEPT = "autograph_builtins_kept"

# Libraries AutoGraph calls as written. The rest of TFF stays rewritten: `tensor_utils.zero_all_if_any_non_finite`
# branches on a tensor.
AUTOGRAPH_AS_WRITTEN = (
    "tensorflow_model_optimization.python.core.internal.tensor_encoding",
    "tensorflow_federated.python.common_libs",
    "tensorflow_federated.python.learning.metrics",
    "tensorflow_federated.python.learning.models",
    "tensorflow_federated.python.learning.optimizers",
    "attr",
)
# The objects AutoGraph matches by id as built-ins; held for the life of Python so that no other can take an id.
KEPT: tuple[object, ...] = ()


def sources_unlinked() -> None:
    """Unlink each source file AutoGraph writes once it is loaded, keeping its lines for tracebacks (idempotent)."""
    if not applies(SOURCES_UNLINKED, "tensorflow"):
        return
    from tensorflow.python.autograph.pyct import loader

    load_source = loader.load_source
    if getattr(load_source, "fedkit_unlinks", False):
        return

    def load_then_unlink(source: str, delete_on_exit: bool) -> tuple[types.ModuleType, str]:
        module, file_name = load_source(source, delete_on_exit)
        # A size and no mtime: linecache keeps such an entry although the file is gone.
        linecache.cache[file_name] = (len(source), None, source.splitlines(True), file_name)
        with contextlib.suppress(OSError):
            os.remove(file_name)
        return module, file_name

    load_then_unlink.__dict__["fedkit_unlinks"] = True  # marks the wrapper: a second call leaves it alone
    loader.load_source = load_then_unlink


def calls_as_written(packages: Sequence[str] = AUTOGRAPH_AS_WRITTEN) -> None:
    """Let AutoGraph call `packages`' functions as they are, as it does for Keras and TF itself (idempotent)."""
    if not applies(CALLS_AS_WRITTEN, "tensorflow", "tensorflow-federated", "tensorflow-model-optimization"):
        return
    from tensorflow.python.autograph.core import config

    listed = [r for r in config.CONVERSION_RULES if isinstance(r, config.DoNotConvert)]
    new = [config.DoNotConvert(p) for p in packages if not any(r.matches(p) for r in listed)]
    config.CONVERSION_RULES = (*new, *config.CONVERSION_RULES)


def builtins_kept() -> None:
    """Make the ids AutoGraph takes for built-ins those of objects that live as long as Python (idempotent)."""
    global KEPT
    if KEPT or not applies(BUILTINS_KEPT, "tensorflow"):
        return
    from tensorflow.python.autograph.pyct import inspect_utils

    KEPT = tuple(builtins.__dict__.values())
    inspect_utils._BUILTIN_FUNCTION_IDS = frozenset(map(id, KEPT))
