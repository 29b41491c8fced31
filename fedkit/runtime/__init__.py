"""Layer 2, where computations run: fedkit's own TFF execution contexts and workers, and Google Colab.

Public names (from `workers`, which imports TensorFlow Federated on first use):
- `set_local_context`, `set_multi_worker_context`: make a fedkit-owned worker TFF's context;
- `release_worker`: stop the local worker to free its memory (the next computation starts a fresh one);
- `shutdown`: stop every worker fedkit started (also runs at exit);
- `reraise_swallowed_interrupt`, `WorkerProcess`, `WorkerUnavailableError`, `LocalContext`,
  `worker_binary_path`, `AUTOGRAPH_AS_WRITTEN`.

Submodules: `workers` (importing it, or TFF next to fedkit, makes fedkit's context TFF's default) and
`colab` (the notebooks' Colab setup cell and badge, free of TensorFlow).
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.runtime.workers import (
        AUTOGRAPH_AS_WRITTEN as AUTOGRAPH_AS_WRITTEN,
        LocalContext as LocalContext,
        WorkerProcess as WorkerProcess,
        WorkerUnavailableError as WorkerUnavailableError,
        release_worker as release_worker,
        reraise_swallowed_interrupt as reraise_swallowed_interrupt,
        set_local_context as set_local_context,
        set_multi_worker_context as set_multi_worker_context,
        shutdown as shutdown,
        worker_binary_path as worker_binary_path,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
