"""Checkers for notebook 04 (the model interface of `tff.learning`)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models


def check_server_accuracy(reports: Sequence[Sequence[float]], answer: float) -> None:
    """Exercise 1: the accuracy `sum_then_finalize` computes from clients' [correct, count] reports."""
    correct, count = np.sum(np.asarray(reports, dtype=np.float64), axis=0)
    expected = correct / count
    mean_of_ratios = float(np.mean([c / n for c, n in reports]))
    if answer is None:
        raise AssertionError("no answer yet: compute the server's accuracy and pass it as a number.")
    if not np.isclose(answer, expected, atol=1e-4):
        if np.isclose(answer, mean_of_ratios, atol=1e-4):
            raise AssertionError(
                "that is the mean of the clients' accuracies; the server first sums the "
                "[correct, count] pairs over clients, then divides once."
            )
        raise AssertionError(
            f"{answer} is not it: add up the correct predictions and the counts over clients, then divide the totals."
        )
    print(f"Right: {correct:g} correct of {count:g} examples, accuracy {expected:.4f} at the server.")


def _expect(condition: bool | np.bool_, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def check_model_fn(model_fn: Callable[[], tff.learning.models.VariableModel]) -> None:
    """Exercise 2: a no-argument function building a new 784->32->10 Keras model wrapped for TFF."""
    _expect(callable(model_fn), "pass the function itself (mlp_model_fn), not what it returns.")
    required = [
        p
        for p in inspect.signature(model_fn).parameters.values()
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    _expect(not required, f"model_fn must take no arguments; it takes {[p.name for p in required]}.")
    first, second = model_fn(), model_fn()
    _expect(first is not None, "model_fn returned None: return tff.learning.models.from_keras_model(...).")
    _expect(
        isinstance(first, tff.learning.models.VariableModel),
        f"model_fn returned a {type(first).__name__}; wrap the Keras model with tff.learning.models.from_keras_model.",
    )
    shared = set(map(id, first.trainable_variables)) & set(map(id, second.trainable_variables))
    _expect(
        first is not second and not shared,
        "two calls returned the same model or shared variables: build a new Keras model inside model_fn, "
        "on every call.",
    )
    x_spec, y_spec = first.input_spec
    expected_x, expected_y = models.input_spec("dense")
    _expect(
        x_spec.is_compatible_with(expected_x)
        and y_spec.is_compatible_with(expected_y)
        and x_spec.dtype == tf.float32
        and y_spec.dtype == tf.int32,
        f"input_spec is {first.input_spec}; use fedkit.models.input_spec('dense').",
    )
    shapes = [tuple(v.shape) for v in first.trainable_variables]
    _expect(
        shapes == [(784, 32), (32,), (32, 10), (10,)],
        f"trainable variables have shapes {shapes}; expected a Dense(32) then a Dense(10) layer on 784 inputs.",
    )
    _expect(
        "sparse_categorical_accuracy" in first.report_local_unfinalized_metrics(),
        "add metrics=[tf.keras.metrics.SparseCategoricalAccuracy()] to from_keras_model.",
    )
    probabilities = first.predict_on_batch(np.random.default_rng(0).random((4, 784), np.float32), training=False)
    _expect(
        np.allclose(np.sum(probabilities, axis=1), 1.0, atol=1e-5),
        "predictions do not sum to 1: end the Keras model with a softmax (activation='softmax').",
    )
    print(f"Right: a new {type(first).__name__} on each call, trainable shapes {shapes}.")


def _batches(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return [(rng.random((n, 784), np.float32), rng.integers(0, 10, (n, 1)).astype(np.int32)) for n in (5, 3)]


def _random_weights(model: tff.learning.models.VariableModel, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(rng.normal(0.0, 0.05, v.shape).astype(np.float32))


def _finalize(model, report: dict, name: str) -> float:
    return float(model.metric_finalizers()[name](report[name]))


def check_mean_confidence(model_class: Callable[[], tff.learning.models.VariableModel]) -> None:
    """Exercise 3: a `mean_confidence` metric (mean of the largest predicted probability), summable across clients."""
    batches = _batches()
    model = model_class()
    _random_weights(model)
    for batch in batches:
        model.forward_pass(batch)
    report = model.report_local_unfinalized_metrics()
    _expect(
        "mean_confidence" in report, f"report_local_unfinalized_metrics() has {list(report)}: add 'mean_confidence'."
    )
    _expect("mean_confidence" in model.metric_finalizers(), "metric_finalizers() needs a 'mean_confidence' entry too.")
    x = np.concatenate([b[0] for b in batches])
    confidence = np.max(model.predict_on_batch(x, training=False).numpy(), axis=1)
    expected = float(np.mean(confidence))
    got = _finalize(model, report, "mean_confidence")
    _expect(
        np.isclose(got, expected, atol=1e-5),
        f"one client's finalized mean_confidence is {got:.5f}, expected {expected:.5f}: accumulate the sum of "
        "each example's largest probability and the number of examples over all batches.",
    )
    # Two clients, one batch each: their reports summed and finalized must give the pooled mean.
    reports = []
    for batch in batches:
        client = model_class()
        _random_weights(client)
        client.forward_pass(batch)
        reports.append(client.report_local_unfinalized_metrics()["mean_confidence"])
    summed = tf.nest.map_structure(lambda a, b: a + b, *reports)
    pooled = float(model.metric_finalizers()["mean_confidence"](summed))
    _expect(
        np.isclose(pooled, expected, atol=1e-5),
        f"two clients' reports, summed then finalized, give {pooled:.5f} instead of {expected:.5f}: report "
        "[sum of confidences, count], not the mean itself, so that sums across clients stay right.",
    )
    _expect(
        np.isclose(
            _finalize(model, report, "sparse_categorical_accuracy"),
            np.mean(
                np.argmax(model.predict_on_batch(x, training=False).numpy(), 1)
                == np.concatenate([b[1] for b in batches]).ravel()
            ),
            atol=1e-6,
        ),
        "the accuracy metric changed: call super().forward_pass(...) and keep the parent's metrics.",
    )
    model.reset_metrics()
    after = [float(np.sum(t)) for t in tf.nest.flatten(model.report_local_unfinalized_metrics()["mean_confidence"])]
    _expect(
        all(v == 0.0 for v in after),
        f"after reset_metrics() mean_confidence reports {after}: make its variables local_variables.",
    )
    print(f"Right: mean_confidence {expected:.4f} on one client, and the same after summing two clients' reports.")
