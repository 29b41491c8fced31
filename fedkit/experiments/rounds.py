"""A seeded round loop with its history, and federated evaluation of its weights.

`train(process, train_data, RoundsConfig(...), callbacks)` runs the loop; the callbacks print progress
(`Progress`), write TensorBoard logs (`TensorBoard`) and save and resume checkpoints (`Checkpoints`).
`run_rounds` is its short form for the common case.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import data, models
from fedkit.algorithms.builders import accuracy_metric_name
from fedkit.compression.sizing import SizeTracker, communication_cost, format_size
from fedkit.experiments.checkpoints import Checkpointer

# tf.data would rewrite each writer's dataset as the worker opens it (fusions, autotuning), which on a
# writer's one to three test batches costs more than it saves: 0.1 to 0.4 s per evaluation of 104.
_NO_TF_DATA_REWRITES = tf.data.Options()
_NO_TF_DATA_REWRITES.experimental_optimization.apply_default_optimizations = False


def evaluate(
    evaluation: tff.learning.templates.LearningProcess,
    model_weights,
    test_data: list[tf.data.Dataset],
    accuracy_metric: str | None = None,
) -> dict[str, float]:
    """Loss (when the model reports one) and accuracy of `model_weights` over the test clients' datasets."""
    state = evaluation.set_model_weights(evaluation.initialize(), model_weights)
    test_data = [dataset.with_options(_NO_TF_DATA_REWRITES) for dataset in test_data]
    metrics = evaluation.next(state, test_data).metrics["client_work"]["eval"]["current_round_metrics"]
    result = {"loss": float(metrics["loss"])} if "loss" in metrics else {}
    return result | {"accuracy": float(metrics[accuracy_metric_name(metrics, accuracy_metric)])}


@dataclasses.dataclass
class History:
    """Per-round records (metrics, communication, wall time) of a training run."""

    rows: list[dict] = dataclasses.field(default_factory=list)

    def to_frame(self):
        """The history as a pandas DataFrame indexed by round."""
        import pandas as pd

        return pd.DataFrame(self.rows).set_index("round")

    def column(self, key: str) -> list:
        """One recorded value per round (e.g. 'accuracy' or 'cumulative_broadcast_bits')."""
        return [row[key] for row in self.rows]


def _progress_line(row: dict, rounds: int, seconds: float) -> str:
    done = round(20 * row["round"] / rounds)
    line = f"round {row['round']:>3}/{rounds} [{'#' * done}{'.' * (20 - done)}]"
    line += f" loss={row['loss']:.3f}" if "loss" in row else ""
    line += f" accuracy={row['accuracy']:.3f}"
    for direction in ("broadcast", "aggregate"):
        if f"cumulative_{direction}_bits" in row:
            line += f" {direction}={format_size(row[f'cumulative_{direction}_bits'])}"
        if f"measured_cumulative_{direction}_bits" in row:  # the static count above is then an upper bound
            line += f" (measured {format_size(row[f'measured_cumulative_{direction}_bits'])})"
    return line + f" ({seconds:.1f} s)"


def _check_data_fits(process: tff.learning.templates.LearningProcess, dataset: tf.data.Dataset) -> None:
    expected = tff.types.type_to_tf_tensor_specs(process.next.type_signature.parameter[1].member.element)
    got = dataset.element_spec
    shapes = [tuple(t.shape) for t in tf.nest.flatten(expected)], [tuple(s.shape) for s in tf.nest.flatten(got)]
    if shapes[0] != shapes[1]:
        raise ValueError(
            f"data batches of shapes {shapes[1]} do not fit the process, which takes {shapes[0]}: "
            "pass flat=True for the dense model and flat=False for the CNN."
        )


