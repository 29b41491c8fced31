"""The checkers of notebook 02's exercises: a wrong answer fails with a hint, the right one passes."""

import numpy as np
import pytest
import tensorflow as tf

from fedkit import algorithms, experiments, models
from fedkit.exercises import landing


@pytest.fixture(scope="module")
def process():
    return algorithms.build_fedavg(models.functional_model("dense"), client_lr=0.1, server_lr=0.5)


def test_mean_pixels(emnist, capsys):
    train, _ = emnist
    examples = train.create_tf_dataset_for_client(train.client_ids[0])
    mean = float(np.mean([e["pixels"].numpy().mean() for e in examples]))
    landing.check_mean_pixels(train, raw=mean, inverted=1 - mean)
    assert capsys.readouterr().out.startswith("Right: mean input")
    with pytest.raises(AssertionError, match="swapped"):
        landing.check_mean_pixels(train, raw=1 - mean, inverted=mean)
    with pytest.raises(AssertionError, match="raw="):
        landing.check_mean_pixels(train, raw=mean + 0.1, inverted=1 - mean)
    with pytest.raises(AssertionError, match="inverted="):
        landing.check_mean_pixels(train, raw=mean, inverted=mean)
    with pytest.raises(AssertionError, match="pass a number"):
        landing.check_mean_pixels(train, raw="0.9", inverted=0.1)


def test_server_learning_rate(process, capsys):
    with pytest.raises(AssertionError, match="part='client_work'"):
        landing.check_server_learning_rate(process, "client_work", 0.5)
    with pytest.raises(AssertionError, match="learning_rate=1.0"):
        landing.check_server_learning_rate(process, "finalizer", 1.0)
    landing.check_server_learning_rate(process, "finalizer", 0.5)
    assert capsys.readouterr().out.startswith("Right: the server optimizer's state is `finalizer`")


def test_client_batches(capsys):
    dataset = tf.data.Dataset.from_tensor_slices(tf.zeros([7, 784])).repeat(10).batch(20)  # 70 examples
    with pytest.raises(AssertionError, match="batches=3"):
        landing.check_client_batches(dataset, batches=3, examples=70)
    with pytest.raises(AssertionError, match="examples=80"):
        landing.check_client_batches(dataset, batches=4, examples=80)
    landing.check_client_batches(dataset, batches=4, examples=70)
    assert "Right: 4 batches, 70 examples" in capsys.readouterr().out


def test_resumed(emnist, process, tmp_path, capsys):
    train, _ = emnist
    kwargs = dict(clients_per_round=2, seed=1, flat=True)
    a, b = [experiments.Checkpoints(tmp_path / "a")], [experiments.Checkpoints(tmp_path / "b")]
    first = experiments.train(process, train, experiments.RoundsConfig(1, **kwargs), a)[1]
    second = experiments.train(process, train, experiments.RoundsConfig(2, **kwargs), a)[1]
    started_over = experiments.train(process, train, experiments.RoundsConfig(2, **kwargs), b)[1]
    with pytest.raises(AssertionError, match="first rows differ"):
        landing.check_resumed(first, started_over, 1)
    with pytest.raises(AssertionError, match="rounds_trained=2"):
        landing.check_resumed(first, second, rounds_trained=2)
    landing.check_resumed(first, second, rounds_trained=1)
    assert "resumed after round 1" in capsys.readouterr().out
