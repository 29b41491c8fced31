"""fedkit.exercises.federated_data: notebook 06's checkers fail wrong answers with a hint and pass right ones."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.exercises import federated_data as ex

LABELS = {"a": [0, 0, 1, 2, 2, 2], "b": [3, 4, 5, 6, 7, 8, 9, 9]}


@pytest.fixture(scope="module")
def client_data():
    """Two writers with known labels, in EMNIST's element structure."""
    return tff.simulation.datasets.TestClientData(
        {
            c: collections.OrderedDict(label=np.int32(v), pixels=np.zeros((len(v), 28, 28), np.float32))
            for c, v in LABELS.items()
        }
    )


def test_label_counts(client_data, capsys):
    ex.check_label_counts(client_data, "a", [2, 1, 3, 0, 0, 0, 0, 0, 0, 0])
    assert capsys.readouterr().out.startswith("Right: a holds 6 examples")
    with pytest.raises(AssertionError, match="give 10 counts"):
        ex.check_label_counts(client_data, "a", [2, 1, 3])
    with pytest.raises(AssertionError, match="add up to 5"):
        ex.check_label_counts(client_data, "a", [2, 1, 2, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(AssertionError, match="wrong split"):
        ex.check_label_counts(client_data, "a", [1, 2, 3, 0, 0, 0, 0, 0, 0, 0])
    with pytest.raises(ValueError, match="'zz' is not in this ClientData"):
        ex.check_label_counts(client_data, "zz", [0] * 10)


def test_total_variation(client_data, capsys):
    p = np.bincount(LABELS["a"], minlength=10) / 6
    q = np.bincount(LABELS["a"] + LABELS["b"], minlength=10) / 14
    right = 0.5 * np.abs(p - q).sum()
    ex.check_total_variation(client_data, "a", right)
    assert "Right: a is at distance" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="half of it"):
        ex.check_total_variation(client_data, "a", 2 * right)
    counts_a, counts_all = np.bincount(LABELS["a"], minlength=10), np.bincount(LABELS["a"] + LABELS["b"], minlength=10)
    with pytest.raises(AssertionError, match="not counts"):
        ex.check_total_variation(client_data, "a", 0.5 * np.abs(counts_a - counts_all).sum())
    with pytest.raises(AssertionError, match="is not it"):
        ex.check_total_variation(client_data, "a", 0.0)


def _by_digit(client_data, keep=lambda d: d, ids=range(10)):
    pooled = client_data.create_tf_dataset_from_all_clients()
    return tff.simulation.datasets.ClientData.from_clients_and_tf_fn(
        [str(d) for d in ids], lambda c: pooled.filter(lambda e: e["label"] == keep(int(c)))
    )


def test_one_digit_per_client(client_data, capsys):
    ex.check_one_digit_per_client(client_data, _by_digit(client_data))
    assert capsys.readouterr().out.startswith("Right: ten one-digit clients, 1-3 examples each")
    with pytest.raises(AssertionError, match="build a ClientData"):
        ex.check_one_digit_per_client(client_data, {"0": None})
    with pytest.raises(AssertionError, match="client_ids are"):
        ex.check_one_digit_per_client(client_data, _by_digit(client_data, ids=range(1, 11)))
    with pytest.raises(AssertionError, match="keep only label"):
        shifted = _by_digit(client_data, keep=lambda d: (d + 1) % 10)
        ex.check_one_digit_per_client(client_data, shifted)
    only_a = tff.simulation.datasets.ClientData.from_clients_and_tf_fn(
        [str(d) for d in range(10)],
        lambda c: client_data.create_tf_dataset_for_client("a").filter(lambda e: e["label"] == int(c)),
    )
    with pytest.raises(AssertionError, match="take them from all clients"):
        ex.check_one_digit_per_client(client_data, only_a)
    flat = client_data.preprocess(lambda ds: ds.map(lambda e: (tf.reshape(e["pixels"], [784]), e["label"])))
    renamed = tff.simulation.datasets.ClientData.from_clients_and_tf_fn(
        [str(d) for d in range(10)], lambda c: flat.create_tf_dataset_for_client("a")
    )
    with pytest.raises(AssertionError, match="filter, do not map"):
        ex.check_one_digit_per_client(client_data, renamed)
