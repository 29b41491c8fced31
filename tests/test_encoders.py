"""fedkit.compression.encoders: spec parsing, the encoded broadcast and the encoded mean inside TFF."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models
from fedkit.compression import encoders, specs

VALUE_TYPE = tff.StructWithPythonType(
    [("big", tff.TensorType(np.float32, [120, 100])), ("bias", tff.TensorType(np.float32, [7]))], dict
)


@pytest.mark.parametrize(
    "spec, parsed", [("identity", "identity"), ("uniform:8", "uniform:8"), (" kashin:2", "kashin:2")]
)
def test_parse(spec, parsed):
    assert str(encoders.parse_encoder(spec)) == parsed


@pytest.mark.parametrize(
    "spec, message",
    [
        ("zip:8", "unknown encoder 'zip'"),
        ("uniform", "bit width ''"),
        ("uniform:0", "bit width '0'"),
        ("hadamard:x", "bit width 'x'"),
        ("uniform:17", "from 1 to 16"),
        ("identity:8", "takes no bit width"),
        ("uniform:\u00b2", "bit width '\u00b2'"),
        ("kashin:\u0668", "bit width"),
    ],
)
def test_parse_errors_name_the_bad_part(spec, message):
    with pytest.raises(ValueError, match=message):
        encoders.parse_encoder(spec)


def test_grammar_is_the_tensorflow_free_one():
    assert encoders.parse_encoder is specs.parse_encoder and encoders.EncoderSpec is specs.EncoderSpec


def test_negative_threshold():
    with pytest.raises(ValueError, match="threshold=-1"):
        encoders.broadcast_encoder_fn("uniform:8", threshold=-1)


def broadcast_to_clients(process, clients: int):
    """A computation that runs one step of `process` and returns what each client decoded."""

    @tff.federated_computation(process.next.type_signature.parameter[1], tff.FederatedType(np.int32, tff.CLIENTS))
    def run(value, client_marker):  # client_marker only sets the number of clients
        return process.next(process.initialize(), value).result

    return run


def random_value(seed=0):
    rng = np.random.default_rng(seed)
    return {"big": rng.normal(size=(120, 100)).astype(np.float32), "bias": rng.normal(size=7).astype(np.float32)}


@pytest.mark.parametrize("spec", ["uniform:8", "uniform:4", "hadamard:8", "kashin:8"])
def test_encoded_broadcast_decodes_within_quantization_error(spec):
    process = encoders.build_encoded_broadcast(VALUE_TYPE, encoders.broadcast_encoder_fn(spec, threshold=100))
    value = random_value()
    decoded = broadcast_to_clients(process, 3)(value, [0, 0, 0])
    assert len(decoded) == 3
    bits = encoders.parse_encoder(spec).param
    # Stochastic rounding moves a value by at most one quantization step; rotations (hadamard,
    # kashin) spread the step over a padded vector whose range is within the L2 norm.
    span = np.ptp(value["big"]) if spec.startswith("uniform") else 2 * np.linalg.norm(value["big"])
    step = span / (2**bits - 1)
    for client in decoded:
        np.testing.assert_array_equal(client["bias"], value["bias"])  # small: identity, exact
        error = np.abs(client["big"] - value["big"]).max()
        assert 0 < error <= step * (1 if spec.startswith("uniform") else 2**bits)
        if spec.startswith("uniform"):
            assert np.abs(client["big"] - value["big"]).max() <= step + 1e-6


def test_identity_broadcast_is_exact():
    process = encoders.build_encoded_broadcast(VALUE_TYPE, encoders.broadcast_encoder_fn("identity"))
    value = random_value(1)
    for client in broadcast_to_clients(process, 2)(value, [0, 0]):
        np.testing.assert_array_equal(client["big"], value["big"])
        np.testing.assert_array_equal(client["bias"], value["bias"])


def test_encoded_mean_within_quantization_error():
    process = encoders.encoded_mean("uniform:8", threshold=100).create(VALUE_TYPE, tff.TensorType(np.float32))
    values = [random_value(s) for s in range(3)]
    weights = [1.0, 2.0, 3.0]
    result = process.next(process.initialize(), values, weights).result
    expected = {k: sum(w * v[k] for w, v in zip(weights, values, strict=False)) / sum(weights) for k in ("big", "bias")}
    np.testing.assert_allclose(result["bias"], expected["bias"], rtol=1e-5)
    step = max(np.ptp(w * v["big"]) for w, v in zip(weights, values, strict=False)) / 255
    assert np.abs(result["big"] - expected["big"]).max() <= step * 3 / sum(weights) * 3


def test_register_encoder():
    encoders.register_encoder("coarse", lambda bits: encoders.make_encoder(f"uniform:{bits}"))
    assert str(encoders.parse_encoder("coarse:3")) == "coarse:3"
    spec = tf.TensorSpec([200], tf.float32)
    encoded, _ = encoders.broadcast_encoder_fn("coarse:3", 10)(spec).encode(tf.ones([200]))
    assert encoded
    with pytest.raises(ValueError, match="parameter '0' in 'coarse:0'"):
        encoders.parse_encoder("coarse:0")
    with pytest.raises(ValueError, match="built in"):
        encoders.register_encoder("uniform", lambda bits: None)


def test_applies_to_names_the_encoded_variables():
    dense, cnn = models.model_fn("dense"), models.model_fn("cnn")
    assert encoders.applies_to(dense, "kashin:8", 10_000) == []  # 7,840 and 10 elements: under the threshold
    (kernel,) = encoders.applies_to(dense, "kashin:8", 100)
    assert "kernel" in kernel
    assert len(encoders.applies_to(cnn, "uniform:8", 10_000)) == 2  # the 5x5x32x64 conv and the 3136x512 dense
    assert encoders.applies_to(cnn, "identity", 0) == []
    assert encoders.applies_to(VALUE_TYPE, "uniform:8", 100) == ["big"]


def test_encoder_that_applies_to_nothing_warns():
    with pytest.warns(encoders.UnusedEncoderWarning, match=r"broadcast encoder 'kashin:8' .*7,840 .*threshold=10,000"):
        encoders.encoded_broadcast(models.model_fn("dense"), "kashin:8", 10_000)
    unused = r"aggregate encoder 'uniform:8' .*12,000 .*threshold=20,000"
    with pytest.warns(encoders.UnusedEncoderWarning, match=unused):
        encoders.encoded_mean("uniform:8", 20_000).create(VALUE_TYPE, tff.TensorType(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", encoders.UnusedEncoderWarning)
        encoders.encoded_mean("uniform:8", 100).create(VALUE_TYPE, tff.TensorType(np.float32))
        encoders.encoded_broadcast(models.model_fn("dense"), "identity", 10_000)