def initial_state(process: tff.learning.templates.LearningProcess, seed: int):
    """`process.initialize()`, with the model's starting weights drawn from `seed` when fedkit built the model.

    TFF initializes inside a graph without a seed, so two runs would otherwise start from different weights.
    A process whose state draws from a seed of its own (Federated Dropout's sub-models) gets `seed` too.
    """
    state = process.initialize()
    if hasattr(process, "with_seed"):
        state = process.with_seed(state, seed)
    model = (getattr(process, "fedkit_config", None) or {}).get("model")
    if model not in models.MODELS or not hasattr(process, "set_model_weights"):
        return state
    tf.keras.utils.set_random_seed(seed)
    weights = tff.learning.models.ModelWeights.from_model(models.model_fn(model)())
    return process.set_model_weights(state, tf.nest.map_structure(lambda v: v.numpy(), weights))


def round_data(
    train_data: tff.simulation.datasets.ClientData,
    clients_per_round: int,
    rng: np.random.Generator,
    flat: bool = False,
    epochs: int = 1,
) -> tuple[list[str], list[tf.data.Dataset]]:
    """One round's sampled client ids and their preprocessed datasets, drawn from `rng` as `run_rounds` does."""
    clients = data.sample_clients(train_data, clients_per_round, rng)
    return clients, data.federated_data(train_data, clients, flat=flat, epochs=epochs, seed=int(rng.integers(2**31)))


@dataclasses.dataclass(frozen=True)
class RoundsConfig:
    """What a training run does: up to round `rounds`, each on `clients_per_round` clients sampled with one RNG
    seeded by `seed`, training `epochs` local epochs on batches made for the model (`flat` for the dense model).

    With `track_size` it records the cumulative bits that crossed placements (static counts; with a lossless
    encoder also the measured ones, see `fedkit.compression.sizing`). The accuracy recorded is the training metric
    ending in 'accuracy' (`sparse_categorical_accuracy` for `from_keras_model`, `accuracy` for the functional
    models), or `accuracy_metric` when given.
    """

    rounds: int
    clients_per_round: int = 10
    seed: int = 0
    flat: bool = False
    epochs: int = 1
    track_size: bool = True
    accuracy_metric: str | None = None

    def __post_init__(self) -> None:
        if self.rounds < 1 or self.clients_per_round < 1 or self.epochs < 1:
            raise ValueError(
                f"rounds={self.rounds}, clients_per_round={self.clients_per_round}, epochs={self.epochs}: "
                "each must be at least 1."
            )


@dataclasses.dataclass(frozen=True)
class Resumed:
    """A run picked up where a checkpoint left it: the state, its rounds, the client-sampling RNG, the history."""

    state: object
    rounds_done: int
    rng: np.random.Generator
    rows: list[dict]
    source: Path


@dataclasses.dataclass(frozen=True)
class RoundDone:
    """What callbacks see after each round: the state, the history (its last row is this round's), the
    client-sampling RNG as the next round will use it, and the run's configuration."""

    state: object
    history: History
    rng: np.random.Generator
    config: RoundsConfig

    @property
    def row(self) -> dict:
        """This round's row of the history."""
        return self.history.rows[-1]


class RoundCallback:
    """What `train` calls around its rounds; each hook does nothing unless a subclass says otherwise."""

    def resume(self, process: tff.templates.IterativeProcess, config: RoundsConfig) -> Resumed | None:
        """A saved run to go on with instead of starting afresh, or None."""
        return None

    def on_start(self, config: RoundsConfig, resumed: Resumed | None) -> None:
        """Before the first round this run trains."""

    def on_round(self, done: RoundDone) -> None:
        """After each round."""

    def on_end(self) -> None:
        """After the last round, or when the run stops early."""


class Progress(RoundCallback):
    """A line per round (loss, accuracy, cumulative bits, seconds), and where a resumed run picks up."""

    def on_start(self, config: RoundsConfig, resumed: Resumed | None) -> None:
        """Say where a resumed run picks up."""
        if resumed:
            print(f"Resuming after round {resumed.rounds_done} from {resumed.source}")

    def on_round(self, done: RoundDone) -> None:
        """Print the round's line."""
        print(_progress_line(done.row, done.config.rounds, done.row["seconds"]), flush=True)


