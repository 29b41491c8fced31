"""Federated Dropout (Caldas et al. 2018) for the FedAvg CNN, written from TFF intrinsics.

Each round the server keeps a fraction `keep` of the first conv layer's filters, of the second's
and of the dense layer's units (the input and the class outputs stay whole), draws which ones from
the round number and a seed, gathers that sub-model and broadcasts only it, optionally encoded.
Clients train the narrower CNN and send back its delta (optionally through an encoded mean); the
server scatters the weighted mean delta back into the full weights: units not kept do not move.

The sub-model's shapes depend only on `keep`, so `fedkit.compression.sizing.communication_cost(process.next)`
counts its bits exactly. One sub-model is drawn per round and shared by that round's clients.

Client computation (`client_flops`) is counted analytically: multiply-adds of the conv and dense
layers' forward pass per example (pooling, activations and the softmax are not counted), times 3
for a training step (forward, and a backward pass of about twice the forward's work).
"""

from __future__ import annotations

import dataclasses
import math
from typing import TypeAlias

import attrs
import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models
from fedkit.algorithms import builders, fedavg
from fedkit.common import checks
from fedkit.compression import encoders
from fedkit.compression.specs import (
    DEFAULT_THRESHOLD,
    AggregateSpec,
    CompressionSpec,
    EncoderSpec,
    parse_keep_fraction,
)

