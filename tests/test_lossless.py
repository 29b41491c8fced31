"""fedkit.compression.lossless: Elias-gamma codes after uniform quantization, exact round trips, measured bits
against independent counts, and the measured totals the tracker, run_rounds and `cost` report."""

import functools
import math

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import algorithms, cli, experiments
from fedkit.compression import encoders, lossless, sizing
from fedkit.compression.specs import CompressionSpec

VALUE_TYPE = tff.StructWithPythonType(
    [("big", tff.TensorType(np.float32, [120, 100])), ("bias", tff.TensorType(np.float32, [7]))], dict
)


def gamma_code(n: int) -> str:
    """Elias gamma by its definition: floor(log2 n) zeros, then n in binary."""
    binary = bin(n)[2:]
    return "0" * (len(binary) - 1) + binary


def naive_decode(code: np.ndarray, count: int) -> list[int]:
    """Read `count` Elias-gamma codes one by one from the buffer's 32-bit words, most significant bit first."""
    bits = "".join(f"{word & 0xFFFFFFFF:032b}" for word in code.tolist())
    values, p = [], 0
    for _ in range(count):
        zeros = len(bits[p:]) - len(bits[p:].lstrip("0"))
        values.append(int(bits[p + zeros : p + 2 * zeros + 1], 2))
        p += 2 * zeros + 1
    return values


def expected_length(levels: np.ndarray) -> int:
    """Bits of the Elias-gamma codes of the levels' zigzagged distances to their rounded mean, by the definition."""
    center = int(np.round(np.mean(levels.astype(np.float64))))
    distances = levels.astype(np.int64) - center
    positive = np.where(distances >= 0, 2 * distances, -2 * distances - 1) + 1
    return sum(len(gamma_code(int(n))) for n in positive)


def formula_length(levels: np.ndarray) -> int:
    """The same count, vectorized: sum of 2 * floor(log2 n) + 1 over the zigzagged distances."""
    center = int(np.round(np.mean(levels.astype(np.float64))))
    positive = lossless.zigzag(levels.astype(np.int64) - center)
    return int((2 * np.floor(np.log2(positive)).astype(np.int64) + 1).sum())


def code_and_decode(levels: np.ndarray, bits: int):
    """Encode then decode in a tf.function, as TFF runs the stage: (encoded tensors, measured length, decoded values).

    Eagerly, the decoder's loop over a chunk's codes runs op by op: about 1.5 s a case instead of 0.2 s.
    """
    stage = lossless.EliasGammaEncodingStage(bits)

    @tf.function
    def round_trip(x):
        encoded, update = stage.encode(x, {})
        return encoded, update[lossless.LENGTH_KEY], stage.decode(encoded, {}, shape=tf.shape(x))

    encoded, length, decoded = round_trip(tf.constant(levels, tf.float32))
    return encoded, int(length), decoded.numpy()


def test_gamma_lengths_and_zigzag_match_the_definition():
    n = np.arange(1, 5000)
    assert list(lossless.gamma_lengths(n)) == [len(gamma_code(int(k))) for k in n]
    assert list(lossless.zigzag([0, -1, 1, -2, 2, -3])) == [1, 2, 3, 4, 5, 6]
    with pytest.raises(ValueError, match="positive integers; got 0"):
        lossless.gamma_lengths([3, 0])


RNG = np.random.default_rng(0)
CASES = {
    "peaked": (8, np.clip(np.round(RNG.normal(100, 2, 3000)), 0, 255)),
    "uniform": (8, RNG.integers(0, 256, 1500)),
    "all zeros": (8, np.zeros(700)),
    "all max": (8, np.full(1100, 255)),
    "extremes alternating": (8, np.tile([0, 255], 600)),
    "one value": (4, np.array([9])),
    "1 bit": (1, RNG.integers(0, 2, 1030)),
    "16 bits": (16, RNG.integers(0, 2**16, 2000)),
    "one chunk exactly": (3, RNG.integers(0, 8, lossless.CHUNK)),
}


@functools.cache
def coded_case(case: str):
    """`code_and_decode` of one of CASES, computed once for the tests that read it."""
    bits, levels = CASES[case]
    return code_and_decode(levels.astype(np.float32), bits)


