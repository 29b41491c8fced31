"""fedkit.experiments.rounds (with fedkit.algorithms.builders): the round loop's sampling, history, communication
records and TensorBoard logs."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import algorithms, data, experiments, models
from fedkit.compression import encoders, sizing
from fedkit.experiments.checkpoints import CheckpointError


@pytest.fixture(scope="module")
def dense_fedavg():
    return algorithms.build_fedavg("dense", client_lr=0.1)


def test_rounds_record_metrics_bits_and_tensorboard(emnist, dense_fedavg, tmp_path):
    train, test = emnist
    config = experiments.RoundsConfig(rounds=3, clients_per_round=4, seed=5, flat=True)
    state, history = experiments.train(dense_fedavg, train, config, [experiments.TensorBoard(tmp_path)])
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

    # Federated evaluation over 5 writers scores as the same Keras model does over their examples pooled.
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids[:5]]
    weights = dense_fedavg.get_model_weights(state)
    metrics = experiments.evaluate(algorithms.build_evaluation("dense"), weights, test_data)
    keras_model = models.create_keras_model("dense")
    weights.assign_weights_to(keras_model)
    x, y = (np.concatenate([batch[i] for d in test_data for batch in d]) for i in (0, 1))
    probabilities = keras_model(x).numpy()
    assert metrics["accuracy"] == pytest.approx(np.mean(probabilities.argmax(axis=1) == y[:, 0]), abs=1e-6)
    # The loss of the softmax's output, its probabilities clipped at 1e-7 as Keras clips them.
    true_class = probabilities[np.arange(len(y)), y[:, 0]]
    assert metrics["loss"] == pytest.approx(np.mean(-np.log(np.clip(true_class, 1e-7, 1))), rel=1e-5)


def test_same_seed_same_run(emnist, dense_fedavg):
    train, _ = emnist
    runs = [
        experiments.run_rounds(dense_fedavg, train, 2, clients_per_round=3, seed=11, flat=True, verbose=False)
        for _ in range(2)
    ]
    (s1, h1), (s2, h2) = runs
    assert h1.column("examples") == h2.column("examples")
    for a, b in zip(
        dense_fedavg.get_model_weights(s1).trainable, dense_fedavg.get_model_weights(s2).trainable, strict=False
    ):
        np.testing.assert_array_equal(a, b)


def test_cnn_runs_with_the_same_seed_are_identical(emnist):
    """TFF draws the CNN's initial weights without a seed; `initial_state` draws them from the run's seed."""
    train, _ = emnist
    process = algorithms.build_fedavg("cnn", client_lr=0.1)
    weights = lambda state: process.get_model_weights(state).trainable  # noqa: E731
    start = [weights(experiments.initial_state(process, seed)) for seed in (5, 5, 6)]
    assert all(np.array_equal(a, b) for a, b in zip(start[0], start[1], strict=True))
    assert not np.array_equal(start[0][0], start[2][0])  # the first conv kernel (the biases start at zero)
    runs = [experiments.run_rounds(process, train, 1, clients_per_round=2, seed=5, verbose=False)[0] for _ in range(2)]
    for a, b in zip(weights(runs[0]), weights(runs[1]), strict=True):
        np.testing.assert_array_equal(a, b)


def test_cnn_evaluation_starts_at_zeros_and_scores_as_tffs_own(emnist):
    """`build_evaluation` skips the CNN's random starting weights (it scores only the weights it is given)."""
    _, test = emnist
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids[:3]]
    ours = algorithms.build_evaluation("cnn")
    assert not any(np.any(w) for w in ours.get_model_weights(ours.initialize()).trainable)
    theirs = tff.learning.algorithms.build_fed_eval(models.model_fn("cnn"))
    weights = theirs.get_model_weights(theirs.initialize())  # TFF's random starting weights
    assert all(np.any(w) for w in weights.trainable[::2])  # each kernel
    assert experiments.evaluate(ours, weights, test_data) == pytest.approx(
        experiments.evaluate(theirs, weights, test_data)
    )


def test_progress_lines(emnist, dense_fedavg, capsys):
    train, _ = emnist
    experiments.run_rounds(dense_fedavg, train, 2, clients_per_round=2, seed=0, flat=True)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("[")[0].split() for line in lines] == [["round", "1/2"], ["round", "2/2"]]
    assert all("loss=" in line and "broadcast=" in line for line in lines)


class Recorder(experiments.RoundCallback):
    def __init__(self):
        self.calls = []

    def on_start(self, config, resumed):
        self.calls.append(("start", config.rounds, resumed))

    def on_round(self, done):
        self.calls.append(("round", done.row["round"], len(done.history.rows)))

    def on_end(self):
        self.calls.append(("end",))


def test_callbacks_see_every_round_and_the_end_even_of_a_failed_run(emnist, dense_fedavg, capsys):
    train, _ = emnist
    recorder = Recorder()
    config = experiments.RoundsConfig(2, clients_per_round=2, seed=4, flat=True, track_size=False)
    _, history = experiments.train(dense_fedavg, train, config, [recorder])
    assert recorder.calls == [("start", 2, None), ("round", 1, 1), ("round", 2, 2), ("end",)]
    assert capsys.readouterr().out == ""  # no Progress callback: nothing printed
    assert "cumulative_broadcast_bits" not in history.rows[0]  # track_size=False
    _, counted = experiments.run_rounds(dense_fedavg, train, 2, clients_per_round=2, seed=4, flat=True, verbose=False)
    assert [r["examples"] for r in counted.rows] == [r["examples"] for r in history.rows]  # the same clients
    assert "cumulative_broadcast_bits" in counted.rows[0]
    failing = Recorder()
    with pytest.raises(ValueError, match="do not fit the process"):
        experiments.train(dense_fedavg, train, experiments.RoundsConfig(1, clients_per_round=2), [failing])
    assert failing.calls == [("start", 1, None), ("end",)]