ModelWeights: TypeAlias = tff.learning.models.ModelWeights
FULL_WIDTHS = (32, 64, 512)  # conv 1 filters, conv 2 filters, dense units of the FedAvg CNN
IMAGE_SIDE, KERNEL = 28, 5
POOLED = (IMAGE_SIDE // 4) ** 2  # positions after two 2x2 poolings (7 x 7) that Flatten lays out


def kept_widths(keep: float) -> tuple[int, int, int]:
    """(conv 1 filters, conv 2 filters, dense units) the sub-model keeps: ceil(keep x width)."""
    keep = parse_keep_fraction(keep)
    conv1, conv2, dense = (math.ceil(round(keep * w, 9)) for w in FULL_WIDTHS)
    return conv1, conv2, dense


def forward_multiply_adds(widths: tuple[int, int, int], classes: int = 10) -> int:
    """Multiply-adds of one example's forward pass through the CNN's conv and dense layers."""
    c1, c2, units = widths
    conv1 = IMAGE_SIDE**2 * KERNEL**2 * 1 * c1  # 'same' padding: one output per pixel
    conv2 = (IMAGE_SIDE // 2) ** 2 * KERNEL**2 * c1 * c2
    return conv1 + conv2 + POOLED * c2 * units + units * classes


def client_flops(keep: float, examples: int, classes: int = 10) -> int:
    """Multiply-adds of training the sub-model on `examples` examples (3 x forward, see the module doc)."""
    return 3 * forward_multiply_adds(kept_widths(keep), classes) * examples


def draw_kept(keep: float, seed: tf.Tensor, round_num: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The sorted indices of the filters and units kept in round `round_num`, drawn from `seed`."""
    kept = []
    for layer, (full, k) in enumerate(zip(FULL_WIDTHS, kept_widths(keep), strict=True)):
        key = tf.stack([tf.cast(seed, tf.int64), tf.cast(round_num, tf.int64) * len(FULL_WIDTHS) + layer])
        order = tf.argsort(tf.random.stateless_uniform([full], seed=key))
        kept.append(tf.sort(order[:k]))
    return tuple(kept)


def _axes(kept: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> list[list[tuple[int, tf.Tensor]]]:
    """Per weight tensor of the CNN (kernel, bias per layer): the (axis, kept indices) to gather."""
    f1, f2, units = kept
    # Flatten lays out 7 x 7 positions x conv 2 channels, channels fastest: keep each kept channel at every position.
    rows = tf.reshape(tf.range(POOLED)[:, None] * FULL_WIDTHS[1] + tf.cast(f2, tf.int32)[None, :], [-1])
    conv1, conv2 = [[(3, f1)], [(0, f1)]], [[(2, f1), (3, f2)], [(0, f2)]]
    return [*conv1, *conv2, [(0, rows), (1, units)], [(0, units)], [(0, units)], []]


def select(weights: list[tf.Tensor], kept: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> list[tf.Tensor]:
    """The sub-model's weights: each full CNN tensor gathered at the kept filters and units."""
    out = []
    for w, axes in zip(weights, _axes(kept), strict=True):
        for axis, index in axes:
            w = tf.gather(w, index, axis=axis)
        out.append(w)
    return out


def _scatter_axis(value: tf.Tensor, index: tf.Tensor, axis: int, size: int) -> tf.Tensor:
    """`value` placed at `index` along `axis` of a zero tensor `size` long there (gather's transpose)."""
    moved = tf.experimental.numpy.moveaxis(value, axis, 0)
    shape = tf.concat([[size], tf.shape(moved)[1:]], axis=0)
    full = tf.scatter_nd(tf.cast(index, tf.int32)[:, None], moved, shape)
    return tf.experimental.numpy.moveaxis(full, 0, axis)


def scatter(sub: list[tf.Tensor], kept: tuple[tf.Tensor, tf.Tensor, tf.Tensor], full_shapes: list) -> list[tf.Tensor]:
    """Sub-model tensors put back at the kept positions of full-shaped zeros (units not kept get 0)."""
    out = []
    for value, axes, shape in zip(sub, _axes(kept), full_shapes, strict=True):
        for axis, index in reversed(axes):
            value = _scatter_axis(value, index, axis, int(shape[axis]))
        out.append(tf.ensure_shape(value, shape))
    return out


@attrs.define(frozen=True)
class DropoutState:
    """The server's state: the full model, the round count, the draw seed and the encoders' states."""

    model_weights: ModelWeights
    round_num: object
    seed: object
    broadcast_state: object
    aggregate_state: object


@attrs.define(frozen=True)
class ClientOutput:
    """A client's sub-model delta, its weight (examples) and its training sums (loss, correct answers)."""

    weights_delta: list
    client_weight: float
    loss_sum: float
    correct: float


@tf.function
def client_update(
    model: tff.learning.models.FunctionalModel, weights: ModelWeights, dataset: tf.data.Dataset, learning_rate: float
) -> ClientOutput:
    """Local SGD as `fedavg.client_update` (`fedavg.local_sgd`), with its sums of the loss and correct answers."""
    trained = fedavg.local_sgd(model, weights, dataset, learning_rate)
    return ClientOutput(trained.weights_delta, trained.examples, trained.loss_sum, trained.correct)


@dataclasses.dataclass
class DropoutProcess:
    """A LearningProcess-like object for `fedkit.experiments.run_rounds`: initialize, next, get_model_weights.

    Its state carries the seed of the sub-model draws; `experiments.initial_state` sets it to the run's seed.
    """

    initialize_fn: tff.Computation
    next: tff.Computation
    keep: float
    fedkit_config: dict

    def initialize(self) -> DropoutState:
        """The initial server state, drawing sub-models from seed 0."""
        return self.initialize_fn(0)

    def with_seed(self, state: DropoutState, seed: int) -> DropoutState:
        """`state` drawing its sub-models from `seed`."""
        return attrs.evolve(state, seed=np.int32(seed))

    def get_model_weights(self, state: DropoutState) -> ModelWeights:
        """The full model's weights in a state."""
        w = state.model_weights
        return ModelWeights(list(w.trainable), list(w.non_trainable))

    def set_model_weights(self, state: DropoutState, weights: ModelWeights) -> DropoutState:
        """`state` with the full model's weights replaced (so `run_rounds` can seed the starting weights)."""
        return attrs.evolve(state, model_weights=ModelWeights(list(weights.trainable), list(weights.non_trainable)))


def _functional_cnn(widths: tuple[int, int, int]) -> tff.learning.models.FunctionalModel:
    """The digits CNN narrowed to `widths` (conv 1 filters, conv 2 filters, dense units), as a functional model."""
    keras_model = models.create_original_fedavg_cnn_model(filters=widths[:2], units=widths[2])
    return models.functional_from_keras(keras_model, models.input_spec("cnn"))


def _refuse_lossless(compression: CompressionSpec) -> None:
    """Federated Dropout's encoded broadcast and mean do not report measured bits: refuse lossless encoders."""
    lossless = compression.lossless_directions()
    if lossless:
        spec = compression.record()[lossless[0]]
        raise ValueError(
            f"{lossless[0]}={spec}: Federated Dropout does not report the measured bits of lossless encoders; "
            "use uniform:B with it."
        )


def _model_init(model: tff.learning.models.FunctionalModel) -> tff.Computation:
    """A TF computation of the full model's initial weights."""

    @tff.tensorflow.computation
    def model_init():
        trainable, non_trainable = model.initial_weights
        return ModelWeights(list(trainable), list(non_trainable))

    return model_init


def _server_select(weights_type: tff.Type, keep: float) -> tff.Computation:
    """A TF computation of the round's sub-model: (full weights, round, seed) -> the kept weights."""

    @tff.tensorflow.computation(weights_type, np.int32, np.int32)
    def server_select(weights, round_num, seed):
        kept = draw_kept(keep, seed, round_num)
        return ModelWeights(select(list(weights.trainable), kept), list(weights.non_trainable))

    return server_select


def _distributor(sub_type: tff.Type, spec: EncoderSpec | None, threshold: int) -> tff.templates.MeasuredProcess:
    """The sub-model's broadcast: encoded with `spec`, or plain (None or identity)."""
    if spec is None or spec.is_identity:
        return tff.learning.templates.build_broadcast_process(sub_type)
    return encoders.build_encoded_broadcast(sub_type, encoders.broadcast_encoder_fn(spec, threshold))


def _client_fn(model: tff.learning.models.FunctionalModel, sub_type: tff.Type, lr: float) -> tff.Computation:
    """A TF computation of one client's training of the sub-model (`client_update`)."""
    dataset_type = tff.SequenceType(tff.types.tensorflow_to_type(model.input_spec))

    @tff.tensorflow.computation(sub_type, dataset_type)
    def client_fn(weights, dataset):
        return client_update(model, weights, dataset, lr)

    return client_fn


def _server_update(weights_type: tff.Type, delta_type: tff.Type, keep: float, lr: float) -> tff.Computation:
    """A TF computation that scatters the round's mean sub-model delta into the full weights and counts the round."""
    full_shapes = [t.shape for t in weights_type.trainable]

    @tff.tensorflow.computation(weights_type, np.int32, np.int32, delta_type)
    def server_update(weights, round_num, seed, mean_delta):
        kept = draw_kept(keep, seed, round_num)
        delta = scatter(list(mean_delta), kept, full_shapes)
        trainable = [w + lr * d for w, d in zip(weights.trainable, delta, strict=True)]
        return ModelWeights(trainable, list(weights.non_trainable)), round_num + 1

    return server_update


def _finish_metrics() -> tff.Computation:
    """A TF computation of the round's training metrics from the clients' summed loss, correct answers, examples."""

    @tff.tensorflow.computation
    def finish_metrics(sums):
        loss_sum, correct, examples = sums
        return {
            "client_work": {
                "train": {
                    "loss": tf.math.divide_no_nan(loss_sum, examples),
                    "accuracy": tf.math.divide_no_nan(correct, examples),
                    "num_examples": tf.cast(examples, tf.int64),
                }
            }
        }

    return finish_metrics


def _initialize_fn(model_init: tff.Computation, distributor, aggregator) -> tff.Computation:
    """The federated computation of the initial state, drawing sub-models from the seed it is given."""

    @tff.federated_computation(tff.FederatedType(np.int32, tff.SERVER))
    def initialize_fn(seed):
        return DropoutState(
            tff.federated_eval(model_init, tff.SERVER),
            tff.federated_value(0, tff.SERVER),
            seed,
            distributor.initialize(),
            aggregator.initialize(),
        )

    return initialize_fn


def build_process(
    keep: float = 1.0,
    client_lr: float = 0.02,
    server_lr: float = 1.0,
    broadcast: str | EncoderSpec | None = None,
    aggregate: str | AggregateSpec | None = None,
    threshold: int = DEFAULT_THRESHOLD,
) -> DropoutProcess:
    """FedAvg of the digits CNN with Federated Dropout at keep fraction `keep` and optional encoders."""
    keep = parse_keep_fraction(keep)
    compression = CompressionSpec.parse(broadcast, aggregate, threshold)
    _refuse_lossless(compression)
    checks.learning_rate(client_lr, "client_lr")
    checks.learning_rate(server_lr, "server_lr")
    model_init = _model_init(_functional_cnn(FULL_WIDTHS))
    weights_type = model_init.type_signature.result
    server_select = _server_select(weights_type, keep)
    distributor = _distributor(server_select.type_signature.result, compression.broadcast, compression.threshold)
    client_fn = _client_fn(_functional_cnn(kept_widths(keep)), server_select.type_signature.result, client_lr)
    delta_type, dataset_type = client_fn.type_signature.result.weights_delta, client_fn.type_signature.parameter[1]
    factory = builders.aggregate_factory(compression.aggregate, compression.threshold) or tff.aggregators.MeanFactory()
    aggregator = factory.create(delta_type, client_fn.type_signature.result.client_weight)
    server_update = _server_update(weights_type, delta_type, keep, server_lr)
    finish_metrics = _finish_metrics()
    initialize_fn = _initialize_fn(model_init, distributor, aggregator)
    state_type = initialize_fn.type_signature.result

    @tff.federated_computation(state_type, tff.FederatedType(dataset_type, tff.CLIENTS))
    def next_fn(state, datasets):
        sub_weights = tff.federated_map(server_select, (state.model_weights, state.round_num, state.seed))
        sent = distributor.next(state.broadcast_state, sub_weights)
        outputs = tff.federated_map(client_fn, (sent.result, datasets))
        mean = aggregator.next(state.aggregate_state, outputs.weights_delta, outputs.client_weight)
        weights, round_num = tff.federated_map(
            server_update, (state.model_weights, state.round_num, state.seed, mean.result)
        )
        sums = tff.federated_sum((outputs.loss_sum, outputs.correct, outputs.client_weight))
        new_state = DropoutState(weights, round_num, state.seed, sent.state, mean.state)
        return tff.learning.templates.LearningProcessOutput(new_state, tff.federated_map(finish_metrics, sums))

    config = {**builders.fedkit_config("cnn", client_lr, server_lr, compression), "dropout": keep}
    return DropoutProcess(initialize_fn, next_fn, keep, config)
