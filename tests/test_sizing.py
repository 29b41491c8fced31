"""fedkit.compression.sizing: static bit counts of what crosses placements, the removed sizing executor's own test
cases, and the tutorial's figures."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit import algorithms, models
from fedkit.compression import encoders, sizing


def at_clients(value_type) -> tff.FederatedType:
    return tff.FederatedType(value_type, tff.CLIENTS)


def test_type_bits():
    t = tff.StructType(
        [
            ("a", tff.TensorType(np.float32, [3, 4])),
            ("b", tff.TensorType(np.int64)),
            ("c", tff.TensorType(np.bool_, [5])),
        ]
    )
    assert sizing.type_bits(t) == 12 * 32 + 64 + 5 * 1  # a bool is one bit
    assert sizing.type_bits(tff.SequenceType(np.float32)) == 0  # datasets count nothing
    for bad in (tff.TensorType(np.float32, [None, 3]), tff.TensorType(np.str_)):
        with pytest.raises(sizing.NotStaticError):
            sizing.type_bits(bad)


def test_tensor_bits_takes_numpy_and_tensorflow_shapes_and_dtypes():
    assert sizing.tensor_bits((3, 4), np.float32) == sizing.tensor_bits(tf.TensorShape([3, 4]), tf.float32) == 384
    assert sizing.tensor_bits([], tf.int64) == 64  # a scalar
    assert sizing.tensor_bits([5], tf.bool) == 5  # a bool is one bit, as in type_bits
    spec = tf.TensorSpec([2, 7], tf.int32)
    assert sizing.tensor_bits(spec.shape, spec.dtype) == sizing.type_bits(tff.TensorType(np.int32, [2, 7]))
    with pytest.raises(sizing.NotStaticError):
        sizing.tensor_bits(tf.TensorShape([None, 3]), tf.float32)


@pytest.mark.parametrize(
    "payload, used, words", [(0, 28, 0), (1, 28, 1), (28, 28, 1), (29, 28, 2), (64, 32, 2), (65, 32, 3)]
)
def test_words_bits_counts_whole_int32_words(payload, used, words):
    assert sizing.words_bits(payload, used) == 32 * words


def test_words_bits_is_what_bitpacking_sends():
    # 1,000 values at 3 bits: 3,000 payload bits, 28 to a word: 108 int32 words.
    packed = te.stages.BitpackingEncodingStage(3).encode(tf.zeros([1000]), {})
    [(_, words)] = [(k, v) for k, v in packed.items()]
    assert sizing.tensor_bits(words.shape, words.dtype) == sizing.words_bits(3000, sizing.PACKED_BITS_PER_WORD)


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

    @tff.federated_computation(tff.FederatedType(vector, tff.SERVER), at_clients(np.int32))
    def comp(server_value, client_value):
        down = tff.federated_broadcast(server_value)
        total = tff.federated_aggregate(client_value, np.float32(0), add, merge, report)
        ones = tff.federated_map(report, tff.federated_value(np.float32(1.0), tff.CLIENTS))
        mean = tff.federated_mean(ones, tff.federated_value(np.float32(2.0), tff.CLIENTS))  # weighted
        return down, total, mean

    cost = sizing.communication_cost(comp)
    assert cost.by_intrinsic == {
        "federated_broadcast": 3200,
        "federated_value_at_clients": 64,
        sizing.PARAMETER: 32,
        "federated_aggregate": 32,
        "federated_weighted_mean": 64,  # the value and its weight
        sizing.RESULT: 3200,  # `down` is returned to Python from the clients
    }
    assert cost.broadcast_bits == 3200 + 64 + 32 and cost.aggregate_bits == 32 + 64 + 3200
    assert cost.per_round(7) == (7 * 3296, 7 * 3296)


def test_select_counts_keys_up_and_selected_slices_down():
    rows = tff.TensorType(np.float32, [50, 8])

    @tff.tensorflow.computation(rows, np.int32)
    def row(table, key):
        return tf.gather(table, key)

    @tff.tensorflow.computation(tff.SequenceType(tff.TensorType(np.float32, [8])))
    def total(selected):
        return selected.reduce(np.float32(0), lambda s, x: s + tf.reduce_sum(x))

    @tff.federated_computation(tff.FederatedType(rows, tff.SERVER), at_clients(tff.TensorType(np.int32, [3])))
    def comp(table, keys):
        return tff.federated_map(total, tff.federated_select(keys, tff.federated_value(50, tff.SERVER), table, row))

    cost = sizing.communication_cost(comp)
    assert cost.by_intrinsic["federated_select"] == 3 * 32 + 3 * 8 * 32  # 3 keys up, 3 rows of 8 down
    assert cost.by_intrinsic[sizing.PARAMETER] == 3 * 32 and cost.by_intrinsic[sizing.RESULT] == 32


# The removed sizing executor's own tests (sizing_executor_test.py, TFF <= 0.47): a value passed
# from Python to a client and the value read back. Their expected [elements, dtype] histories,
# in bits with the executor's widths (bool 1, string 8 per byte).
INT10 = tff.TensorType(np.int32, [10])
NESTED = tff.StructType(
    [
        ("a", tff.TensorType(np.int32, [4])),
        ("b", tff.TensorType(np.bool_, [2])),
        ("c", tff.TensorType(np.int64, [2, 3])),
    ]
)
NESTED_VALUE = collections.OrderedDict(a=[0, 1, 2, 3], b=[True, False], c=[[1, 2, 3], [4, 5, 6]])


@tff.tensorflow.computation(INT10)
def add_one(x):
    return x + 1


@tff.tensorflow.computation(INT10)
def return_constant(x):
    del x
    return tf.constant(0, tf.int32)


@tff.tensorflow.computation(tff.TensorType(np.float64, [10]), INT10)
def add_as_int64(x, y):
    return tf.cast(x, tf.int64) + tf.cast(y, tf.int64)


def on_clients(fn, value_type):
    """A computation that passes a CLIENTS value in, applies `fn` there and returns the result."""

    @tff.federated_computation(at_clients(value_type))
    def comp(x):
        return tff.federated_map(fn, x) if fn else x

    return comp


EXECUTOR_CASES = {
    # name: (computation, one client's value, broadcast bits, aggregate bits)
    "simple": (on_clients(add_one, INT10), list(range(10)), 10 * 32, 10 * 32),
    "different_input_output": (on_clients(return_constant, INT10), list(range(10)), 10 * 32, 1 * 32),
    "multiple_inputs": (
        on_clients(add_as_int64, tff.StructType([add_as_int64.type_signature.parameter[0], INT10])),
        (np.arange(10.0), np.arange(10, dtype=np.int32)),
        10 * 64 + 10 * 32,
        10 * 64,
    ),
    "nested_tuple": (
        on_clients(None, tff.StructType([("a", NESTED), ("b", NESTED)])),
        collections.OrderedDict(a=NESTED_VALUE, b=NESTED_VALUE),
        2 * (4 * 32 + 2 * 1 + 6 * 64),
        2 * (4 * 32 + 2 * 1 + 6 * 64),
    ),
    "empty_tuple": (on_clients(None, tff.StructType([])), collections.OrderedDict(), 0, 0),
    "unnamed_tuple": (on_clients(None, tff.StructType([np.int32, np.int32])), (0, 1), 2 * 32, 2 * 32),
}


@pytest.mark.parametrize("case", list(EXECUTOR_CASES))
def test_removed_executor_cases_static_and_measured(case):
    comp, value, down, up = EXECUTOR_CASES[case]
    cost = sizing.communication_cost(comp)
    assert (cost.broadcast_bits, cost.aggregate_bits, cost.not_static) == (down, up, ())
    measured = sizing.measure(comp, [value, value, value])
    assert (measured.clients, measured.broadcast_bits, measured.aggregate_bits) == (3, 3 * down, 3 * up)


@pytest.mark.parametrize("strings", [["hi", "bye", "tensor", "federated"], ["some", "arbitrary", "string", "here"]])
def test_strings_are_measured_not_guessed(strings):
    # The executor's test_string and test_ordered_dict: a string tensor counts its bytes.
    value_type = tff.StructType([("a", tff.TensorType(np.str_, [4])), ("b", tff.TensorType(np.int64, [2, 3]))])
    comp = on_clients(None, value_type)
    cost = sizing.communication_cost(comp)
    assert (cost.broadcast_bits, cost.aggregate_bits) == (6 * 64, 6 * 64)
    assert [n.split(":")[0] for n in cost.not_static] == [sizing.PARAMETER, sizing.RESULT]
    value = collections.OrderedDict(a=strings, b=[[3, 4, 1], [6, 8, -5]])
    measured = sizing.measure(comp, [value])
    expected = 8 * sum(len(s) for s in strings) + 6 * 64
    assert (measured.broadcast_bits, measured.aggregate_bits) == (expected, expected)
    assert sizing.value_bits(["é"], tff.TensorType(np.str_, [1])) == 16  # bytes, not characters


@tff.tensorflow.computation(tff.SequenceType(np.float32), np.float32)
def count_over(ds, t):
    return ds.reduce(np.float32(0), lambda n, x: n + tf.cast(tf.greater(x, t), tf.float32))


@tff.tensorflow.computation(tff.SequenceType(np.float32))
def count_total(ds):
    return ds.reduce(np.float32(0.0), lambda n, _: n + 1.0)


@tff.federated_computation(at_clients(tff.SequenceType(np.float32)), tff.FederatedType(np.float32, tff.SERVER))
def mean_over_threshold(temperatures, threshold):
    client_data = tff.federated_zip([temperatures, tff.federated_broadcast(threshold)])
    return tff.federated_mean(tff.federated_map(count_over, client_data), tff.federated_map(count_total, temperatures))


def test_removed_backend_test_size_info():
    # backend_test.py's SizingExecutionContextTest: 10 clients each receive one float32 and upload
    # two (the value and its weight); the datasets passed in count nothing.
    temperatures = [tf.data.Dataset.range(10).map(lambda x: tf.cast(x, tf.float32))] * 10
    measured = sizing.measure(mean_over_threshold, temperatures, np.float32(15.0))
    assert (measured.broadcast_bits, measured.aggregate_bits) == (10 * 32, 10 * 32 * 2)
    assert sizing.communication_cost(mean_over_threshold).per_round(10) == (10 * 32, 10 * 32 * 2)


def test_non_static_values_are_reported_not_guessed():
    @tff.federated_computation(tff.FederatedType(tff.TensorType(np.float32, [None]), tff.SERVER))
    def comp(x):
        return tff.federated_broadcast(x)

    cost = sizing.communication_cost(comp)
    assert (cost.broadcast_bits, cost.aggregate_bits) == (0, 0)
    assert [n.split(":")[0] for n in cost.not_static] == ["federated_broadcast", sizing.RESULT]


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
    cost = sizing.communication_cost(algorithms.build_fedavg("cnn").next)
    assert cost.by_intrinsic[sizing.PARAMETER] == 0  # the client datasets: a dataset counts nothing
    assert sizing.RESULT not in cost.by_intrinsic  # the round returns nothing from the clients
    # The model, plus the client learning rate (32 bits) broadcast with it.
    assert cost.broadcast_bits == cnn_params * 32 + 32
    assert cost.aggregate_bits > cnn_params * 32  # the delta plus weight and metric sums
    down, up = cost.per_round(10)
    assert (sizing.format_size(down), sizing.format_size(up)) == ("507.62Mibit", "507.62Mibit")  # published
    assert sizing.format_size(10 * down) == "4.96Gibit"


def test_compressed_fedavg_reproduces_published_figures():
    process = algorithms.build_fedavg("cnn", broadcast="uniform:8", aggregate="uniform:8", threshold=10_000)
    cost = sizing.communication_cost(process.next)
    weights_type = tff.learning.models.weights_type_from_model(models.model_fn("cnn"))
    encoded_model = sum(r["encoded bits"] for r in encoders.encoding_table(weights_type, "uniform:8", 10_000))
    assert cost.broadcast_bits == encoded_model + 32
    down, up = cost.per_round(10)
    assert (sizing.format_size(down), sizing.format_size(up)) == ("146.46Mibit", "146.46Mibit")  # published
    assert (sizing.format_size(2 * down), sizing.format_size(2 * up)) == ("292.92Mibit", "292.93Mibit")
    assert sizing.format_size(10 * down) == "1.43Gibit"


def test_current_tutorial_compression_aggregator_figures(cnn_params):
    # TFF's later compression tutorial: tff.learning.compression_aggregator() on aggregation only.
    cost = sizing.communication_cost(algorithms.build_fedavg("cnn", aggregate="tff-compression").next)
    # The model, plus a few scalars: the client learning rate and the aggregator's zeroing and clipping norms.
    assert 0 < cost.broadcast_bits - cnn_params * 32 < 1024
    assert cost.aggregate_bits < cnn_params * 32 / 3  # the large kernels go up as 8-bit values
    down, up = cost.per_round(10)
    assert (sizing.format_size(down), sizing.format_size(up)) == ("507.62Mibit", "146.47Mibit")  # published
