"""The dense model written by hand against `tff.learning.models.VariableModel` (notebook 04 builds it)."""

from __future__ import annotations

import collections

import tensorflow as tf
import tensorflow_federated as tff

from fedkit.models.keras import input_spec


class DenseVariableModel(tff.learning.models.VariableModel):
    """The 784 -> 10 softmax regression written by hand against `tff.learning.models.VariableModel`.

    The same model, loss and metric names as `model_fn("dense")` (the Keras converter), with its
    variables spelled out: two trainable (weights, bias) and four local metric accumulators.
    Notebook 04 builds it piece by piece.
    """

    def __init__(self) -> None:
        self._weights = tf.Variable(tf.zeros([784, 10]), name="weights")
        self._bias = tf.Variable(tf.zeros([10]), name="bias")
        # Local variables: per-client sums, never sent as such; only their reported values are aggregated.
        self._loss_sum = tf.Variable(0.0, trainable=False, name="loss_sum")
        self._accuracy_sum = tf.Variable(0.0, trainable=False, name="accuracy_sum")
        self._num_examples = tf.Variable(0, dtype=tf.int64, trainable=False, name="num_examples")
        self._num_batches = tf.Variable(0, dtype=tf.int64, trainable=False, name="num_batches")

    @property
    def trainable_variables(self) -> list[tf.Variable]:
        return [self._weights, self._bias]

    @property
    def non_trainable_variables(self) -> list[tf.Variable]:
        return []

    @property
    def local_variables(self) -> list[tf.Variable]:
        return [self._loss_sum, self._accuracy_sum, self._num_examples, self._num_batches]

    @property
    def input_spec(self) -> tuple[tf.TensorSpec, tf.TensorSpec]:
        return input_spec("dense")

    def _logits(self, x: tf.Tensor) -> tf.Tensor:
        return tf.matmul(x, self._weights) + self._bias

    @tf.function
    def predict_on_batch(self, x: tf.Tensor, training: bool = True) -> tf.Tensor:
        """Class probabilities, [batch, 10]."""
        del training  # no dropout or batch statistics in this model
        return tf.nn.softmax(self._logits(x))

    @tf.function
    def forward_pass(self, batch_input, training: bool = True) -> tff.learning.models.BatchOutput:
        """Mean cross-entropy of the batch, its predictions, and the metric sums updated."""
        del training
        x, y = batch_input
        labels = tf.reshape(y, [-1])
        logits = self._logits(x)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        correct = tf.cast(tf.equal(tf.argmax(logits, axis=1, output_type=labels.dtype), labels), tf.float32)
        n = tf.shape(labels)[0]
        self._loss_sum.assign_add(loss * tf.cast(n, tf.float32))
        self._accuracy_sum.assign_add(tf.reduce_sum(correct))
        self._num_examples.assign_add(tf.cast(n, tf.int64))
        self._num_batches.assign_add(1)
        return tff.learning.models.BatchOutput(loss=loss, predictions=tf.nn.softmax(logits), num_examples=n)

    @tf.function
    def report_local_unfinalized_metrics(self) -> collections.OrderedDict:
        """Sums over this client's batches: what the client sends for the server to add up."""
        count = tf.cast(self._num_examples, tf.float32)
        return collections.OrderedDict(
            sparse_categorical_accuracy=[self._accuracy_sum.read_value(), count],
            loss=[self._loss_sum.read_value(), count],
            num_examples=[self._num_examples.read_value()],
            num_batches=[self._num_batches.read_value()],
        )

    def metric_finalizers(self) -> collections.OrderedDict:
        """Functions from summed values to metrics: applied once, on the server, after the sum."""
        return collections.OrderedDict(
            sparse_categorical_accuracy=tf.function(lambda s: tf.math.divide_no_nan(s[0], s[1])),
            loss=tf.function(lambda s: tf.math.divide_no_nan(s[0], s[1])),
            num_examples=tf.function(lambda s: s[0]),
            num_batches=tf.function(lambda s: s[0]),
        )

    @tf.function
    def reset_metrics(self) -> None:
        """Zero the metric sums (every local variable)."""
        for v in self.local_variables:
            v.assign(tf.zeros_like(v))


def variable_model_fn() -> DenseVariableModel:
    """The no-argument model function of the hand-written dense model, for `tff.learning` builders."""
    return DenseVariableModel()