class TensorBoard(RoundCallback):
    """Each round's loss, accuracy and cumulative bits as TensorBoard scalars under `log_dir`, named as the
    tutorial named them."""

    def __init__(self, log_dir: str | Path) -> None:
        self.log_dir = Path(log_dir)
        self._writer: tf.summary.SummaryWriter | None = None

    def on_start(self, config: RoundsConfig, resumed: Resumed | None) -> None:
        """Open the event file."""
        self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_round(self, done: RoundDone) -> None:
        """Write the round's scalars."""
        if self._writer is not None:
            _write_scalars(self._writer, done.row)

    def on_end(self) -> None:
        """Close the event file."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Checkpoints(RoundCallback):
    """Save the program state in `folder` every `every` rounds and after the last; a rerun resumes from the latest
    (`fedkit.experiments.checkpoints`)."""

    def __init__(self, folder: str | Path, every: int = 1) -> None:
        if every < 1:
            raise ValueError(f"every={every}: save at least every round you train (every >= 1).")
        self.folder, self.every = Path(folder), every
        self._checkpointer: Checkpointer | None = None

    def resume(self, process: tff.templates.IterativeProcess, config: RoundsConfig) -> Resumed | None:
        """The latest checkpoint in `folder`, if any; one holding more rounds than `config.rounds` is refused
        (returning it would hand back a longer run)."""
        self._checkpointer = Checkpointer(self.folder, process)
        restored = self._checkpointer.load_latest(rounds=config.rounds)
        return Resumed(*restored, source=self.folder) if restored else None

    def on_round(self, done: RoundDone) -> None:
        """Save when the round is due."""
        round_num = done.row["round"]
        if self._checkpointer and (round_num % self.every == 0 or round_num == done.config.rounds):
            self._checkpointer.save(done.state, round_num, done.rng, done.history.rows)


def train(
    process: tff.learning.templates.LearningProcess,
    train_data: tff.simulation.datasets.ClientData,
    config: RoundsConfig,
    callbacks: Sequence[RoundCallback] = (),
) -> tuple[Any, History]:
    """Train as `config` says, calling `callbacks` (`Progress`, `TensorBoard`, `Checkpoints` or your own
    `RoundCallback`) in their order; return (state, History).

    Each round samples its clients with one seeded RNG, trains, and records the training metrics and the bits;
    a run resumed from a checkpoint goes on from its state, RNG and history.
    """
    tf.keras.utils.set_random_seed(config.seed)
    found = [r for r in (callback.resume(process, config) for callback in callbacks) if r is not None]
    resumed = found[0] if found else None
    if resumed:
        state, done, rng, history = resumed.state, resumed.rounds_done, resumed.rng, History(resumed.rows)
    else:
        state, done, rng = initial_state(process, config.seed), 0, np.random.default_rng(config.seed)
        history = History()
    tracker = _tracker(process, history) if config.track_size else None
    for callback in callbacks:
        callback.on_start(config, resumed)
    try:
        for round_num in range(done + 1, config.rounds + 1):
            state, row = _train_round(
                process, train_data, config, state, rng, round_num, tracker, round_num == done + 1
            )
            history.rows.append(row)
            for callback in callbacks:
                callback.on_round(RoundDone(state, history, rng, config))
    finally:
        for callback in callbacks:
            callback.on_end()
    return state, history


def run_rounds(
    process: tff.learning.templates.LearningProcess,
    train_data: tff.simulation.datasets.ClientData,
    rounds: int,
    clients_per_round: int = 10,
    seed: int = 0,
    flat: bool = False,
    epochs: int = 1,
    verbose: bool = True,
) -> tuple[Any, History]:
    """Train up to round `rounds` on seeded client samples, printing a line per round with `verbose`; return
    (state, History) with the metrics and cumulative bits of each round.

    The short form of `train(process, train_data, RoundsConfig(...), callbacks)`, which also writes TensorBoard
    logs (`TensorBoard`), resumes from checkpoints (`Checkpoints`) or skips the bit counts.
    """
    config = RoundsConfig(rounds, clients_per_round, seed, flat, epochs)
    return train(process, train_data, config, [Progress()] if verbose else [])


def _tracker(process: tff.templates.IterativeProcess, history: History) -> SizeTracker:
    """A size tracker of `process`'s rounds whose totals go on from `history`'s last row (a resumed run)."""
    tracker = SizeTracker(communication_cost(process.next))
    for key, name in _BITS_COLUMNS.items():
        if history.rows and key in history.rows[-1]:
            getattr(tracker, name).append(history.rows[-1][key])
    return tracker


def _train_round(
    process: tff.learning.templates.LearningProcess,
    train_data: tff.simulation.datasets.ClientData,
    config: RoundsConfig,
    state: object,
    rng: np.random.Generator,
    round_num: int,
    tracker: SizeTracker | None,
    check_data: bool,
) -> tuple[object, dict]:
    """Train round `round_num` on clients drawn from `rng`; the new state and the round's history row."""
    start = time.perf_counter()
    clients, datasets = round_data(train_data, config.clients_per_round, rng, flat=config.flat, epochs=config.epochs)
    if check_data:
        _check_data_fits(process, datasets[0])
    result = process.next(state, datasets)
    row = _metrics_row(round_num, result.metrics["client_work"]["train"], len(clients), config.accuracy_metric)
    if tracker:
        tracker.record_round(len(clients), result.metrics)
        row |= {key: getattr(tracker, name)[-1] for key, name in _BITS_COLUMNS.items() if getattr(tracker, name)}
    row["seconds"] = time.perf_counter() - start
    return result.state, row


