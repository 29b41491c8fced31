"""Checkers for the exercises of lesson 00 (what is federated learning?): NumPy only, no TensorFlow."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np

_CENTERS = np.array([[2.0, 2.0], [-2.0, 2.0], [-2.0, -2.0], [2.0, -2.0]])
_MODEL_BITS = 3 * 4 * 64  # the lesson's 3 x 4 weights, 64-bit floats


def _require(condition: bool, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def _make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The lesson's `make_data`: `n` points around 4 centers, and their classes."""
    y = rng.integers(len(_CENTERS), size=n)
    return _CENTERS[y] + 1.6 * rng.normal(size=(n, 2)), y


def _with_bias(x: np.ndarray) -> np.ndarray:
    return np.hstack([x, np.ones((len(x), 1))])


def _train(w: np.ndarray, x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> np.ndarray:
    """The lesson's `train`: gradient descent on the softmax regression's cross-entropy."""
    for _ in range(steps):
        logits = _with_bias(x) @ w
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        w = w - lr * _with_bias(x).T @ p / len(y)
    return w


def _accuracy(w: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(((_with_bias(x) @ w).argmax(axis=1) == y).mean())


def _fedavg(clients: list, rounds: int, local_steps: int, lr: float) -> np.ndarray:
    """The lesson's `fedavg`, with every client in every round."""
    w = np.zeros((3, 4))
    sizes = np.array([len(y) for _, y in clients], dtype=float)
    for _ in range(rounds):
        local = [_train(w, x, y, local_steps, lr) for x, y in clients]
        w = sum(n * w_k for n, w_k in zip(sizes, local, strict=True)) / sizes.sum()
    return w


def check_weighted_average(weighted_average: Callable) -> None:
    """Exercise 1: the clients' models averaged with weights proportional to their sizes."""
    _require(callable(weighted_average), "pass your function itself: intro.check_weighted_average(weighted_average).")
    models, sizes = [np.full((3, 4), 1.0), np.full((3, 4), 3.0)], [300, 100]
    got = np.asarray(weighted_average(models, sizes), dtype=float)
    _require(got.shape == (3, 4), f"it returned shape {got.shape}: return one array shaped like each model, (3, 4).")
    _require(
        not np.allclose(got, 2.0),
        "models of 1.0 (300 examples) and 3.0 (100 examples) gave 2.0, the plain mean: weight each model "
        "by its size, sum, and divide by the total size.",
    )
    _require(
        np.allclose(got, 1.5), f"models of 1.0 (300 examples) and 3.0 (100 examples) gave {got.flat[0]:g}, not 1.5."
    )
    rng = np.random.default_rng(0)
    models, sizes = [rng.normal(size=(3, 4)) for _ in range(3)], [5, 1, 14]
    expected = sum(n * m for n, m in zip(sizes, models, strict=True)) / sum(sizes)
    _require(
        np.allclose(weighted_average(models, sizes), expected),
        "right on two clients, wrong on three: use every model and every size, not just the first two.",
    )
    print("Right: each model counts in proportion to its client's examples.")


def check_bits_down(ten_rounds: int, five_hundred_rounds: int) -> None:
    """Exercise 2: bits the server sends in the lesson's 10-round and 500-round runs with 4 clients."""
    for name, answer, rounds in (("ten_rounds", ten_rounds, 10), ("five_hundred_rounds", five_hundred_rounds, 500)):
        expected = rounds * 4 * _MODEL_BITS
        _require(
            isinstance(answer, (int, np.integer)) and not isinstance(answer, bool),
            f"{name}={answer!r}: give a whole number of bits.",
        )
        _require(
            answer != rounds * _MODEL_BITS,
            f"{name}={answer}: that is one client's share; each of the 4 clients receives the model every round.",
        )
        _require(answer != rounds * 4 * 12, f"{name}={answer}: that counts floats; each float is 64 bits.")
        _require(answer == expected, f"{name}={answer}: multiply rounds x clients x weights (3 x 4) x 64 bits.")
    print(f"Right: {ten_rounds:,} bits against {five_hundred_rounds:,}: 50 times as much to send.")


def check_fedavg_sampled(fedavg_sampled: Callable) -> None:
    """Exercise 3: FedAvg that uses `per_round` clients drawn at random each round."""
    _require(callable(fedavg_sampled), "pass your function itself: intro.check_fedavg_sampled(fedavg_sampled).")
    names = list(inspect.signature(fedavg_sampled).parameters)
    expected_names = ["clients", "rounds", "local_steps", "lr", "per_round", "rng"]
    _require(names[:6] == expected_names, f"its parameters are {names}: use ({', '.join(expected_names)}).")
    rng = np.random.default_rng(1)
    x, y = _make_data(rng, 800)
    x_test, y_test = _make_data(rng, 2000)
    order = rng.permutation(len(y))
    clients = [(x[part], y[part]) for part in np.array_split(order, 4)]
    full = np.asarray(fedavg_sampled(clients, 3, 10, 1.0, 4, np.random.default_rng(0)))
    _require(
        np.allclose(full, _fedavg(clients, 3, 10, 1.0)),
        "with per_round=4 of 4 clients it should equal fedavg: start from zeros (3 x 4), train every "
        "sampled client from the server's w, and weight by sizes.",
    )
    one = np.asarray(fedavg_sampled(clients, 1, 10, 1.0, 1, np.random.default_rng(0)))
    singles = [_train(np.zeros((3, 4)), cx, cy, 10, 1.0) for cx, cy in clients]
    _require(
        any(np.allclose(one, s) for s in singles),
        "with per_round=1 and one round, the result should be one client's locally trained model: "
        "average only the sampled clients, over their own sizes.",
    )
    central = _accuracy(_train(np.zeros((3, 4)), x, y, 200, 1.0), x_test, y_test)
    sampled = _accuracy(np.asarray(fedavg_sampled(clients, 20, 10, 1.0, 2, np.random.default_rng(0))), x_test, y_test)
    _require(
        sampled >= central - 0.03,
        f"with 2 of 4 IID clients a round for 20 rounds it reached test accuracy "
        f"{sampled:.3f} against {central:.3f} centrally: draw new clients every round with rng.choice(..., "
        "replace=False).",
    )
    print(
        f"Right: it matches fedavg with every client, and with 2 of 4 a round it reaches {sampled:.3f} "
        f"(central: {central:.3f})."
    )
