"""Layer 5, experiments: the seeded round loop with its history, evaluation, checkpoints and TensorBoard logs,
the compression sweep, figures of runs, and the lessons' long runs (`python -m fedkit reproduce NAME`).

Public names:
- from `rounds`: `run_rounds` (train up to a round on seeded client samples; returns the state and a `History`),
  `train` (the same loop from a `RoundsConfig`, with callbacks: `Progress`, `TensorBoard`, `Checkpoints`, or your
  own `RoundCallback`, which sees a `RoundDone` after each round), `History`, `evaluate`, `initial_state`,
  `round_data`;
- from `checkpoints`: `Checkpointer`, `CheckpointError` (resumable runs; `train(..., callbacks=[Checkpoints(...)])`);
- from `pooled`: `PooledEvaluation`, `evaluate_pooled` (loss and accuracy over all test writers as one pooled
  dataset in one compiled loop: `evaluate`'s metrics, per writer when asked), `pooled_dataset`.

Submodules: `rounds`, `checkpoints`, `pooled`, `sweep` (the compression sweep: `sweep.default_grid`,
`sweep.run_sweep`), `plots` (`plots.plot_runs`, ...), and `reproduce` (the named long runs: `reproduce.names()`,
`reproduce.load(name)`).
`sweep` and `reproduce` import TensorFlow only when they train.
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.experiments.checkpoints import Checkpointer as Checkpointer, CheckpointError as CheckpointError
    from fedkit.experiments.pooled import (
        PooledEvaluation as PooledEvaluation,
        evaluate_pooled as evaluate_pooled,
        pooled_dataset as pooled_dataset,
    )
    from fedkit.experiments.rounds import (
        Checkpoints as Checkpoints,
        History as History,
        Progress as Progress,
        RoundCallback as RoundCallback,
        RoundDone as RoundDone,
        RoundsConfig as RoundsConfig,
        TensorBoard as TensorBoard,
        evaluate as evaluate,
        initial_state as initial_state,
        round_data as round_data,
        run_rounds as run_rounds,
        train as train,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
