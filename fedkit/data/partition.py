"""Ways to deal the same examples out to clients: by writer (the natural split), IID, and by label.

Each split returns `{client_id: row indices}` into one pool of examples, so the three can be compared on
the same examples and the same client sizes. Only `client_data` needs TensorFlow (imported when called).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

Split = dict[str, np.ndarray]


def _check_sizes(sizes: npt.ArrayLike, n: int) -> np.ndarray:
    counts = np.asarray(sizes, dtype=int)
    if counts.ndim != 1 or (counts < 1).any() or counts.sum() != n:
        raise ValueError(f"sizes must be positive and sum to the {n} examples; they sum to {int(counts.sum())}.")
    return counts


def by_writer(owners: npt.ArrayLike) -> Split:
    """The natural split: each owner (writer) keeps their own examples."""
    names = np.asarray(owners, dtype=str)
    return {str(w): np.flatnonzero(names == w) for w in np.unique(names)}


def iid(n: int, sizes: npt.ArrayLike, seed: int = 0) -> Split:
    """IID: the `n` examples pooled, shuffled and dealt out to clients of the given sizes."""
    counts = _check_sizes(sizes, n)
    rows = np.random.default_rng(seed).permutation(n)
    return {f"iid_{i:03d}": part for i, part in enumerate(np.split(rows, np.cumsum(counts)[:-1]))}


def by_label(labels: npt.ArrayLike, sizes: npt.ArrayLike, seed: int = 0) -> Split:
    """Label skew: examples sorted by label (shuffled within a label), cut into clients of the given sizes.

    A client smaller than every label's count holds one or two labels.
    """
    label_of = np.asarray(labels)
    counts = _check_sizes(sizes, len(label_of))
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(len(label_of))
    rows = shuffled[np.argsort(label_of[shuffled], kind="stable")]
    parts = np.split(rows, np.cumsum(rng.permutation(counts))[:-1])
    return {f"label_{i:03d}": part for i, part in enumerate(parts)}


def label_counts(split: Mapping[str, np.ndarray], labels: npt.ArrayLike, num_labels: int = 10) -> np.ndarray:
    """One row per client (in the split's order): how many examples of each label it holds."""
    label_of = np.asarray(labels)
    return np.array([np.bincount(label_of[rows], minlength=num_labels) for rows in split.values()])


def pool(client_data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every example of a `ClientData` in one place: (owner ids, labels, pixels), client by client."""
    owners, labels, pixels = [], [], []
    for client_id in client_data.client_ids:
        for batch in client_data.create_tf_dataset_for_client(client_id).batch(10_000):
            owners += [client_id] * len(batch["label"])
            labels.append(batch["label"].numpy())
            pixels.append(batch["pixels"].numpy())
    return np.asarray(owners, dtype=str), np.concatenate(labels), np.concatenate(pixels)


def client_data(split: Mapping[str, np.ndarray], labels: np.ndarray, pixels: np.ndarray):
    """A TFF `ClientData` serving each client's rows of `labels` and `pixels` (EMNIST's element structure)."""
    import collections

    import tensorflow as tf
    import tensorflow_federated as tff

    def dataset_fn(client_id: str) -> tf.data.Dataset:
        rows = split[client_id]
        return tf.data.Dataset.from_tensor_slices(collections.OrderedDict(label=labels[rows], pixels=pixels[rows]))

    return tff.simulation.datasets.ClientData.from_clients_and_tf_fn(list(split), dataset_fn)
