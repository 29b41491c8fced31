"""Evaluation of a model's weights over all test writers as one pooled dataset, in one compiled TensorFlow loop.

Federated evaluation (`experiments.evaluate`) sums loss, correct predictions and examples over every writer's
examples, then divides: the sums do not depend on how the examples are grouped into writers. Here every writer's
examples are read as one dataset, in batches that span writers, and one `tf.function` adds up the sums, per writer
as well (each example carries its writer's index), with no dataset built, shipped or traced per writer.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models
from fedkit.data import emnist

Weights: TypeAlias = "tff.learning.models.ModelWeights | Sequence[np.ndarray]"
_ALL = 2**31 - 1  # a batch larger than any writer
# tf.data's default rewrites serialize the pipeline's graph for each new iterator, with the arrays that the kit's
# in-memory `ClientData` holds as constants in it: 1.5-2 s per evaluation on TFF's 40,832 test digits, for nothing.
_NO_TF_DATA_REWRITES = tf.data.Options()
_NO_TF_DATA_REWRITES.experimental_optimization.apply_default_optimizations = False


def pooled_dataset(
    client_data: tff.simulation.datasets.ClientData,
    client_ids: Sequence[str] | None = None,
    flat: bool = False,
    batch_size: int = emnist.TEST_BATCH_SIZE,
    invert: bool = True,
) -> tf.data.Dataset:
    """The writers' examples as one dataset of (x, y, writer index) batches, x and y as `preprocess_test` has them.

    Writer `i` is `client_ids[i]` (all of `client_data`'s writers by default); batches run across writers.
    """
    ids = list(client_data.client_ids if client_ids is None else client_ids)
    if not ids:
        raise ValueError("client_ids is empty: pass at least one writer.")
    shape = [-1, 784] if flat else [-1, 28, 28, 1]

    def examples(client_id: tf.Tensor, index: tf.Tensor) -> tf.data.Dataset:
        # A writer's examples as one element, then split again: one function call per writer, not per example.
        whole = client_data.serializable_dataset_fn(client_id).batch(_ALL)
        return whole.map(lambda batch: (batch, tf.fill(tf.shape(batch["label"])[:1], index)))

    def to_xyw(batch: dict, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        pixels = 1.0 - batch["pixels"] if invert else batch["pixels"]
        return tf.reshape(pixels, shape), tf.reshape(batch["label"], [-1, 1]), index

    writers = tf.data.Dataset.from_tensor_slices((tf.constant(ids), tf.range(len(ids), dtype=tf.int32)))
    return writers.flat_map(examples).unbatch().batch(batch_size).map(to_xyw).with_options(_NO_TF_DATA_REWRITES)


def _keras_model(model: str | Callable[[], tf.keras.Model] | tf.keras.Model) -> tf.keras.Model:
    if isinstance(model, tf.keras.Model):
        return model
    return models.create_keras_model(model) if isinstance(model, str) else model()


class PooledEvaluation:
    """Pooled evaluation of one model on one set of test writers: built once, then called with weights.

    `model` is a name from `fedkit.models.MODELS`, a Keras model, or a function returning one (a softmax output,
    as the kit's models have). Calling it returns `experiments.evaluate`'s keys ('loss', 'accuracy': means over
    all examples); with `per_writer=True` also 'per_writer': {writer id: {'loss', 'accuracy', 'examples'}}.
    With `cache` (the default) the first call keeps the preprocessed batches in memory (4 bytes a pixel: about
    130 MB for TFF's 40,832 test digits) and later calls read them from there.
    """

    def __init__(
        self,
        model: str | Callable[[], tf.keras.Model] | tf.keras.Model,
        client_data: tff.simulation.datasets.ClientData,
        client_ids: Sequence[str] | None = None,
        flat: bool | None = None,
        batch_size: int = emnist.TEST_BATCH_SIZE,
        cache: bool = True,
    ) -> None:
        self.model = _keras_model(model)
        self.client_ids = list(client_data.client_ids if client_ids is None else client_ids)
        flat = len(self.model.input_shape) == 2 if flat is None else flat  # (batch, 784): the dense model
        self.dataset = pooled_dataset(client_data, self.client_ids, flat=flat, batch_size=batch_size)
        if cache:  # the batches read once, kept in memory: later calls only run the model
            self.dataset = self.dataset.cache()
        self.dataset = self.dataset.prefetch(1)
        writers = len(self.client_ids)
        keras_model = self.model

        @tf.function
        def sums(dataset: tf.data.Dataset) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
            loss = tf.zeros([writers], tf.float64)
            correct = tf.zeros([writers], tf.int64)
            examples = tf.zeros([writers], tf.int64)
            for x, y, writer in dataset:
                probabilities = keras_model(x, training=False)
                labels = tf.reshape(y, [-1])
                # Keras's own per-example loss (probabilities clipped as `SparseCategoricalCrossentropy` clips them).
                per_example = tf.keras.losses.sparse_categorical_crossentropy(labels, probabilities)
                hit = tf.equal(tf.argmax(probabilities, axis=-1, output_type=labels.dtype), labels)
                loss += tf.math.unsorted_segment_sum(tf.cast(per_example, tf.float64), writer, writers)
                correct += tf.math.unsorted_segment_sum(tf.cast(hit, tf.int64), writer, writers)
                examples += tf.math.unsorted_segment_sum(tf.ones_like(writer, tf.int64), writer, writers)
            return loss, correct, examples

        self._sums = sums

    def assign(self, model_weights: Weights) -> None:
        """Put `model_weights` (TFF's `ModelWeights`, or the Keras model's list of arrays) into the model."""
        if isinstance(model_weights, tff.learning.models.ModelWeights):
            model_weights.assign_weights_to(self.model)
        else:
            self.model.set_weights(list(model_weights))

    def sums(self, model_weights: Weights) -> dict[str, np.ndarray]:
        """Per writer (in `client_ids` order): summed loss, correct predictions and examples."""
        self.assign(model_weights)
        loss, correct, examples = self._sums(self.dataset)
        return {"loss_sum": loss.numpy(), "correct": correct.numpy(), "examples": examples.numpy()}

    def __call__(self, model_weights: Weights, per_writer: bool = False) -> dict:
        """Loss and accuracy over all examples of the writers; per writer as well with `per_writer`."""
        sums = self.sums(model_weights)
        total = int(sums["examples"].sum())
        if not total:
            raise ValueError("the writers hold no examples: nothing to evaluate.")
        result: dict = {
            "loss": float(sums["loss_sum"].sum() / total),
            "accuracy": float(sums["correct"].sum() / total),
        }
        if per_writer:
            result["per_writer"] = collections.OrderedDict(
                (writer, _writer_metrics(loss, correct, n))
                for writer, loss, correct, n in zip(
                    self.client_ids, sums["loss_sum"], sums["correct"], sums["examples"], strict=True
                )
            )
        return result


def _writer_metrics(loss: float, correct: int, examples: int) -> dict:
    """One writer's means (None for a writer without examples) and its count."""
    if not examples:
        return {"loss": None, "accuracy": None, "examples": 0}
    return {"loss": float(loss / examples), "accuracy": float(correct / examples), "examples": int(examples)}


def evaluate_pooled(
    model: str | Callable[[], tf.keras.Model] | tf.keras.Model,
    model_weights: Weights,
    client_data: tff.simulation.datasets.ClientData,
    client_ids: Sequence[str] | None = None,
    per_writer: bool = False,
    flat: bool | None = None,
) -> dict:
    """Loss and accuracy of `model_weights` over all examples of the test writers, as `experiments.evaluate` gives.

    One pooled pass (see `PooledEvaluation`; build one to evaluate several weights without tracing again).
    """
    return PooledEvaluation(model, client_data, client_ids, flat=flat)(model_weights, per_writer=per_writer)
