"""fedkit.algorithms.fedavg: FedAvg from intrinsics against a numpy reference, and its traffic against
build_weighted_fed_avg."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import algorithms, models
from fedkit.algorithms import dropout, fedavg
from fedkit.compression import sizing

CLIENT_LR, SERVER_LR = 0.5, 1.0


@pytest.fixture(scope="module")
def process():
    return fedavg.build_process(models.functional_model("dense"), client_lr=CLIENT_LR, server_lr=SERVER_LR)


def _client_arrays(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # Small inputs keep the softmax away from saturation, where Keras clips probabilities and numpy does not.
    return 0.05 * rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, (n, 1)).astype(np.int32)


def _numpy_sgd(w: np.ndarray, b: np.ndarray, x: np.ndarray, y: np.ndarray, batch: int) -> tuple[np.ndarray, ...]:
    """Softmax regression trained by plain SGD on mean cross-entropy, batch by batch, in numpy."""
    for start in range(0, len(x), batch):
        xb, yb = x[start : start + batch].astype(np.float64), y[start : start + batch, 0]
        logits = xb @ w + b
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1.0  # d(mean cross-entropy)/d(logits) * batch size
        w, b = w - CLIENT_LR * xb.T @ p / len(yb), b - CLIENT_LR * p.mean(axis=0)
    return w, b


def test_one_round_is_the_example_weighted_mean_of_client_models(process):
    clients = [_client_arrays(1, 5), _client_arrays(2, 2)]
    datasets = [tf.data.Dataset.from_tensor_slices(arrays).batch(2) for arrays in clients]
    state = process.next(process.initialize(), datasets)

    w0, b0 = np.zeros((784, 10)), np.zeros(10)
    trained = [_numpy_sgd(w0, b0, x, y, batch=2) for x, y in clients]
    counts = np.array([len(x) for x, _ in clients], np.float64)
    mean_w = sum(n * w for n, (w, _) in zip(counts, trained, strict=True)) / counts.sum()
    mean_b = sum(n * b for n, (_, b) in zip(counts, trained, strict=True)) / counts.sum()
    got_w, got_b = state.model_weights.trainable
    assert state.round_num == 1
    assert not np.allclose(mean_w, trained[0][0])  # the two clients moved differently: the mean is a real test
    np.testing.assert_allclose(got_w, w0 + SERVER_LR * (mean_w - w0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(got_b, b0 + SERVER_LR * (mean_b - b0), rtol=1e-4, atol=1e-6)


def test_bits_are_build_weighted_fed_avgs_model_part(process):
    ours = sizing.communication_cost(process.next)
    builder = algorithms.build_fedavg("dense", client_lr=CLIENT_LR, server_lr=SERVER_LR)
    theirs = sizing.communication_cost(builder.next)

    model_bits = sizing.type_bits(builder.get_model_weights.type_signature.result)
    weight_bits = sizing.type_bits(tff.TensorType(np.float32))
    assert ours.broadcast_bits == model_bits
    assert ours.aggregate_bits == model_bits + weight_bits  # the delta has the model's shapes, plus one weight

    # What the builder sends beyond the model: the client learning rate down, the metric sums up.
    client_lr_bits = sizing.type_bits(builder.initialize.type_signature.result.member.client_work)

    @tff.tensorflow.computation
    def metric_sums():
        model = models.model_fn("dense")()  # a name keeps the model alive while its method is traced
        return model.report_local_unfinalized_metrics()

    assert theirs.broadcast_bits - ours.broadcast_bits == client_lr_bits > 0
    assert theirs.aggregate_bits - ours.aggregate_bits == sizing.type_bits(metric_sums.type_signature.result) > 0


def test_pure_tf_pieces_run_outside_tff():
    state = fedavg.ServerState(fedavg.ModelWeights([tf.ones([2, 2]), tf.zeros([2])], []), 3)
    new = fedavg.server_update(state, [tf.ones([2, 2]), tf.ones([2])], 0.5)
    np.testing.assert_allclose(new.model_weights.trainable[0], np.full((2, 2), 1.5))
    np.testing.assert_allclose(new.model_weights.trainable[1], np.full(2, 0.5))
    assert int(new.round_num) == 4


def _in_graph(fn):
    """`fn()`'s tensors as numpy, run in a graph (a Keras functional model predicts only there, as inside TFF)."""
    with tf.Graph().as_default() as graph:
        tensors = fn()
        with tf.compat.v1.Session(graph=graph) as session:
            return session.run(tensors)