@pytest.mark.parametrize("case", CASES)
def test_round_trip_is_exact_and_length_is_the_gamma_formula(case):
    levels = CASES[case][1].astype(np.float32)
    encoded, length, decoded = coded_case(case)
    np.testing.assert_array_equal(decoded, levels)
    assert length == expected_length(levels) == formula_length(levels)
    # The buffer really holds Elias-gamma codes: read one by one, they are the zigzagged distances.
    center = int(encoded[lossless.EliasGammaEncodingStage.CENTER_KEY])
    expected = lossless.zigzag(levels.astype(np.int64) - center)
    assert naive_decode(encoded[lossless.CODE_KEY].numpy(), len(levels)) == list(expected)


@pytest.mark.parametrize("case", CASES)
def test_static_bound_is_the_buffer_capacity_and_holds(case):
    bits, levels = CASES[case]
    encoded, length, _ = coded_case(case)
    code = encoded[lossless.CODE_KEY]
    capacity = 32 * math.ceil(math.ceil(len(levels) / lossless.CHUNK) * lossless.CHUNK * (2 * bits + 1) / 32)
    assert code.dtype == tf.int32 and code.shape.num_elements() * 32 == capacity
    assert lossless.capacity_bits(len(levels), bits) == capacity
    assert length <= capacity


def test_decodes_the_cnn_dense_kernel_exactly():
    """The FedAvg CNN's 3136 x 512 kernel: 1.6M values, inside a tf.function as TFF runs it."""
    levels = np.clip(np.round(np.random.default_rng(1).laplace(128, 4, 3136 * 512)), 0, 255).astype(np.float32)
    _, length, decoded = code_and_decode(levels, 8)
    np.testing.assert_array_equal(decoded, levels)
    assert length == formula_length(levels)


def exact_levels(rng: np.random.Generator, size: int) -> np.ndarray:
    """Peaked levels 0..255 that quantize without rounding, with 0 and 255 present (so min 0, max 255)."""
    k = np.arange(256, dtype=np.float32)
    exact = k[(k - 0) / np.float32(255) * np.float32(255) == k]  # the quantizer's arithmetic, float32
    levels = exact[np.abs(exact[None, :] - np.round(rng.normal(128, 6, size))[:, None]).argmin(1)]
    levels[:2] = 0, 255
    return levels


def test_encoded_mean_sums_the_clients_measured_lengths():
    rng = np.random.default_rng(2)
    values = [
        {"big": exact_levels(rng, 12_000).reshape(120, 100), "bias": rng.normal(size=7).astype(np.float32)}
        for _ in range(3)
    ]
    process = encoders.encoded_mean("uniform-eg:8", threshold=100).create(VALUE_TYPE, tff.TensorType(np.float32))
    output = process.next(process.initialize(), values, [1.0, 1.0, 1.0])
    per_client = [expected_length(v["big"].ravel()) for v in values]
    assert int(output.measurements["measured_code_bits"]) == sum(per_client)
    assert int(output.measurements["code_capacity_bits"]) == lossless.capacity_bits(12_000, 8)  # "bias" is not coded
    np.testing.assert_allclose(output.result["big"], sum(v["big"] for v in values) / 3, rtol=1e-6)  # levels: exact
    # Static count per client: the uncoded parts as identity sends them, the buffer at capacity, min and max,
    # the center, the chunk starts, and the length (one int64 per client and coded tensor, counted statically).
    cost = sizing.communication_cost(process.next)
    identity = encoders.encoded_mean("identity").create(VALUE_TYPE, tff.TensorType(np.float32))
    uncoded = sizing.communication_cost(identity.next).aggregate_bits - 12_000 * 32
    chunk_starts = 32 * math.ceil(12_000 / lossless.CHUNK)
    assert cost.aggregate_bits == uncoded + lossless.capacity_bits(12_000, 8) + 64 + 32 + chunk_starts + 64