def _metrics_row(round_num: int, train_metrics, clients: int, accuracy_metric: str | None) -> dict[str, int | float]:
    """A round's history row from its training metrics: loss (if reported), accuracy, clients, examples."""
    # Functional models report only the metrics they were built with (often no loss nor counts).
    row: dict[str, int | float] = {"round": round_num}
    if "loss" in train_metrics:
        row["loss"] = float(train_metrics["loss"])
    row["accuracy"] = float(train_metrics[accuracy_metric_name(train_metrics, accuracy_metric)])
    row["clients"] = clients
    if "num_examples" in train_metrics:
        row["examples"] = int(train_metrics["num_examples"])
    return row


# History column -> SizeTracker list. "cumulative_*" are static counts; "measured_cumulative_*" appear
# only when the process reports measured bits (a lossless encoder; see `fedkit.compression.sizing`).
_BITS_COLUMNS = {
    "cumulative_broadcast_bits": "broadcast_bits",
    "cumulative_aggregate_bits": "aggregate_bits",
    "measured_cumulative_broadcast_bits": "measured_broadcast_bits",
    "measured_cumulative_aggregate_bits": "measured_aggregate_bits",
}

_TENSORBOARD_KEYS = {
    "loss": "loss",
    "accuracy": "accuracy",
    "cumulative_broadcast_bits": "cumulative_broadcasted_bits",
    "cumulative_aggregate_bits": "cumulative_aggregated_bits",
    "measured_cumulative_broadcast_bits": "measured_cumulative_broadcasted_bits",
    "measured_cumulative_aggregate_bits": "measured_cumulative_aggregated_bits",
}


def _write_scalars(writer: tf.summary.SummaryWriter, row: dict) -> None:
    with writer.as_default():
        for key, name in _TENSORBOARD_KEYS.items():
            if key in row:
                tf.summary.scalar(name, row[key], step=row["round"])
        writer.flush()
