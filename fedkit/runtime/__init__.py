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

from fedkit.common import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "workers": [
            "set_local_context",
            "set_multi_worker_context",
            "release_worker",
            "shutdown",
            "reraise_swallowed_interrupt",
            "WorkerProcess",
            "WorkerUnavailableError",
            "LocalContext",
            "worker_binary_path",
            "AUTOGRAPH_AS_WRITTEN",
        ],
    },
)
