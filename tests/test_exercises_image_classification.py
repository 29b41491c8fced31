"""Notebook 03's exercise checkers pass the right answers and fail wrong ones with a hint."""

import numpy as np
import pytest

from fedkit import data
from fedkit.exercises import image_classification as ex
from fedkit.experiments import History

DOWN, UP = 53_227_872, 53_228_128  # the FedAvg CNN's bits per client and round


def run(rounds=3, clients=10, epochs=2, seed=0, down=DOWN, up=UP, track_size=True) -> History:
    """The History that run_rounds records, with each writer holding 100 + its index examples."""
    rng, rows = np.random.default_rng(seed), []
    for r in range(1, rounds + 1):
        sampled = rng.choice(100, size=clients, replace=False)
        row = {
            "round": r,
            "loss": 1.0,
            "accuracy": 0.5,
            "clients": clients,
            "examples": int(epochs * (100 * clients + sampled.sum())),
        }
        if track_size:
            row |= {"cumulative_broadcast_bits": r * clients * down, "cumulative_aggregate_bits": r * clients * up}
        rows.append(row)
    return History(rows)


def test_fewer_clients_right_answer(capsys):
    ex.check_fewer_clients(run(clients=10), run(clients=5))
    assert capsys.readouterr().out.startswith("Right: 5 clients per round move 5/10 of the bits")


@pytest.mark.parametrize(
    "fewer, match",
    [
        (run(clients=10), "smaller clients_per_round"),
        (run(clients=20), "smaller clients_per_round"),
        (run(clients=5, down=DOWN // 4), "same model"),
        (run(clients=5, track_size=False), "track_size"),
        ([], "not the History"),
    ],
)
def test_fewer_clients_wrong_answers(fewer, match):
    with pytest.raises(AssertionError, match=match):
        ex.check_fewer_clients(run(clients=10), fewer)


def test_more_epochs_right_answer(capsys):
    ex.check_more_epochs(run(epochs=2), run(epochs=1, rounds=5))
    assert "0.5 times the examples" in capsys.readouterr().out


@pytest.mark.parametrize(
    "other, match",
    [
        (run(epochs=2), "another `epochs`"),
        (run(epochs=1, seed=1), "same seed"),
        (run(epochs=1, clients=5), "change only `epochs`"),
    ],
)
def test_more_epochs_wrong_answers(other, match):
    with pytest.raises(AssertionError, match=match):
        ex.check_more_epochs(run(epochs=2), other)


def test_train_evaluation_data(emnist, capsys):
    train, test = emnist
    right = [data.preprocess_test(train.create_tf_dataset_for_client(c)) for c in train.client_ids]
    ex.check_train_evaluation_data(right, train)
    assert "Right:" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="in its training data"):
        ex.check_train_evaluation_data(
            [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in train.client_ids], train
        )
    with pytest.raises(AssertionError, match="datasets for"):
        ex.check_train_evaluation_data(right[:10], train)
    with pytest.raises(AssertionError, match="28, 28, 1"):
        ex.check_train_evaluation_data(
            [data.preprocess_test(train.create_tf_dataset_for_client(c), flat=True) for c in train.client_ids], train
        )


def test_dense_run(capsys):
    dense = run(clients=10, down=ex.DENSE_BITS[0], up=ex.DENSE_BITS[1])
    ex.check_dense_run(dense, {"loss": 0.6, "accuracy": 0.83})
    assert capsys.readouterr().out.startswith("Right: test accuracy 0.830")
    with pytest.raises(AssertionError, match="not the dense model's"):
        ex.check_dense_run(run(clients=10), {"accuracy": 0.83})
    with pytest.raises(AssertionError, match="experiments.evaluate returns"):
        ex.check_dense_run(dense, 0.83)
    with pytest.raises(AssertionError, match="barely learned"):
        ex.check_dense_run(dense, {"accuracy": 0.12})