def test_encoded_broadcast_reports_the_servers_length():
    rng = np.random.default_rng(3)
    value = {"big": exact_levels(rng, 12_000).reshape(120, 100), "bias": rng.normal(size=7).astype(np.float32)}
    capacity = encoders.code_capacity_bits(VALUE_TYPE, "uniform-eg:8", 100)
    encoder_fn = encoders.broadcast_encoder_fn("uniform-eg:8", 100)
    process = encoders.build_encoded_broadcast(VALUE_TYPE, encoder_fn, capacity)

    @tff.federated_computation(tff.FederatedType(VALUE_TYPE, tff.SERVER), tff.FederatedType(np.int32, tff.CLIENTS))
    def broadcast(value, client_marker):
        output = process.next(process.initialize(), value)
        return output.result, output.measurements

    received, measurements = broadcast(value, [0, 0])
    for client in received:
        np.testing.assert_array_equal(client["big"], value["big"])
    assert int(measurements["measured_code_bits"]) == expected_length(value["big"].ravel())
    assert int(measurements["code_capacity_bits"]) == capacity == lossless.capacity_bits(12_000, 8)


def test_unused_code_bits_and_tracker_totals():
    metrics = {
        "distributor": {"measured_code_bits": 300, "code_capacity_bits": 1000},
        "aggregator": {"measured_code_bits": 2500, "code_capacity_bits": 1000},
    }
    assert sizing.unused_code_bits(metrics, clients=4) == (4 * (1000 - 300), 4 * 1000 - 2500)
    assert sizing.unused_code_bits({"aggregator": {}}, 4) is None and sizing.unused_code_bits(None, 4) is None
    tracker = sizing.SizeTracker(sizing.CommunicationCost(5000, 6000, {}))
    tracker.record_round(4, metrics)
    tracker.record_round(4, metrics)
    assert tracker.broadcast_bits == [20_000, 40_000] and tracker.aggregate_bits == [24_000, 48_000]
    assert tracker.measured_broadcast_bits == [20_000 - 2800, 40_000 - 5600]
    assert tracker.measured_aggregate_bits == [24_000 - 1500, 48_000 - 3000]
    plain = sizing.SizeTracker(sizing.CommunicationCost(5000, 6000, {}))
    plain.record_round(4, {"aggregator": ()})
    assert plain.measured_broadcast_bits == [] and plain.measured_aggregate_bits == []


def test_spec_and_cost_report():
    assert str(encoders.parse_encoder("uniform-eg:8")) == "uniform-eg:8"
    with pytest.raises(ValueError, match="bit width '17'"):
        encoders.parse_encoder("uniform-eg:17")
    report = cli.cost_report("dense", CompressionSpec.parse("identity", "uniform-eg:8", 100), 10)
    assert report["static_upper_bound"] == ["aggregate"]
    assert "aggregate: a static upper bound" in cli._table(report)
    report = cli.cost_report("dense", CompressionSpec.parse("uniform:8", "tff-compression", 100), 10)
    assert report["static_upper_bound"] == [] and report["aggregate"] == "tff-compression"


def test_run_rounds_records_static_and_measured_bits(emnist, tmp_path, capsys):
    train, _ = emnist
    process = algorithms.build_fedavg(
        "dense", client_lr=0.1, broadcast="uniform-eg:4", aggregate="uniform-eg:4", threshold=100
    )
    config = experiments.RoundsConfig(2, clients_per_round=3, flat=True)
    _, history = experiments.train(process, train, config, [experiments.Progress(), experiments.TensorBoard(tmp_path)])
    cost = sizing.communication_cost(process.next)
    assert history.column("cumulative_broadcast_bits") == [cost.broadcast_bits * 3 * r for r in (1, 2)]
    for direction in ("broadcast", "aggregate"):
        static, measured = (
            history.column(f"cumulative_{direction}_bits"),
            history.column(f"measured_cumulative_{direction}_bits"),
        )
        assert 0 < measured[0] < static[0] and measured[0] < measured[1] < static[1]
    assert all("(measured " in line for line in capsys.readouterr().out.splitlines())
    tags = set()
    for event_file in tmp_path.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(event_file)):
            tags |= {v.tag for v in event.summary.value}
    assert {"measured_cumulative_broadcasted_bits", "measured_cumulative_aggregated_bits"} <= tags
