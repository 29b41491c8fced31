"""Checkers for the exercises of notebook 02 (your first federated training)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.experiments import History


def _require(condition: bool | np.bool_, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def check_mean_pixels(source: tff.simulation.datasets.ClientData, raw: float, inverted: float) -> None:
    """Exercise 1: the mean input of the first writer's examples, as published and inverted."""
    examples = source.create_tf_dataset_for_client(source.client_ids[0])
    mean = float(np.mean([e["pixels"].numpy().mean() for e in examples]))
    for name, value in (("raw", raw), ("inverted", inverted)):
        _require(
            isinstance(value, (int, float, np.floating)) and not isinstance(value, bool),
            f"{name}={value!r}: pass a number, e.g. float(x.numpy().mean()).",
        )
    _require(
        not (np.isclose(raw, 1 - mean, atol=0.005) and np.isclose(inverted, mean, atol=0.005)),
        f"raw={raw:.3f}, inverted={inverted:.3f}: swapped; the published pixels have a white background of 1.0.",
    )
    _require(
        np.isclose(raw, mean, atol=0.005),
        f"raw={raw:.3f}: take the mean of every pixel of every example of writer source.client_ids[0] as the "
        "published client_data serves them (the 10 repeats do not change a mean).",
    )
    _require(
        np.isclose(inverted, 1 - mean, atol=0.005),
        f"inverted={inverted:.3f}: the same mean over your preprocess's inputs (1 - pixels).",
    )
    print(f"Right: mean input {raw:.3f} as published, {inverted:.3f} inverted: the background is most of an image.")


def check_server_learning_rate(
    process: tff.learning.templates.LearningProcess, part: str, learning_rate: float
) -> None:
    """Exercise 2: the server-state part holding the server optimizer's learning rate, and its value."""
    state_type = process.initialize.type_signature.result.member
    holders = [
        name
        for name, t in tff.structure.iter_elements(state_type)
        if "learning_rate" in str(t) and name != "client_work"
    ]
    _require(len(holders) == 1, f"this process's state {state_type} has no single server learning rate to find.")
    _require(
        part == holders[0],
        f"part={part!r}: look for `learning_rate` in trainer.initialize.type_signature; the server optimizer's "
        "state is the part that applies the averaged update to the model (the last step of a round).",
    )
    value = float(getattr(process.initialize(), part)["learning_rate"])
    _require(
        np.isclose(learning_rate, value),
        f"learning_rate={learning_rate}: read it from trainer.initialize().{part} (the landing example never "
        "sets a server optimizer, so this is build_weighted_fed_avg's default).",
    )
    print(f"Right: the server optimizer's state is `{part}`, with learning rate {value}.")


def check_client_batches(dataset: tf.data.Dataset, batches: int, examples: int) -> None:
    """Exercise 3: how many batches and examples one client trains on in one round."""
    sizes = [int(tf.shape(tf.nest.flatten(batch)[0])[0]) for batch in dataset]
    _require(
        batches == len(sizes),
        f"batches={batches}: count the elements of the dataset (each element is one batch of up to 20), "
        "e.g. with sum(1 for _ in dataset); the 10 repeats come before batching.",
    )
    _require(
        examples == sum(sizes),
        f"examples={examples}: add up the batch sizes (the last batch can be smaller than 20); it is 10 times "
        "the writer's examples.",
    )
    print(f"Right: {batches} batches, {examples} examples ({examples // 10} examples repeated 10 times).")


def check_resumed(first: History, second: History, rounds_trained: int) -> None:
    """Exercise 4: a run resumed from a checkpoint continues the first one instead of starting over."""
    done = len(first.rows)
    _require(done > 0 and len(second.rows) > done, "run the first call for fewer rounds than the second.")
    _require(
        second.column("round") == list(range(1, len(second.rows) + 1)),
        f"the second history has rounds {second.column('round')}: give both calls the same checkpoint_dir.",
    )
    _require(
        second.rows[:done] == first.rows,
        "the second run's first rows differ from the first run's: use the same checkpoint_dir, seed and "
        "clients_per_round, and a fresh folder for the first call.",
    )
    _require(
        rounds_trained == len(second.rows) - done,
        f"rounds_trained={rounds_trained}: the second call resumed after round {done}, so it trained only "
        "the rounds after that (it printed them).",
    )
    print(f"Right: the second call resumed after round {done} and trained rounds {done + 1}-{len(second.rows)}.")
