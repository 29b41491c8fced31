"""The process environment fedkit sets before TensorFlow starts: its variables' defaults and a quieted warning.

`fedkit/__init__.py` applies them when fedkit is imported; `fedkit.runtime.workers` passes the same defaults
to the workers it starts.
"""

from __future__ import annotations

import os
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

# TFF's pinned googleapis-common-protos imports pkg_resources, which setuptools < 81 (needed by
# TensorBoard 2.14) deprecates with a UserWarning on stderr at TFF's import.
PKG_RESOURCES_WARNING = "pkg_resources is deprecated as an API"


def apply_defaults() -> None:
    """Set each unset variable of `ENV_DEFAULTS` and ignore the `pkg_resources` deprecation warning."""
    for name, value in ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    warnings.filterwarnings("ignore", message=PKG_RESOURCES_WARNING, category=UserWarning)
