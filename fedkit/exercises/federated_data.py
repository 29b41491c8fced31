"""Checkers for notebook 06 (federated data)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow_federated as tff


def _labels(dataset) -> np.ndarray:
    return np.concatenate([b["label"].numpy() for b in dataset.batch(2000)] or [np.zeros(0, np.int32)])


def _label_counts(client_data: tff.simulation.datasets.ClientData, client_id: str) -> np.ndarray:
    if client_id not in client_data.client_ids:
        raise ValueError(f"client_id {client_id!r} is not in this ClientData: pick one of its client_ids.")
    return np.bincount(_labels(client_data.create_tf_dataset_for_client(client_id)), minlength=10)


def check_label_counts(client_data: tff.simulation.datasets.ClientData, client_id: str, answer: Sequence[int]) -> None:
    """Exercise 1: the number of examples of each digit that one writer holds."""
    expected = _label_counts(client_data, client_id)
    counts = np.asarray(answer)
    if counts.shape != (10,):
        raise AssertionError(
            f"the answer has shape {counts.shape}: give 10 counts, one per digit 0-9 "
            "(np.bincount(labels, minlength=10))."
        )
    if counts.sum() != expected.sum():
        raise AssertionError(
            f"your counts add up to {counts.sum()}, but {client_id} holds {expected.sum()} "
            "examples: count every example of its dataset once."
        )
    if not np.array_equal(counts, expected):
        raise AssertionError("right total, wrong split over digits: count example['label'], in order 0-9.")
    print(f"Right: {client_id} holds {expected.sum()} examples, {expected.min()}-{expected.max()} per digit.")


def check_total_variation(client_data: tff.simulation.datasets.ClientData, client_id: str, answer: float) -> None:
    """Exercise 2: total variation distance between one writer's label shares and all writers'."""
    mine = _label_counts(client_data, client_id)
    everyone = np.bincount(_labels(client_data.create_tf_dataset_from_all_clients()), minlength=10)
    p, q = mine / mine.sum(), everyone / everyone.sum()
    expected = 0.5 * float(np.abs(p - q).sum())
    if np.isclose(answer, 2 * expected, atol=1e-4):
        raise AssertionError("that is the sum of absolute differences: total variation is half of it.")
    if np.isclose(answer, 0.5 * float(np.abs(mine - everyone).sum()), atol=1e-4):
        raise AssertionError("compare shares, not counts: divide each count vector by its total first.")
    if not np.isclose(answer, expected, atol=1e-4):
        raise AssertionError(f"{answer} is not it: 0.5 * sum(|p - q|), with p and q the two label shares.")
    print(f"Right: {client_id} is at distance {expected:.4f} from all writers' label mix.")


def check_one_digit_per_client(
    client_data: tff.simulation.datasets.ClientData, answer: tff.simulation.datasets.ClientData
) -> None:
    """Exercise 3: ten clients '0'-'9', client 'd' holding every example of digit d."""
    if not isinstance(answer, tff.simulation.datasets.ClientData):
        raise AssertionError(
            f"the answer is a {type(answer).__name__}: build a ClientData (ClientData.from_clients_and_tf_fn)."
        )
    ids = [str(d) for d in range(10)]
    if sorted(answer.client_ids) != ids:
        raise AssertionError(f"client_ids are {answer.client_ids}; expected the strings '0' to '9'.")
    if answer.element_type_structure != client_data.element_type_structure:
        raise AssertionError(
            f"elements are {answer.element_type_structure}; keep EMNIST's "
            f"{client_data.element_type_structure} (filter, do not map)."
        )
    everyone = np.bincount(_labels(client_data.create_tf_dataset_from_all_clients()), minlength=10)
    for d in ids:
        labels = _labels(answer.create_tf_dataset_for_client(d))
        if np.any(labels != int(d)):
            raise AssertionError(f"client {d!r} holds labels {sorted(set(labels.tolist()))}: keep only label {d}.")
        if len(labels) != everyone[int(d)]:
            raise AssertionError(
                f"client {d!r} holds {len(labels)} examples of {d}, of the {everyone[int(d)]} "
                "in the training data: take them from all clients."
            )
    print(f"Right: ten one-digit clients, {everyone.min()}-{everyone.max()} examples each.")
