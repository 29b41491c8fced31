"""Checkers for notebook 07 (non-IID data): splits as `{client_id: row indices}` over one array of labels."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np


def _counts(split: Mapping[str, np.ndarray], labels: np.ndarray) -> np.ndarray:
    if not isinstance(split, Mapping) or not split:
        raise ValueError(f"split is a {type(split).__name__}: pass a dict from client id to row indices.")
    return np.array([np.bincount(labels[np.asarray(rows, dtype=int)], minlength=10) for rows in split.values()])


def _median_distance(counts: np.ndarray) -> float:
    counts = counts[counts.sum(axis=1) > 0]  # a client dealt no rows has no label mix
    overall = counts.sum(axis=0) / counts.sum()
    shares = counts / counts.sum(axis=1, keepdims=True)
    return float(np.median(0.5 * np.abs(shares - overall).sum(axis=1)))


def check_one_label_clients(split: Mapping[str, np.ndarray], labels: np.ndarray, answer: int) -> None:
    """Exercise 1: how many clients of `split` hold examples of exactly one label."""
    held = (_counts(split, np.asarray(labels)) > 0).sum(axis=1)
    expected = int((held == 1).sum())
    if not isinstance(answer, int | np.integer):
        raise AssertionError(f"the answer is a {type(answer).__name__}: give a whole number of clients.")
    if answer == int((held == 2).sum()):
        raise AssertionError("that is the number of clients holding two labels: count those holding one.")
    if answer != expected:
        raise AssertionError(f"{answer} is not it: count the clients whose label counts have one nonzero entry.")
    print(f"Right: {expected} of the {len(held)} clients hold one label, the other {len(held) - expected} two or more.")


def check_median_distance(split: Mapping[str, np.ndarray], labels: np.ndarray, answer: float) -> None:
    """Exercise 2: the median over clients of the total variation distance to the pooled label mix."""
    counts = _counts(split, np.asarray(labels))
    expected = _median_distance(counts)
    if np.isclose(answer, 2 * expected, atol=1e-4):
        raise AssertionError("that is the sum of absolute differences: total variation is half of it.")
    mean = float(np.mean(0.5 * np.abs(counts / counts.sum(1, keepdims=True) - counts.sum(0) / counts.sum()).sum(1)))
    if np.isclose(answer, mean, atol=1e-4) and not np.isclose(mean, expected, atol=1e-4):
        raise AssertionError("that is the mean over clients: take the median (np.median).")
    if not np.isclose(answer, expected, atol=1e-4):
        raise AssertionError(
            f"{answer} is not it: for each client 0.5 * sum(|p - q|) (its label shares p, "
            "all examples' shares q), then the median over clients."
        )
    print(f"Right: the median client is at distance {expected:.3f} from the pooled label mix.")


def check_dirichlet_split(split_fn: Callable, labels: np.ndarray) -> None:
    """Exercise 3: `split_fn(labels, num_clients, alpha, seed)` deals every example once, skewed by `alpha`."""
    labels = np.asarray(labels)
    splits = {alpha: split_fn(labels, 20, alpha, 0) for alpha in (0.1, 100.0)}
    for alpha, split in splits.items():
        if not isinstance(split, Mapping) or len(split) != 20:
            raise AssertionError(f"split_fn(labels, 20, {alpha}, 0) gave {len(split)} clients, not 20.")
        rows = np.sort(np.concatenate([np.asarray(r, dtype=int) for r in split.values()]))
        if not np.array_equal(rows, np.arange(len(labels))):
            raise AssertionError(
                f"with alpha={alpha} the rows dealt are not each of 0..{len(labels) - 1} once: "
                "split each label's rows among the clients, without repeats."
            )
    again = split_fn(labels, 20, 0.1, 0)
    if not all(np.array_equal(a, b) for a, b in zip(again.values(), splits[0.1].values(), strict=True)):
        raise AssertionError("two calls with seed 0 differ: draw from np.random.default_rng(seed).")
    skewed, mixed = (_median_distance(_counts(splits[a], labels)) for a in (0.1, 100.0))
    if not skewed > mixed + 0.2:
        raise AssertionError(
            f"median distance {skewed:.3f} at alpha=0.1 and {mixed:.3f} at alpha=100: a small "
            "alpha must skew more: draw each label's shares from Dirichlet(alpha)."
        )
    print(f"Right: median distance to the pooled mix {skewed:.3f} at alpha=0.1, {mixed:.3f} at alpha=100.")
