"""fedkit: TFF's classic federated-learning tutorials, runnable on TFF 0.87."""

import importlib.abc
import importlib.util
import os
import sys
import warnings

# Defaults for this process and fedkit's workers; a value the environment already holds wins.
ENV_DEFAULTS = {
    # TensorFlow's C++ logging writes to stderr at import; notebooks and nbval must not see it.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # gRPC notes each worker start ("skipping fork() handlers") on stderr; only errors are worth showing.
    "GRPC_VERBOSITY": "ERROR",
    # TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512 VNNI or newer; on this
    # machine's AMD EPYC they made a round of 10 clients about 30% faster. TensorFlow reads this at its
    # first op, so a notebook that imports TensorFlow just before fedkit still gets them.
    "TF_ENABLE_ONEDNN_OPTS": "1",
}
for _name, _value in ENV_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

# TFF's pinned googleapis-common-protos imports pkg_resources, which setuptools < 81 (needed by
# TensorBoard 2.14) deprecates with a UserWarning on stderr at TFF's import.
PKG_RESOURCES_WARNING = "pkg_resources is deprecated as an API"
warnings.filterwarnings("ignore", message=PKG_RESOURCES_WARNING, category=UserWarning)

__version__ = "0.1.0"


class _AdoptTffContext(importlib.abc.MetaPathFinder):
    """Once `tensorflow_federated` is imported, make fedkit's context its default (`fedkit.runtime`).

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
                import fedkit.runtime  # noqa: F401  (its import adopts the default context)

            spec.loader.exec_module = exec_then_adopt
        return spec


if "tensorflow_federated" in sys.modules:
    import fedkit.runtime  # noqa: F401, E402
else:
    sys.meta_path.insert(0, _AdoptTffContext())
