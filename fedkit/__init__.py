"""fedkit: TFF's classic federated-learning tutorials, runnable on TFF 0.87.

Its sub-packages are layers, from the bottom: `common` (and `_compat`, fedkit's workarounds in TF and TFF);
`runtime`; `data`, `models`, `compression`; `algorithms`; `experiments`; `cli` and `exercises`. Each imports only
its own layer and lower ones (`tests/test_layout.py`), and each lists its public names in its `__init__.py`.
"""

from fedkit.common.env import apply_defaults

apply_defaults()  # before anything imports TensorFlow

from fedkit import _compat  # noqa: E402  (free of TensorFlow)

__version__ = "0.1.0"


def _set_up_runtime() -> None:
    """Import `fedkit.runtime.workers`, whose import installs `fedkit._compat` and adopts fedkit's context."""
    import fedkit.runtime.workers  # noqa: F401


# Importing fedkit stays free of TensorFlow (the CLI parses its arguments in milliseconds): the set-up waits for
# TFF's import, whoever imports it (at once if TFF came first).
_compat.after_import("tensorflow_federated", _set_up_runtime)
