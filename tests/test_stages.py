"""fedkit.compression.stages: the worked top-k stage, and checkers that pass good stages and fail broken ones."""

import collections

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import encoders, stages


def by_name(checks):
    return {c.name: c for c in checks}


def test_top_k_keeps_the_largest_entries():
    x = tf.constant([0.1, -5.0, 0.2, 3.0, -0.3, 0.0, 1.0, -2.0, 0.05, 0.4])
    simple = te.encoders.as_simple_encoder(stages.top_k_encoder(30), tf.TensorSpec([10], tf.float32))
    encoded, _ = simple.encode(x)
    decoded = simple.decode(encoded).numpy()
    np.testing.assert_array_equal(decoded, [0, -5.0, 0, 3.0, 0, 0, 0, -2.0, 0, 0])
    assert sorted(encoded[k].shape[0] for k in encoded if k.endswith(("values", "indices"))) == [3, 3]


def test_top_k_passes_the_checks():
    checks = by_name(stages.check_encoder(lambda: stages.top_k_encoder(10)))
    assert all(c.passed for c in checks.values()), checks
    assert "5.00x less" in checks["federated"].detail  # 10% of values + their int32 indices


def test_percent_is_checked():
    with pytest.raises(ValueError, match="percent=0"):
        stages.TopKEncodingStage(0)
    stages.register_top_k()
    assert str(encoders.parse_encoder("topk:25")) == "topk:25"
    with pytest.raises(ValueError, match="from 1 to 100"):
        encoders.parse_encoder("topk:101")


def test_dynamic_shapes_fail_with_advice():
    def split():
        return (
            te.core.EncoderComposer(te.stages.research.SplitBySmallValueEncodingStage(0.5))
            .add_parent(te.stages.FlattenEncodingStage(), te.stages.FlattenEncodingStage.ENCODED_VALUES_KEY)
            .make()
        )

    checks = by_name(stages.check_encoder(split))
    assert not checks["static shapes"].passed and "fixed k" in checks["static shapes"].detail
    assert "federated" not in checks


def test_wrong_decode_shape_and_no_compression_fail():
    # Broken on purpose: decode forgets the input's shape.
    flat_decode = stage_encoder(lambda x: {"v": tf.reshape(x, [-1])}, lambda e, shape: e["v"], needs_shape=False)
    checks = by_name(stages.check_encoder(flat_decode))
    assert not checks["round trip"].passed and "decode_needs_input_shape" in checks["round trip"].detail
    identity = by_name(stages.check_encoder(te.encoders.identity))
    assert identity["round trip"].passed and not identity["federated"].passed
    assert "not smaller" in identity["federated"].detail


def test_stage_that_raises_is_reported():
    def broken():
        raise RuntimeError("forgot to implement encode")

    (check,) = stages.check_encoder(broken)
    assert not check.passed and "forgot to implement encode" in check.detail


def stage_encoder(encode, decode, needs_shape=True):
    """An encoder of one stage whose encode and decode are the given functions."""

    @te.core.tf_style_encoding_stage
    class Stage(te.core.EncodingStageInterface):
        name = "under_test"
        compressible_tensors_keys = []
        commutes_with_sum = False
        decode_needs_input_shape = needs_shape

        def get_params(self):
            return collections.OrderedDict(), collections.OrderedDict()

        def encode(self, x, encode_params):
            return encode(x)

        def decode(self, encoded_tensors, decode_params, num_summands=None, shape=None):
            return decode(encoded_tensors, shape)

    return lambda: te.core.EncoderComposer(Stage()).make()


def test_decoders_that_ignore_the_data_fail():
    zeros = stage_encoder(lambda x: {"m": tf.reduce_mean(x)}, lambda e, shape: tf.zeros(shape))
    mean_only = stage_encoder(lambda x: {"m": tf.reduce_mean(x)}, lambda e, shape: tf.fill(shape, e["m"]))
    for build in (zeros, mean_only):
        checks = by_name(stages.check_encoder(build))
        assert not checks["round trip"].passed and "only the mean" in checks["round trip"].detail
        assert not checks["federated"].passed
    # Even when the caller allows any error, a decoder that ignores the data is no compression method.
    assert not by_name(stages.check_encoder(mean_only, max_relative_error=1.5))["round trip"].passed


def test_encoded_bits_counts_the_encoded_tensors():
    assert stages.encoded_bits(lambda: stages.top_k_encoder(10)) == 320 * 32 * 2  # values and int32 indices
    assert stages.encoded_bits(te.encoders.identity, (7, 3)) == 21 * 32
