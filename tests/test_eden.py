"""DRIVE and EDEN (`fedkit.compression.eden`): tensor_encoding's stage contract, unbiasedness, the papers' vNMSE,
specs, bits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te
from tensorflow_model_optimization.python.core.internal.tensor_encoding.testing import test_utils
from tensorflow_model_optimization.python.core.internal.tensor_encoding.utils import py_utils

from fedkit import algorithms, experiments
from fedkit.compression import eden, encoders, specs

# Published: DRIVE's unbiased 1-bit vNMSE, pi/2 - 1 (Vargaftik et al. 2021); the Lloyd-Max distortions of N(0, 1)
# at 1, 2 and 4 bits and EDEN's unbiased vNMSE D/(1 - D) (Vargaftik et al. 2022).
PUBLISHED_DISTORTION = {1: 0.3634, 2: 0.1175, 4: 0.009497}
PUBLISHED_VNMSE = {"drive": math.pi / 2 - 1, "eden:1": 0.5708, "eden:2": 0.1331, "eden:4": 0.00959}


class StageTest(test_utils.BaseEncodingStageTest):
    """tensor_encoding's own checks of a stage (graph-independence, one-to-many, many-to-one).

    tfmot 0.7.5's `evaluate_tf_py_list` tells fetched arrays from its `()` marker with `==`, which numpy 1.25
    refuses for arrays (its one-to-many test then fails even for tfmot's own Hadamard stage): the same merge,
    told apart by type.
    """

    __test__ = False

    def evaluate_tf_py_list(self, fetches, session=None):
        py_fetches, tf_fetches = [], []
        for fetch in fetches:
            if isinstance(fetch, dict):
                from_py, from_tf = py_utils.split_dict_py_tf(fetch)
                py_fetches.append(from_py)
                tf_fetches.append(from_tf)
            else:
                py_fetches.append(None if tf.is_tensor(fetch) else fetch)
                tf_fetches.append(fetch if tf.is_tensor(fetch) else ())
        values = self.maybe_evaluate(tf_fetches, session)
        return [
            py_utils.merge_dicts(v, p) if isinstance(v, dict) else p if isinstance(v, tuple) and not v else v
            for v, p in zip(values, py_fetches, strict=True)
        ]


class DriveStageTest(StageTest):
    __test__ = True
    is_lossless = False

    def default_encoding_stage(self):
        return eden.DriveEncodingStage()

    def default_input(self):
        return tf.random.normal([64])

    def common_asserts_for_test_data(self, data):
        codes = data.encoded_x[eden.DriveEncodingStage.CODES_KEY]
        assert set(np.unique(codes)) <= {0.0, 1.0}
        np.testing.assert_allclose(np.dot(data.x, data.decoded_x), np.dot(data.x, data.x), rtol=1e-4)


class EdenStageTest(StageTest):
    __test__ = True
    is_lossless = False

    def default_encoding_stage(self):
        return eden.EdenEncodingStage(2)

    def default_input(self):
        return tf.random.normal([64])

    def common_asserts_for_test_data(self, data):
        codes = data.encoded_x[eden.EdenEncodingStage.CODES_KEY]
        assert set(np.unique(codes)) <= {0.0, 1.0, 2.0, 3.0}
        np.testing.assert_allclose(np.dot(data.x, data.decoded_x), np.dot(data.x, data.x), rtol=1e-4)


def round_trip(spec: str, dim: int):
    """A compiled encode-decode of a `dim`-vector with `spec`'s encoder (a fresh rotation at every call)."""
    simple = te.encoders.as_simple_encoder(encoders.make_encoder(spec), tf.TensorSpec([dim], tf.float32))
    state = simple.initial_state()

    @tf.function
    def run(x):
        encoded, _ = simple.encode(x, state)
        return simple.decode(encoded)

    return run


@pytest.mark.parametrize("bits", sorted(PUBLISHED_DISTORTION))
def test_lloyd_max_levels_have_the_published_distortion(bits):
    assert eden.lloyd_max_distortion(bits) == pytest.approx(PUBLISHED_DISTORTION[bits], rel=2e-3)
    assert eden.unbiased_vnmse(eden.lloyd_max_distortion(bits)) == pytest.approx(
        PUBLISHED_VNMSE[f"eden:{bits}"], rel=5e-3
    )


@pytest.mark.parametrize("spec", sorted(PUBLISHED_VNMSE))
@pytest.mark.parametrize("distribution", ["normal", "lognormal"])
def test_vnmse_matches_the_papers_within_two_percent(spec, distribution):
    dim, trials, rng = 2**12, 40, np.random.default_rng(1)
    run = round_trip(spec, dim)
    errors = []
    for _ in range(trials):
        x = rng.standard_normal(dim) if distribution == "normal" else rng.lognormal(0.0, 1.0, dim)
        decoded = run(tf.constant(x, tf.float32)).numpy()
        errors.append(np.sum((decoded - x) ** 2) / np.sum(x**2))
    assert np.mean(errors) == pytest.approx(PUBLISHED_VNMSE[spec], rel=0.02)


@pytest.mark.parametrize("spec", ["drive", "eden:2"])
def test_unbiased_over_the_rotation(spec):
    dim, trials = 48, 1500  # 48 pads to 64: the padding must not bias the estimate either
    x = np.random.default_rng(2).lognormal(0.0, 1.0, dim).astype(np.float32)
    run = round_trip(spec, dim)
    mean = np.mean([run(tf.constant(x)).numpy() for _ in range(trials)], axis=0)
    vnmse = PUBLISHED_VNMSE["drive" if spec == "drive" else "eden:2"] * 64 / 48  # padding spreads the error
    # The squared error of a mean of unbiased estimates is vNMSE/trials of ||x||^2 on average; a bias would stay.
    assert np.sum((mean - x) ** 2) / np.sum(x**2) < 4 * vnmse / trials


def test_a_biased_decoder_fails_the_unbiasedness_check():
    dim, trials = 48, 1500
    x = np.random.default_rng(2).lognormal(0.0, 1.0, dim).astype(np.float32)
    run = round_trip("drive", dim)
    mean = np.mean([0.9 * run(tf.constant(x)).numpy() for _ in range(trials)], axis=0)
    assert np.sum((mean - x) ** 2) / np.sum(x**2) > 4 * PUBLISHED_VNMSE["drive"] * 64 / 48 / trials


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("eden:0", "write eden:N with N from 1 to 8"),
        ("eden:x", "'x' in 'eden:x'"),
        ("eden:9", "from 1 to 8"),
        ("drive:3", "drive takes no bit width; write 'drive'"),
        ("eden:²", "'²' in 'eden:²'"),
    ],
)
def test_bad_specs_name_the_value_and_the_forms(spec, message):
    with pytest.raises(ValueError, match="^.*" + message.replace("(", r"\(").replace(")", r"\)")) as error:
        specs.parse_encoder(spec)
    assert spec in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(("spec", "bits"), [("drive", 1), ("eden:2", 2), ("eden:4", 4)])
def test_bits_count_the_packed_codes_the_scale_and_the_seed(spec, bits):
    shape = (64, 50)  # 3,200 values, rotated at 4,096 (the padding is sent too)
    packed = math.ceil(4096 * bits / 28) * 32  # bit-packing fills 28 bits of each int32
    simple = te.encoders.as_simple_encoder(encoders.make_encoder(spec), tf.TensorSpec(shape, tf.float32))
    encoded, _ = simple.encode(tf.random.normal(shape))  # what the kit's encoded broadcast sends, params included
    sent = sum(t.shape.num_elements() * t.dtype.size * 8 for t in tf.nest.flatten(encoded))
    assert sent == packed + 32 + 2 * 64  # codes, the scale, the rotation's two int64 seed words


def test_fedavg_trains_with_drive_down_and_eden_up(emnist):
    train, _ = emnist
    process = algorithms.build_fedavg("dense", client_lr=0.1, broadcast="drive", aggregate="eden:2", threshold=0)
    _, history = experiments.run_rounds(process, train, rounds=1, clients_per_round=2, flat=True, verbose=False)
    dense_values = 784 * 10 + 10
    assert history.rows[-1]["cumulative_aggregate_bits"] < 2 * 32 * dense_values / 8