def test_local_sgd_sums_the_loss_and_correct_answers_and_is_dropouts_client_update():
    model = models.functional_model("dense")
    rng = np.random.default_rng(5)
    kernel, bias = rng.normal(size=(784, 10)).astype(np.float32), rng.normal(size=10).astype(np.float32)
    x, y = _client_arrays(4, 7)
    weights = fedavg.ModelWeights([kernel, bias], [])

    def batches():
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(3)  # 3, 3 and 1 examples

    def trained(lr):
        t = fedavg.local_sgd(model, weights, batches(), lr)
        return t.weights_delta, t.examples, t.loss_sum, t.correct

    # With learning rate 0 the weights stay: the sums are the starting model's, over all 7 examples.
    delta, examples, loss_sum, correct = _in_graph(lambda: trained(0.0))
    logits = x @ kernel + bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    assert examples == 7 and not any(np.any(d) for d in delta)
    assert loss_sum == pytest.approx(-np.log(p[np.arange(7), y[:, 0]]).sum(), rel=1e-5)
    assert correct == np.sum(p.argmax(axis=1) == y[:, 0])

    # FedAvg's client update and Federated Dropout's are the same training (`local_sgd`).
    def both():
        ours, theirs = (f(model, weights, batches(), 0.5) for f in (fedavg.client_update, dropout.client_update))
        return ours.weights_delta, theirs.weights_delta, ours.client_weight, theirs.client_weight

    ours, theirs, our_weight, their_weight = _in_graph(both)
    assert our_weight == their_weight == 7
    for a, b in zip(ours, theirs, strict=True):
        assert np.any(a)
        np.testing.assert_array_equal(a, b)


def _distance_after_one_round(next_state, mu: float) -> float:
    """How far one round of one client, 20 epochs from the zero model, moves the model (its norm)."""
    x, y = _client_arrays(3, 40)
    dataset = tf.data.Dataset.from_tensor_slices((20 * x, y)).repeat(20).batch(10)
    weights = next_state(mu, dataset)
    return float(np.sqrt(sum(np.sum(np.square(w)) for w in weights)))


def _fedkit_prox(mu: float, dataset) -> list:
    process = fedavg.build_process(models.functional_model("dense"), client_lr=0.1, proximal_strength=mu)
    return process.next(process.initialize(), [dataset]).model_weights.trainable


def _tff_prox(mu: float, dataset) -> list:
    sgd = tff.learning.optimizers.build_sgdm
    process = tff.learning.algorithms.build_weighted_fed_prox(
        models.functional_model("dense"),
        proximal_strength=mu,
        client_optimizer_fn=sgd(0.1),
        server_optimizer_fn=sgd(1.0),
    )
    return process.get_model_weights(process.next(process.initialize(), [dataset]).state).trainable


def test_fedprox_pulls_clients_towards_the_broadcast_model():
    free, held = _distance_after_one_round(_fedkit_prox, 0.0), _distance_after_one_round(_fedkit_prox, 1.0)
    assert 0 < held < 0.8 * free


def test_tff_087_fedprox_pushes_clients_away_instead():
    # TFF 0.87's proximal_client_work adds mu * (w_server - w) to the gradient: the opposite of FedProx's pull.
    # If this fails, TFF's FedProx has been fixed and lesson 05 may use build_weighted_fed_prox again.
    assert _distance_after_one_round(_tff_prox, 1.0) > 1.2 * _distance_after_one_round(_tff_prox, 0.0)
    with pytest.raises(ValueError, match="proximal_strength=-1"):
        fedavg.build_process(models.functional_model("dense"), proximal_strength=-1)
