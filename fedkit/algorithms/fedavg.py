"""FedAvg written from TFF's federated intrinsics, in the spirit of TFF's `simple_fedavg` example.

Two layers, kept apart:
- pure TensorFlow, runnable and testable on its own: `client_update` (local SGD over a client's
  dataset, returning the model delta and the number of examples; its loop, `local_sgd`, is also
  Federated Dropout's) and `server_update` (apply the averaged delta);
- the federated orchestration, `build_process`: broadcast -> `federated_map(client_update)` ->
  `federated_mean(weight=examples)` -> `federated_map(server_update)`.

The model is a `tff.learning.models.FunctionalModel` (e.g. `fedkit.models.functional_model("dense")`),
whose weights are plain tensors: no TF variables cross into the federated code.

With `proximal_strength` mu > 0 it is FedProx (Li et al., 2020): each client minimizes its loss plus
mu/2 ||w - w_server||^2, so its gradient gains mu (w - w_server), which pulls it back towards the
broadcast model. (TFF 0.87's `build_weighted_fed_prox` adds mu (w_server - w) instead, which pushes the
client away; `tests/test_fedavg.py` shows both.)
"""

from __future__ import annotations

from typing import TypeAlias

import attrs
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.common import checks

ModelWeights: TypeAlias = tff.learning.models.ModelWeights


@attrs.define(frozen=True)
class ServerState:
    """What the server keeps between rounds: the global model and the round count."""

    model_weights: ModelWeights
    round_num: int


@attrs.define(frozen=True)
class ClientOutput:
    """What one client sends back: its model delta and its weight (the examples it trained on)."""

    weights_delta: list
    client_weight: float


@attrs.define(frozen=True)
class LocalTraining:
    """What local SGD over one client's dataset gives: the model delta, the examples trained on, and the sums of
    the loss (per example) and of the correct answers, taken before each step."""

    weights_delta: list
    examples: tf.Tensor
    loss_sum: tf.Tensor
    correct: tf.Tensor


def local_sgd(
    model: tff.learning.models.FunctionalModel,
    weights: ModelWeights,
    dataset: tf.data.Dataset,
    learning_rate: float,
    proximal_strength: float = 0.0,
) -> LocalTraining:
    """The client update of FedAvg (FedProx's with `proximal_strength` > 0), in plain TensorFlow: SGD from the
    broadcast `weights` over every batch of `dataset`, for a classifier of integer labels."""
    initial = tuple(weights.trainable)
    non_trainable = tuple(weights.non_trainable)

    def sgd_step(carry, batch):
        trainable, examples, loss_sum, correct = carry
        x, y = batch
        n = tf.cast(tf.shape(y)[0], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(trainable)
            predictions = model.predict_on_batch((trainable, non_trainable), x, training=True)
            loss = model.loss(predictions, y)
        gradients = tape.gradient(loss, trainable)
        if proximal_strength:  # the gradient of mu/2 ||w - w_server||^2
            pulls = zip(gradients, trainable, initial, strict=True)
            gradients = [g + proximal_strength * (w - w0) for g, w, w0 in pulls]
        hits = tf.equal(tf.argmax(predictions, axis=1, output_type=tf.int32), tf.reshape(tf.cast(y, tf.int32), [-1]))
        trainable = tuple(w - learning_rate * g for w, g in zip(trainable, gradients, strict=True))
        return trainable, examples + n, loss_sum + loss * n, correct + tf.reduce_sum(tf.cast(hits, tf.float32))

    zero = tf.constant(0.0)
    trained, examples, loss_sum, correct = dataset.reduce((initial, zero, zero, zero), sgd_step)
    return LocalTraining([t - i for t, i in zip(trained, initial, strict=True)], examples, loss_sum, correct)


@tf.function
def client_update(
    model: tff.learning.models.FunctionalModel,
    weights: ModelWeights,
    dataset: tf.data.Dataset,
    learning_rate: float,
    proximal_strength: float = 0.0,
) -> ClientOutput:
    """Local SGD (`local_sgd`; FedProx's with `proximal_strength` > 0) from the broadcast `weights` over every
    batch of `dataset`; the delta and the example count."""
    trained = local_sgd(model, weights, dataset, learning_rate, proximal_strength)
    return ClientOutput(trained.weights_delta, trained.examples)


@tf.function
def server_update(state: ServerState, mean_delta: list, learning_rate: float) -> ServerState:
    """Move the global model by `learning_rate` times the clients' weighted mean delta."""
    trainable = [w + learning_rate * d for w, d in zip(state.model_weights.trainable, mean_delta, strict=True)]
    return ServerState(ModelWeights(trainable, list(state.model_weights.non_trainable)), state.round_num + 1)


def build_process(
    model: tff.learning.models.FunctionalModel,
    client_lr: float = 0.1,
    server_lr: float = 1.0,
    proximal_strength: float = 0.0,
) -> tff.templates.IterativeProcess:
    """FedAvg (FedProx with `proximal_strength` > 0) as a `tff.templates.IterativeProcess`:
    `initialize() -> state`, `next(state, datasets) -> state`."""
    if not proximal_strength >= 0:
        raise ValueError(f"proximal_strength={proximal_strength}: give mu >= 0 (0 is FedAvg).")
    checks.learning_rate(client_lr, "client_lr")
    checks.learning_rate(server_lr, "server_lr")

    @tff.tensorflow.computation
    def server_init() -> ServerState:
        trainable, non_trainable = model.initial_weights
        return ServerState(ModelWeights(list(trainable), list(non_trainable)), 0)

    state_type = server_init.type_signature.result
    dataset_type = tff.SequenceType(tff.types.tensorflow_to_type(model.input_spec))

    @tff.tensorflow.computation(state_type.model_weights, dataset_type)
    def client_update_fn(weights, dataset):
        return client_update(model, weights, dataset, client_lr, proximal_strength)

    @tff.tensorflow.computation(state_type, state_type.model_weights.trainable)
    def server_update_fn(state, mean_delta):
        return server_update(state, mean_delta, server_lr)

    @tff.federated_computation
    def initialize():
        return tff.federated_eval(server_init, tff.SERVER)

    @tff.federated_computation(tff.FederatedType(state_type, tff.SERVER), tff.FederatedType(dataset_type, tff.CLIENTS))
    def next_fn(state, datasets):
        weights = tff.federated_broadcast(state.model_weights)
        outputs = tff.federated_map(client_update_fn, (weights, datasets))
        mean_delta = tff.federated_mean(outputs.weights_delta, weight=outputs.client_weight)
        return tff.federated_map(server_update_fn, (state, mean_delta))

    return tff.templates.IterativeProcess(initialize, next_fn)
