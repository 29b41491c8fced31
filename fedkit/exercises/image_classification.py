"""Checkers for the exercises of notebook 03 (federated image classification on EMNIST)."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_federated as tff

from fedkit.experiments import History

# Bits per client and round of `algorithms.build_fedavg` (from_keras_model: the weights plus the client learning
# rate down; the change, its weight and the metric sums up), as `sizing.communication_cost` counts them.
DENSE_BITS = (251_232, 251_488)
CNN_BITS = (53_227_872, 53_228_128)


def _require(condition: bool, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def _require_history(history: History, name: str) -> None:
    _require(
        isinstance(history, History) and bool(history.rows),
        f"{name} is {type(history).__name__}, not the History of a run: pass the second value that "
        "experiments.run_rounds returns (state, history).",
    )
    _require(
        "cumulative_broadcast_bits" in history.rows[0],
        f"{name} has no bit counts: run it with run_rounds' default track_size=True.",
    )


def _per_round(history: History, key: str) -> list[int]:
    cumulative = history.column(key)
    return [b - a for a, b in zip([0, *cumulative[:-1]], cumulative, strict=True)]


def check_fewer_clients(history: History, history_fewer: History) -> None:
    """Exercise 1: a run with fewer clients per round moves proportionally fewer bits per round."""
    _require_history(history, "history")
    _require_history(history_fewer, "history_fewer")
    clients, fewer = history.rows[0]["clients"], history_fewer.rows[0]["clients"]
    _require(
        set(history_fewer.column("clients")) == {fewer} and fewer < clients,
        f"history_fewer trained {sorted(set(history_fewer.column('clients')))} clients per round against "
        f"{clients} in history: pass a smaller clients_per_round to run_rounds.",
    )
    shared = min(len(history.rows), len(history_fewer.rows))
    for key in ("cumulative_broadcast_bits", "cumulative_aggregate_bits"):
        for a, b in zip(_per_round(history, key)[:shared], _per_round(history_fewer, key)[:shared], strict=True):
            _require(
                a * fewer == b * clients,
                f"{key}: {b} bits per round with {fewer} clients against {a} with {clients}; the bits per "
                "client are those of the same model, so train the same model with the same encoders.",
            )
    row, row_fewer = history.rows[shared - 1], history_fewer.rows[shared - 1]
    print(
        f"Right: {fewer} clients per round move {fewer}/{clients} of the bits "
        f"({row_fewer['cumulative_broadcast_bits']:,} against {row['cumulative_broadcast_bits']:,} broadcast bits "
        f"after {shared} rounds); compare the accuracies with plots.plot_runs."
    )


def check_more_epochs(history: History, history_epochs: History) -> None:
    """Exercise 2: other local epochs, same seed: the same bits per round, examples in proportion to epochs."""
    _require_history(history, "history")
    _require_history(history_epochs, "history_epochs")
    shared = min(len(history.rows), len(history_epochs.rows))
    for key in ("cumulative_broadcast_bits", "cumulative_aggregate_bits"):
        _require(
            history.column(key)[:shared] == history_epochs.column(key)[:shared],
            f"{key} differ between the runs: change only `epochs` (same model, clients_per_round and seed).",
        )
    examples = zip(history.column("examples")[:shared], history_epochs.column("examples")[:shared], strict=True)
    ratios = {b / a for a, b in examples}
    _require(
        len(ratios) == 1,
        "the ratio of examples per round changes from round to round: use the same seed in both runs, so "
        "that the same writers train in each round.",
    )
    ratio = ratios.pop()
    _require(ratio != 1, "both runs processed the same examples per round: pass another `epochs` to run_rounds.")
    first, first_epochs = history.rows[0]["examples"], history_epochs.rows[0]["examples"]
    print(
        f"Right: the same {history.rows[0]['cumulative_broadcast_bits']:,} broadcast bits per round, and "
        f"{ratio:g} times the examples ({first_epochs:,} against {first:,} in round 1): local epochs cost "
        "computation on the clients, not communication."
    )


def _examples(dataset: tf.data.Dataset) -> int:
    """The number of elements of `dataset`: its cardinality when TF knows it, else by counting."""
    known = int(dataset.cardinality())
    return known if known >= 0 else sum(1 for _ in dataset)


def check_train_evaluation_data(
    train_eval_data: list[tf.data.Dataset], train_data: tff.simulation.datasets.ClientData
) -> None:
    """Exercise 3: test-style batches (no shuffling) of every writer's training examples, one dataset per writer."""
    _require(
        isinstance(train_eval_data, list) and all(isinstance(d, tf.data.Dataset) for d in train_eval_data),
        "train_eval_data should be a list of tf.data.Dataset, one per writer, like test_data.",
    )
    writers = train_data.client_ids
    _require(
        len(train_eval_data) == len(writers),
        f"{len(train_eval_data)} datasets for {len(writers)} writers: make one per writer in emnist_train.client_ids.",
    )
    total = 0
    for writer, dataset in zip(writers, train_eval_data, strict=True):
        spec = dataset.element_spec
        _require(
            isinstance(spec, tuple) and len(spec) == 2 and tuple(getattr(spec[0], "shape", ()))[1:] == (28, 28, 1),
            f"writer {writer}: batches should be (images [batch, 28, 28, 1], labels) pairs: use data.preprocess_test.",
        )
        expected = _examples(train_data.create_tf_dataset_for_client(writer))
        got = sum(int(images.shape[0]) for images, _ in dataset)
        _require(
            got == expected,
            f"writer {writer}: {got} examples in your dataset, {expected} in its training data: preprocess "
            "emnist_train.create_tf_dataset_for_client(writer) with data.preprocess_test (one pass, no shuffling).",
        )
        total += got
    print(f"Right: {len(writers)} writers, {total:,} training examples, ready for training.evaluate.")


def check_dense_run(history_dense: History, dense_metrics: dict) -> None:
    """Exercise 4: a FedAvg run of the dense 784 -> 10 model and its federated test metrics."""
    _require_history(history_dense, "history_dense")
    row = history_dense.rows[0]
    down = row["cumulative_broadcast_bits"] // row["clients"]
    _require(
        down == DENSE_BITS[0],
        f"history_dense broadcasts {down:,} bits per client and round, not the dense model's {DENSE_BITS[0]:,}: "
        'build the process with algorithms.build_fedavg("dense", client_lr=0.1) and train with flat=True.',
    )
    _require(
        isinstance(dense_metrics, dict) and isinstance(dense_metrics.get("accuracy"), float),
        f"dense_metrics is {dense_metrics!r}: pass the dict that experiments.evaluate returns.",
    )
    _require(
        dense_metrics["accuracy"] > 0.5,
        f"test accuracy {dense_metrics['accuracy']:.3f}: the dense model has barely learned; train it 10 rounds with "
        'client_lr=0.1 and epochs=5, and evaluate with algorithms.build_evaluation("dense") on flat test data.',
    )
    print(
        f"Right: test accuracy {dense_metrics['accuracy']:.3f} after {len(history_dense.rows)} rounds, with "
        f"{DENSE_BITS[0]:,} bits down per client and round against the CNN's {CNN_BITS[0]:,} "
        f"({CNN_BITS[0] / DENSE_BITS[0]:.0f} times fewer)."
    )
