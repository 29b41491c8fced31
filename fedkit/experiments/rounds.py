"""A seeded round loop with progress, history, checkpoints and TensorBoard, and federated evaluation of
its weights."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

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


def run_rounds(
    process: tff.learning.templates.LearningProcess,
    train_data: tff.simulation.datasets.ClientData,
    rounds: int,
    clients_per_round: int = 10,
    seed: int = 0,
    flat: bool = False,
    epochs: int = 1,
    track_size: bool = True,
    log_dir: str | Path | None = None,
    verbose: bool = True,
    checkpoint_dir: str | Path | None = None,
    checkpoint_every: int = 1,
    on_round: Callable[[object, History], None] | None = None,
    accuracy_metric: str | None = None,
):
    """Train up to round `rounds` on seeded client samples; return (state, History).

    Each round samples `clients_per_round` clients with one seeded RNG, trains, records the
    training metrics and (with `track_size`) the cumulative bits that crossed placements (static
    counts; with a lossless encoder also the measured ones, see `fedkit.compression.sizing`), and
    writes them to TensorBoard under `log_dir` when given. With `checkpoint_dir`, the program
    state is saved every `checkpoint_every` rounds and a rerun resumes from the latest one.
    The accuracy recorded is the training metric ending in 'accuracy' (`sparse_categorical_accuracy`
    for `from_keras_model`, `accuracy` for the functional models), or `accuracy_metric` when given.
    """
    if rounds < 1 or clients_per_round < 1 or epochs < 1 or checkpoint_every < 1:
        raise ValueError(
            f"rounds={rounds}, clients_per_round={clients_per_round}, epochs={epochs}, "
            f"checkpoint_every={checkpoint_every}: each must be at least 1."
        )
    tf.keras.utils.set_random_seed(seed)
    config = getattr(process, "fedkit_config", None)
    checkpointer = Checkpointer(checkpoint_dir, process, config=config) if checkpoint_dir else None
    # A checkpoint holding more rounds than asked is refused: returning it would hand back a longer run.
    restored = checkpointer.load_latest(rounds=rounds) if checkpointer else None
    if restored:
        state, done, rng, rows = restored
        history = History(rows)
        if verbose:
            print(f"Resuming after round {done} from {checkpoint_dir}")
    else:
        state, done, rng, history = initial_state(process, seed), 0, np.random.default_rng(seed), History()
    tracker = SizeTracker(communication_cost(process.next)) if track_size else None
    if tracker and history.rows:
        for key in _BITS_COLUMNS:
            if key in history.rows[-1]:
                getattr(tracker, _BITS_COLUMNS[key]).append(history.rows[-1][key])
    writer = tf.summary.create_file_writer(str(log_dir)) if log_dir else None
    for round_num in range(done + 1, rounds + 1):
        start = time.perf_counter()
        clients, datasets = round_data(train_data, clients_per_round, rng, flat=flat, epochs=epochs)
        if round_num == done + 1:
            _check_data_fits(process, datasets[0])
        result = process.next(state, datasets)
        state = result.state
        train_metrics = result.metrics["client_work"]["train"]
        # Functional models report only the metrics they were built with (often no loss nor counts).
        row = {"round": round_num}
        if "loss" in train_metrics:
            row["loss"] = float(train_metrics["loss"])
        row["accuracy"] = float(train_metrics[accuracy_metric_name(train_metrics, accuracy_metric)])
        row["clients"] = len(clients)
        if "num_examples" in train_metrics:
            row["examples"] = int(train_metrics["num_examples"])
        if tracker:
            tracker.record_round(len(clients), result.metrics)
            row |= {key: getattr(tracker, name)[-1] for key, name in _BITS_COLUMNS.items() if getattr(tracker, name)}
        row["seconds"] = time.perf_counter() - start
        history.rows.append(row)
        if writer:
            _write_scalars(writer, row)
        if verbose:
            print(_progress_line(row, rounds, row["seconds"]), flush=True)
        if checkpointer and (round_num % checkpoint_every == 0 or round_num == rounds):
            checkpointer.save(state, round_num, rng, history.rows)
        if on_round:
            on_round(state, history)
    if writer:
        writer.close()
    return state, history


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
