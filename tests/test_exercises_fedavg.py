"""The checkers of notebook 05's exercises: a wrong answer fails with a hint, the right one passes."""

import pytest
import tensorflow as tf

from fedkit import models
from fedkit.exercises import fedavg as exercise


def test_cnn_bits(capsys):
    bits = models.create_keras_model("cnn").count_params() * 32
    with pytest.raises(AssertionError, match="broadcast_bits"):
        exercise.check_cnn_bits(bits + 32, bits + 32)  # the learning rate is not sent by fedkit.algorithms.fedavg
    with pytest.raises(AssertionError, match="aggregate_bits"):
        exercise.check_cnn_bits(bits, bits)
    exercise.check_cnn_bits(bits, bits + 32)
    assert capsys.readouterr().out.startswith("Right:")


def test_proximal_term(capsys):
    def right(weights, initial, mu):
        return mu / 2 * tf.add_n([tf.reduce_sum(tf.square(w - i)) for w, i in zip(weights, initial, strict=True)])

    def first_tensor_only(weights, initial, mu):
        return mu / 2 * tf.reduce_sum(tf.square(weights[0] - initial[0]))

    def without_half(weights, initial, mu):
        return 2 * right(weights, initial, mu)

    for wrong in (first_tensor_only, without_half):
        with pytest.raises(AssertionError, match="sum the squared differences"):
            exercise.check_proximal_term(wrong)
    exercise.check_proximal_term(right)
    assert capsys.readouterr().out.startswith("Right:")


def test_means(capsys):
    with pytest.raises(AssertionError, match="weighted=0.0"):
        exercise.check_means(0.0, 0.0)
    with pytest.raises(AssertionError, match="unweighted=-0.5"):
        exercise.check_means(-0.5, -0.5)
    exercise.check_means(-0.5, 0.0)
    assert capsys.readouterr().out.startswith("Right:")


def _record(fedsgd, fedavg):
    return {"data": {"test_accuracy": {"FedSGD lr=1": {"4": fedsgd}, "weighted FedAvg": {"4": fedavg}}}}


def test_round_verdict(capsys):
    apart = _record([0.60, 0.61, 0.62], [0.80, 0.81, 0.82])
    overlapping = _record([0.78, 0.81, 0.84], [0.79, 0.81, 0.83])
    exercise.check_round_verdict(apart, 4, True)
    exercise.check_round_verdict(overlapping, 4, False)
    assert capsys.readouterr().out.count("Right:") == 2
    with pytest.raises(AssertionError, match="differs=False"):
        exercise.check_round_verdict(apart, 4, False)
    with pytest.raises(AssertionError, match="round 5 was not evaluated"):
        exercise.check_round_verdict(apart, 5, True)
    with pytest.raises(AssertionError, match="True or False"):
        exercise.check_round_verdict(apart, 4, "yes")
    with pytest.raises(AssertionError, match="results.read"):
        exercise.check_round_verdict({}, 4, True)
