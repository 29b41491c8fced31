"""fedkit.sizing: static bit counts of what crosses placements, and the tutorial's figures."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import encoders, models, sizing, training


def test_type_bits():
    t = tff.StructType([("a", tff.TensorType(np.float32, [3, 4])), ("b", tff.TensorType(np.int64)),
                        ("c", tff.TensorType(np.bool_, [5]))])  # fmt: skip
    assert sizing.type_bits(t) == 12 * 32 + 64 + 5 * 8
    for bad in (tff.TensorType(np.float32, [None, 3]), tff.TensorType(np.str_), tff.SequenceType(np.float32)):
        with pytest.raises(sizing.NotStaticError):
            sizing.type_bits(bad)


def test_directions_and_aggregate_arguments():
    vector = tff.TensorType(np.float32, [100])

    @tff.tensorflow.computation(np.float32, np.int32)
    def add(a, b):
        return a + tf.cast(b, tf.float32)

    @tff.tensorflow.computation(np.float32, np.float32)
    def merge(a, b):
        return a + b

    @tff.tensorflow.computation(np.float32)
    def report(a):
        return a

    @tff.federated_computation(tff.FederatedType(vector, tff.SERVER), tff.FederatedType(np.int32, tff.CLIENTS))
    def comp(server_value, client_value):
        down = tff.federated_broadcast(server_value)
        total = tff.federated_aggregate(client_value, np.float32(0), add, merge, report)
        ones = tff.federated_map(report, tff.federated_value(np.float32(1.0), tff.CLIENTS))
        mean = tff.federated_mean(ones, tff.federated_value(np.float32(2.0), tff.CLIENTS))  # weighted
        return down, total, mean

    cost = sizing.communication_cost(comp)
    assert cost.broadcast_bits == 100 * 32
    assert cost.by_intrinsic == {"federated_broadcast": 3200, "federated_aggregate": 32, "federated_weighted_mean": 64}
    assert cost.aggregate_bits == 96 and cost.per_round(7) == (7 * 3200, 7 * 96)


def test_non_static_values_are_reported_not_guessed():
    @tff.federated_computation(tff.FederatedType(tff.TensorType(np.float32, [None]), tff.SERVER))
    def comp(x):
        return tff.federated_broadcast(x)

    cost = sizing.communication_cost(comp)
    assert cost.broadcast_bits == 0 and len(cost.not_static) == 1 and "federated_broadcast" in cost.not_static[0]


def test_format_size():
    assert sizing.format_size(512) == "512.00bit"
    assert sizing.format_size(1536) == "1.50Kibit"
    assert sizing.format_size(3 * 2**40) == "3.00Tibit"


def test_tracker_accumulates_per_round():
    tracker = sizing.SizeTracker(sizing.CommunicationCost(10, 20, {}))
    for clients in (3, 5):
        tracker.record_round(clients)
    assert tracker.broadcast_bits == [30, 80] and tracker.aggregate_bits == [60, 160]


@pytest.fixture(scope="module")
def cnn_params():
    return models.create_original_fedavg_cnn_model().count_params()


def test_fedavg_cnn_reproduces_published_figures(cnn_params):
    cost = sizing.communication_cost(training.build_fedavg("cnn").next)
    # The model, plus the client learning rate (32 bits) broadcast with it.
    assert cost.broadcast_bits == cnn_params * 32 + 32
    assert cost.aggregate_bits > cnn_params * 32  # the delta plus weight and metric sums
    down, up = cost.per_round(10)
    assert (sizing.format_size(down), sizing.format_size(up)) == ("507.62Mibit", "507.62Mibit")  # published
    assert sizing.format_size(10 * down) == "4.96Gibit"


def test_compressed_fedavg_reproduces_published_figures():
    process = training.build_fedavg("cnn", broadcast="uniform:8", aggregate="uniform:8", threshold=10_000)
    cost = sizing.communication_cost(process.next)
    weights_type = tff.learning.models.weights_type_from_model(models.model_fn("cnn"))
    encoded_model = sum(r["encoded bits"] for r in encoders.encoding_table(weights_type, "uniform:8", 10_000))
    assert cost.broadcast_bits == encoded_model + 32
    down, up = cost.per_round(10)
    assert (sizing.format_size(down), sizing.format_size(up)) == ("146.46Mibit", "146.46Mibit")  # published
    assert (sizing.format_size(2 * down), sizing.format_size(2 * up)) == ("292.92Mibit", "292.93Mibit")
    assert sizing.format_size(10 * down) == "1.43Gibit"
