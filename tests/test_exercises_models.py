"""fedkit.exercises.models: notebook 04's checkers fail wrong answers with a hint and pass right ones."""

import collections

import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models
from fedkit.exercises import models as ex

REPORTS = [[30.0, 40.0], [2.0, 10.0]]


def test_server_accuracy(capsys):
    ex.check_server_accuracy(REPORTS, 32 / 50)
    assert capsys.readouterr().out.startswith("Right: 32 correct of 50")
    with pytest.raises(AssertionError, match="mean of the clients' accuracies"):
        ex.check_server_accuracy(REPORTS, (30 / 40 + 2 / 10) / 2)
    with pytest.raises(AssertionError, match="no answer yet"):
        ex.check_server_accuracy(REPORTS, None)
    with pytest.raises(AssertionError, match="is not it"):
        ex.check_server_accuracy(REPORTS, 0.5)


def _mlp_model_fn(hidden=32):
    def model_fn():
        keras_model = tf.keras.Sequential(
            [
                tf.keras.layers.InputLayer(input_shape=(784,)),
                tf.keras.layers.Dense(hidden, activation="relu"),
                tf.keras.layers.Dense(10, activation="softmax"),
            ]
        )
        return tff.learning.models.from_keras_model(
            keras_model,
            input_spec=models.input_spec("dense"),
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    return model_fn


def test_model_fn(capsys):
    ex.check_model_fn(_mlp_model_fn())
    assert "Right: a new" in capsys.readouterr().out
    built = _mlp_model_fn()()
    with pytest.raises(AssertionError, match="same model"):
        ex.check_model_fn(lambda: built)
    with pytest.raises(AssertionError, match="shapes"):
        ex.check_model_fn(_mlp_model_fn(hidden=16))
    with pytest.raises(AssertionError, match="no arguments"):
        ex.check_model_fn(lambda spec: _mlp_model_fn()())
    with pytest.raises(AssertionError, match="from_keras_model"):
        ex.check_model_fn(lambda: tf.keras.Sequential([tf.keras.layers.Dense(10)]))


class _WithConfidence(models.DenseVariableModel):
    """The worked solution: a sum and a count, finalized to their ratio."""

    def __init__(self):
        super().__init__()
        self._confidence = tf.Variable([0.0, 0.0], trainable=False)

    @property
    def local_variables(self):
        return super().local_variables + [self._confidence]

    @tf.function
    def forward_pass(self, batch_input, training=True):
        output = super().forward_pass(batch_input, training)
        top = tf.reduce_max(output.predictions, axis=1)
        self._confidence.assign_add(tf.stack([tf.reduce_sum(top), tf.cast(tf.size(top), tf.float32)]))
        return output

    def report_local_unfinalized_metrics(self):
        metrics = super().report_local_unfinalized_metrics()
        return collections.OrderedDict(metrics, mean_confidence=[self._confidence[0], self._confidence[1]])

    def metric_finalizers(self):
        ratio = tf.function(lambda s: tf.math.divide_no_nan(s[0], s[1]))
        return collections.OrderedDict(super().metric_finalizers(), mean_confidence=ratio)


class _ReportsTheMean(_WithConfidence):
    """Wrong: reports the finalized mean, which does not add up across clients."""

    def report_local_unfinalized_metrics(self):
        metrics = super().report_local_unfinalized_metrics()
        metrics["mean_confidence"] = [tf.math.divide_no_nan(self._confidence[0], self._confidence[1]), tf.constant(1.0)]
        return metrics


class _NotLocal(_WithConfidence):
    """Wrong: the accumulator is left out of local_variables, so reset_metrics does not reset it."""

    @property
    def local_variables(self):
        return models.DenseVariableModel.local_variables.fget(self)


def test_mean_confidence(capsys):
    ex.check_mean_confidence(_WithConfidence)
    assert "Right: mean_confidence" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="summed then finalized"):
        ex.check_mean_confidence(_ReportsTheMean)
    with pytest.raises(AssertionError, match="local_variables"):
        ex.check_mean_confidence(_NotLocal)
    with pytest.raises(AssertionError, match="add 'mean_confidence'"):
        ex.check_mean_confidence(models.DenseVariableModel)
