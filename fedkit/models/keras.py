"""The tutorials' Keras models and their `tff.learning` wrappers (`from_keras_model` and functional)."""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable

import tensorflow as tf
import tensorflow_federated as tff

from fedkit.models.names import MODELS


def create_original_fedavg_cnn_model(
    only_digits: bool = True, filters: tuple[int, int] = (32, 64), units: int = 512
) -> tf.keras.Model:
    """The CNN of McMahan et al. 2017 as in the TFF tutorials (1,663,370 parameters for digits).

    `filters` and `units` narrow it (Federated Dropout's sub-models, `fedkit.algorithms.dropout`).
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
    return functional_from_keras(create_keras_model(model), spec)


def functional_from_keras(
    keras_model: tf.keras.Model, spec: tuple[tf.TensorSpec, tf.TensorSpec]
) -> tff.learning.models.FunctionalModel:
    """A Keras classifier as a `tff.learning` functional model: sparse cross-entropy loss, `accuracy` metric."""
    return tff.learning.models.functional_model_from_keras(
        keras_model,
        loss_fn=tf.keras.losses.SparseCategoricalCrossentropy(),
        input_spec=spec,
        metrics_constructor=collections.OrderedDict(accuracy=tf.keras.metrics.SparseCategoricalAccuracy),
    )
