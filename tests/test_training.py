"""fedkit.training: the round loop's sampling, history, communication records and TensorBoard logs."""

import numpy as np
import pytest
import tensorflow as tf

from fedkit import data, sizing, training


@pytest.fixture(scope="module")
def dense_fedavg():
    return training.build_fedavg("dense", client_lr=0.1)


def test_rounds_record_metrics_bits_and_tensorboard(emnist, dense_fedavg, tmp_path):
    train, test = emnist
    state, history = training.run_rounds(dense_fedavg, train, rounds=3, clients_per_round=4, seed=5, flat=True,
                                         log_dir=tmp_path, verbose=False)  # fmt: skip
    cost = sizing.communication_cost(dense_fedavg.next)
    assert history.column("round") == [1, 2, 3]
    assert history.column("cumulative_broadcast_bits") == [cost.broadcast_bits * 4 * r for r in (1, 2, 3)]
    assert history.column("cumulative_aggregate_bits") == [cost.aggregate_bits * 4 * r for r in (1, 2, 3)]
    assert all(0 <= a <= 1 for a in history.column("accuracy")) and all(n > 0 for n in history.column("examples"))
    frame = history.to_frame()
    assert list(frame.index) == [1, 2, 3] and "loss" in frame

    tags = set()
    for event_file in tmp_path.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {v.tag for v in event.summary.value}
    assert {"loss", "accuracy", "cumulative_broadcasted_bits", "cumulative_aggregated_bits"} <= tags

    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids[:5]]
    metrics = training.evaluate(training.build_evaluation("dense"), dense_fedavg.get_model_weights(state), test_data)
    assert set(metrics) == {"loss", "accuracy"} and 0 <= metrics["accuracy"] <= 1


def test_same_seed_same_run(emnist, dense_fedavg):
    train, _ = emnist
    runs = [training.run_rounds(dense_fedavg, train, 2, clients_per_round=3, seed=11, flat=True, verbose=False)
            for _ in range(2)]  # fmt: skip
    (s1, h1), (s2, h2) = runs
    assert h1.column("examples") == h2.column("examples")
    for a, b in zip(
        dense_fedavg.get_model_weights(s1).trainable, dense_fedavg.get_model_weights(s2).trainable, strict=False
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_progress_lines(emnist, dense_fedavg, capsys):
    train, _ = emnist
    training.run_rounds(dense_fedavg, train, 2, clients_per_round=2, seed=0, flat=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("[")[0].split() for line in lines] == [["round", "1/2"], ["round", "2/2"]]
    assert all("loss=" in line and "broadcast=" in line for line in lines)


def test_bad_arguments(emnist, dense_fedavg):
    train, _ = emnist
    with pytest.raises(ValueError, match="rounds=0"):
        training.run_rounds(dense_fedavg, train, 0)
    with pytest.raises(ValueError, match="num_clients=500"):
        training.run_rounds(dense_fedavg, train, 1, clients_per_round=500, flat=True, verbose=False)
    with pytest.raises(ValueError, match=r"do not fit the process.*flat=True for the dense"):
        training.run_rounds(dense_fedavg, train, 1, clients_per_round=2, flat=False, verbose=False)
    with pytest.raises(ValueError, match="client_lr=0"):
        training.build_fedavg("dense", client_lr=0)
    with pytest.raises(ValueError, match="unknown encoder 'gzip'"):
        training.build_fedavg("dense", broadcast="gzip:8")