def test_bad_arguments(emnist, dense_fedavg):
    train, _ = emnist
    with pytest.raises(ValueError, match="rounds=0"):
        experiments.run_rounds(dense_fedavg, train, 0)
    with pytest.raises(ValueError, match="epochs=0: each must be at least 1"):
        experiments.RoundsConfig(1, epochs=0)
    with pytest.raises(ValueError, match="every=0"):
        experiments.Checkpoints("unused", every=0)
    with pytest.raises(ValueError, match="num_clients=500"):
        experiments.run_rounds(dense_fedavg, train, 1, clients_per_round=500, flat=True, verbose=False)
    with pytest.raises(ValueError, match=r"do not fit the process.*flat=True for the dense"):
        experiments.run_rounds(dense_fedavg, train, 1, clients_per_round=2, flat=False, verbose=False)
    with pytest.raises(ValueError, match="client_lr=0"):
        algorithms.build_fedavg("dense", client_lr=0)
    with pytest.raises(ValueError, match="unknown encoder 'gzip'"):
        algorithms.build_fedavg("dense", broadcast="gzip:8")


@pytest.fixture(scope="module")
def functional_fedavg():
    return algorithms.build_fedavg(models.functional_model("dense"), client_lr=0.1)


def test_functional_model_rounds_and_evaluation(emnist, functional_fedavg):
    train, test = emnist
    _, history = experiments.run_rounds(
        functional_fedavg, train, 2, clients_per_round=3, seed=2, flat=True, verbose=False
    )
    assert history.column("round") == [1, 2] and all(0 <= a <= 1 for a in history.column("accuracy"))
    assert "loss" not in history.rows[0]  # the functional dense model reports accuracy only
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids[:3]]
    weights = functional_fedavg.get_model_weights(functional_fedavg.initialize())
    metrics = experiments.evaluate(algorithms.build_evaluation(models.functional_model("dense")), weights, test_data)
    assert set(metrics) == {"accuracy"} and 0 <= metrics["accuracy"] <= 1


def test_accuracy_metric_found_by_name_or_given():
    keras_metrics = {"loss": 1.0, "sparse_categorical_accuracy": 0.5}
    assert algorithms.accuracy_metric_name(keras_metrics) == "sparse_categorical_accuracy"
    assert algorithms.accuracy_metric_name({"accuracy": 0.5, "num_examples": 3}) == "accuracy"
    assert algorithms.accuracy_metric_name({"top1": 0.5, "top5": 0.9}, "top5") == "top5"
    with pytest.raises(ValueError, match="pass accuracy_metric="):
        algorithms.accuracy_metric_name({"loss": 1.0, "auc": 0.5})
    with pytest.raises(ValueError, match="pass accuracy_metric="):
        algorithms.accuracy_metric_name({"accuracy": 0.5, "top_5_accuracy": 0.9})
    with pytest.raises(ValueError, match="accuracy_metric='acc' is not among"):
        algorithms.accuracy_metric_name({"accuracy": 0.5}, "acc")


def test_accuracy_metric_argument_reaches_history(emnist, functional_fedavg):
    train, _ = emnist
    with pytest.raises(ValueError, match="accuracy_metric='top5' is not among the model's metrics"):
        config = experiments.RoundsConfig(1, clients_per_round=2, flat=True, accuracy_metric="top5")
        experiments.train(functional_fedavg, train, config)


@pytest.mark.parametrize("lr", [float("inf"), float("nan"), -0.1])
def test_non_finite_learning_rates_are_refused(lr):
    with pytest.raises(ValueError, match=f"client_lr={lr}: a learning rate must be a positive finite number"):
        algorithms.build_fedavg("dense", client_lr=lr)
    with pytest.raises(ValueError, match=f"server_lr={lr}"):
        algorithms.build_fedavg("dense", server_lr=lr)


def test_process_carries_its_configuration(dense_fedavg):
    assert dense_fedavg.fedkit_config == {
        "model": "dense",
        "client_lr": 0.1,
        "server_lr": 1.0,
        "broadcast": None,
        "aggregate": None,
        "threshold": encoders.DEFAULT_THRESHOLD,
    }


def test_fewer_rounds_than_the_checkpoint_holds_is_an_error(emnist, dense_fedavg, tmp_path):
    train, _ = emnist
    kwargs = dict(clients_per_round=2, seed=3, flat=True)
    saving = [experiments.Checkpoints(tmp_path)]
    _, history = experiments.train(dense_fedavg, train, experiments.RoundsConfig(2, **kwargs), saving)
    with pytest.raises(CheckpointError, match=r"holds 2 rounds.*rounds=1"):
        experiments.train(dense_fedavg, train, experiments.RoundsConfig(1, **kwargs), saving)
    # The same length is the finished run.
    _, again = experiments.train(dense_fedavg, train, experiments.RoundsConfig(2, **kwargs), saving)
    assert again.rows == history.rows
