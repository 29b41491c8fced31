"""Checkers for the exercises of notebook 05 (FedAvg from scratch, and TFF's builders)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from fedkit import models

# Exercise 3: two clients, their example counts and the (one-number) model deltas they send.
CLIENT_EXAMPLES = (100, 300)
CLIENT_DELTAS = (1.0, -1.0)


def _require(condition: bool | np.bool_, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def check_cnn_bits(broadcast_bits: int, aggregate_bits: int) -> None:
    """Exercise 1: per-client bits of `fedkit.algorithms.fedavg` for the FedAvg CNN, predicted without building it."""
    params = models.create_keras_model("cnn").count_params()
    model_bits = params * 32
    _require(
        broadcast_bits == model_bits,
        f"broadcast_bits={broadcast_bits}: the server sends the model weights, {params:,} float32 parameters "
        "(models.create_keras_model('cnn').count_params()), 32 bits each.",
    )
    _require(
        aggregate_bits == model_bits + 32,
        f"aggregate_bits={aggregate_bits}: each client sends a delta of the model's shape and one float32 weight.",
    )
    print(f"Right: {broadcast_bits:,} bits down and {aggregate_bits:,} bits up per client.")


def check_proximal_term(proximal_term: Callable) -> None:
    """Exercise 2: FedProx's penalty mu/2 * ||w - w_global||^2 over a list of tensors."""
    rng = np.random.default_rng(0)
    shapes = [(3, 4), (4,)]
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    initial = [rng.normal(size=s).astype(np.float32) for s in shapes]
    for mu in (0.0, 0.1, 2.0):
        expected = mu / 2 * sum(float(np.sum((w - i) ** 2)) for w, i in zip(weights, initial, strict=True))
        got = float(proximal_term([tf.constant(w) for w in weights], [tf.constant(i) for i in initial], mu))
        _require(
            np.isclose(got, expected, rtol=1e-5),
            f"with mu={mu} it returned {got:.5f}, not {expected:.5f}: sum the squared differences over every "
            "tensor, then multiply by mu / 2.",
        )
    print("Right: the proximal term is mu/2 times the squared distance to the global model, over all tensors.")


def check_means(weighted: float, unweighted: float) -> None:
    """Exercise 3: the mean delta that weighted and unweighted FedAvg apply for `CLIENT_EXAMPLES`/`CLIENT_DELTAS`."""
    n, d = np.array(CLIENT_EXAMPLES, float), np.array(CLIENT_DELTAS, float)
    _require(
        np.isclose(weighted, np.sum(n * d) / np.sum(n)),
        f"weighted={weighted}: weight each client's delta by its examples, then divide by the total examples.",
    )
    _require(
        np.isclose(unweighted, np.mean(d)),
        f"unweighted={unweighted}: each client counts once, whatever its number of examples.",
    )
    print(f"Right: weighted mean {weighted:+.2f}, unweighted {unweighted:+.2f}: the big client pulls the weighted one.")


def check_round_verdict(record: dict, round_num: int, differs: bool) -> None:
    """Exercise 4: whether FedSGD (rate 1.0) and weighted FedAvg differ after `round_num`, from the results file."""
    from fedkit.common import results

    _require(isinstance(record, dict) and "data" in record, 'record should be what results.read("algorithms") returns.')
    accuracy = record["data"]["test_accuracy"]
    _require(
        str(round_num) in accuracy["weighted FedAvg"],
        f"round {round_num} was not evaluated: choose one of {', '.join(accuracy['weighted FedAvg'])}.",
    )
    _require(isinstance(differs, bool), f"differs={differs!r}: pass the True or False that results.differs returns.")
    a, b = (results.summary(accuracy[name][str(round_num)]) for name in ("FedSGD lr=1", "weighted FedAvg"))
    expected = results.differs(a, b)
    _require(
        differs == expected,
        f"differs={differs}: after round {round_num} FedSGD's mean is {a['mean']:.3f} ± {a['ci95']:.3f} and weighted "
        f"FedAvg's {b['mean']:.3f} ± {b['ci95']:.3f}; pass both summaries of round {round_num} to results.differs.",
    )
    print(
        f"Right: after round {round_num}, FedSGD {a['mean']:.3f} ± {a['ci95']:.3f} against weighted FedAvg "
        f"{b['mean']:.3f} ± {b['ci95']:.3f}: {'they differ' if differs else 'no difference'}."
    )
