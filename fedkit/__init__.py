"""fedkit: TFF's classic federated-learning tutorials, runnable on TFF 0.87.

Its sub-packages are layers, from the bottom: `common`; `runtime`; `data`, `models`, `compression`;
`algorithms`; `experiments`; `cli` and `exercises`. Each imports only its own layer and lower ones
(`tests/test_layout.py`), and each lists its public names in its `__init__.py`.
"""

import importlib.abc
import importlib.util
import sys

from fedkit.common.env import apply_defaults

apply_defaults()  # before anything imports TensorFlow

__version__ = "0.1.0"


class _AdoptTffContext(importlib.abc.MetaPathFinder):
    """Once `tensorflow_federated` is imported, make fedkit's context its default (`fedkit.runtime.workers`).

    TFF's own default context starts a worker that can outlive Python; fedkit's is started by
    fedkit and always stopped. Importing fedkit itself stays free of TensorFlow (the CLI parses its
    arguments in milliseconds), so the switch waits for TFF's import, whoever imports it.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow_federated":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)  # by the finders after this one
        if spec is not None and spec.loader is not None:
            exec_module = spec.loader.exec_module

            def exec_then_adopt(module):
                exec_module(module)
                import fedkit.runtime.workers  # noqa: F401  (its import adopts the default context)

            spec.loader.exec_module = exec_then_adopt
        return spec


if "tensorflow_federated" in sys.modules:
    import fedkit.runtime.workers  # noqa: F401, E402
else:
    sys.meta_path.insert(0, _AdoptTffContext())
