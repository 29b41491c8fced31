"""The tutorials' Keras models, their `tff.learning` wrappers, and the dense model written by hand for TFF."""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable

import tensorflow as tf
import tensorflow_federated as tff

from fedkit.specs import MODELS  # the names live TF-free, for the CLI


def create_original_fedavg_cnn_model(
    only_digits: bool = True, filters: tuple[int, int] = (32, 64), units: int = 512
) -> tf.keras.Model:
    """The CNN of McMahan et al. 2017 as in the TFF tutorials (1,663,370 parameters for digits).

    `filters` and `units` narrow it (Federated Dropout's sub-models, `fedkit.dropout`).
    """
    conv2d = functools.partial(tf.keras.layers.Conv2D, kernel_size=5, padding="same", activation="relu")
    max_pool = functools.partial(tf.keras.layers.MaxPooling2D, pool_size=(2, 2), padding="same")
    return tf.keras.models.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(28, 28, 1)),
            conv2d(filters=filters[0]),
            max_pool(),
            conv2d(filters=filters[1]),
            max_pool(),
            tf.keras.layers.Flatten(),
            tf.keras.layers.Dense(units, activation="relu"),
            tf.keras.layers.Dense(10 if only_digits else 62),
            tf.keras.layers.Softmax(),
        ]
    )


def create_dense_model() -> tf.keras.Model:
    """The 784 -> 10 softmax regression of the image-classification tutorial, zero-initialized."""
    return tf.keras.models.Sequential(
        [
            tf.keras.layers.InputLayer(input_shape=(784,)),
            tf.keras.layers.Dense(10, kernel_initializer="zeros"),
            tf.keras.layers.Softmax(),
        ]
    )


def create_keras_model(model: str) -> tf.keras.Model:
    """One of `MODELS` by name: 'cnn' (digits), 'cnn62' (all 62 classes) or 'dense'."""
    if model == "cnn":
        return create_original_fedavg_cnn_model(only_digits=True)
    if model == "cnn62":
        return create_original_fedavg_cnn_model(only_digits=False)
    if model == "dense":
        return create_dense_model()
    raise ValueError(f"unknown model {model!r}: choose one of {', '.join(MODELS)}.")


def input_spec(model: str, batch_size: int | None = None) -> tuple[tf.TensorSpec, tf.TensorSpec]:
    """The (x, y) batch spec that `fedkit.data.preprocess` produces for `model`."""
    shape = (784,) if model == "dense" else (28, 28, 1)
    return (
        tf.TensorSpec((batch_size, *shape), tf.float32),
        tf.TensorSpec((batch_size, 1), tf.int32),
    )


def _check_spec(model: str, spec: tuple[tf.TensorSpec, tf.TensorSpec]) -> None:
    expected = input_spec(model)[0].shape[1:]
    if tuple(spec[0].shape[1:]) != tuple(expected):
        raise ValueError(
            f"data batches of shape {spec[0].shape} do not fit model {model!r}, which takes "
            f"(batch, {', '.join(map(str, expected))}): preprocess with flat={model == 'dense'}."
        )


def model_fn(model: str, spec: tuple[tf.TensorSpec, tf.TensorSpec] | None = None) -> Callable:
    """A no-argument `tff.learning` model function (the classic `from_keras_model` wrapper)."""
    create_keras_model(model)  # fail here, with the message, on an unknown name
    spec = spec or input_spec(model)
    _check_spec(model, spec)

    def fn() -> tff.learning.models.VariableModel:
        return tff.learning.models.from_keras_model(
            create_keras_model(model),
            input_spec=spec,
            loss=tf.keras.losses.SparseCategoricalCrossentropy(),
            metrics=[tf.keras.metrics.SparseCategoricalAccuracy()],
        )

    return fn


def starting_at_zeros(model_fn: Callable) -> Callable:
    """`model_fn` with its variables starting at zeros, for computations that assign every weight they use."""

    def zeros_instead(next_creator, **kwargs):
        # Keras passes each initializer as a callable with the variable's shape and dtype.
        if callable(kwargs.get("initial_value")) and kwargs.get("shape") is not None and kwargs.get("dtype"):
            kwargs["initial_value"] = functools.partial(tf.zeros, kwargs["shape"], kwargs["dtype"])
        return next_creator(**kwargs)

    def fn() -> tff.learning.models.VariableModel:
        with tf.variable_creator_scope(zeros_instead):
            return model_fn()

    return fn


def functional_model(
    model: str, spec: tuple[tf.TensorSpec, tf.TensorSpec] | None = None
) -> tff.learning.models.FunctionalModel:
    """The same model as a `tff.learning` functional model (no TF variables inside TFF)."""
    spec = spec or input_spec(model)
    _check_spec(model, spec)
    return tff.learning.models.functional_model_from_keras(
        create_keras_model(model),
        loss_fn=tf.keras.losses.SparseCategoricalCrossentropy(),
        input_spec=spec,
        metrics_constructor=collections.OrderedDict(accuracy=tf.keras.metrics.SparseCategoricalAccuracy),
    )


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
