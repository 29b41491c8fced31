"""Layer 5, experiments: the seeded round loop with its history, evaluation, checkpoints and TensorBoard logs,
the compression sweep, figures of runs, and the lessons' long runs (`python -m fedkit reproduce NAME`).

Public names:
- from `rounds`: `run_rounds` (train up to a round on seeded client samples; returns the state and a `History`),
  `History`, `evaluate`, `initial_state`, `round_data`;
- from `checkpoints`: `Checkpointer`, `CheckpointError` (resumable runs; `run_rounds(checkpoint_dir=...)`).

Submodules: `rounds`, `checkpoints`, `sweep` (the compression sweep: `sweep.default_grid`, `sweep.run_sweep`),
`plots` (`plots.plot_runs`, ...), and `reproduce` (the named long runs: `reproduce.names()`, `reproduce.load(name)`).
`sweep` and `reproduce` import TensorFlow only when they train.
"""

from fedkit.common import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "rounds": ["run_rounds", "History", "evaluate", "initial_state", "round_data"],
        "checkpoints": ["Checkpointer", "CheckpointError"],
    },
)
