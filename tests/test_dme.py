"""fedkit.compression.dme: Suresh et al.'s mean-estimation protocols, their exact error, bounds and bits.

Monte Carlo checks compare a measurement with its expectation within Z standard errors of the
estimate (measured from the trials), so a wrong formula or a biased quantizer fails them.
"""

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te
from tensorflow_model_optimization.python.core.internal.tensor_encoding.utils import tf_utils

from fedkit.compression import dme

Z = 4.0  # standard errors: a correct estimator lands outside with probability ~6e-5


def test_lemma_by_hand():
    # One client, x = (0, 0.25, 1): min 0, max 1.
    x = np.array([[0.0, 0.25, 1.0]])
    assert dme.exact_mse(x, bits=1) == pytest.approx(0.75 * 0.25)  # the 0.25 rounds to 0 or 1
    # Four levels 0, 1/3, 2/3, 1: 0.25 lies between 0 and 1/3.
    assert dme.exact_mse(x, bits=2) == pytest.approx((1 / 3 - 0.25) * 0.25)
    # Two clients: (1/n^2) times the sum over clients.
    assert dme.exact_mse(np.vstack([x, x]), bits=1) == pytest.approx(2 * 0.75 * 0.25 / 4)
    assert dme.exact_mse(np.array([[2.0, 2.0, 2.0]]), bits=1) == 0.0  # min == max: nothing to round


@pytest.mark.parametrize("d", [4, 16, 64, 1024])
@pytest.mark.parametrize("bits", [1, 2, 3])
def test_worst_case_closed_form_equals_lemma(d, bits):
    n = 3
    x = np.tile(dme.worst_case(d), (n, 1))
    method = "binary" if bits == 1 else "k-level"
    assert dme.exact_mse(x, bits) == pytest.approx(dme.worst_case_mse(method, bits, d, n), rel=1e-12)
    assert dme.worst_case_mse(method, bits, d, n) == pytest.approx((d - 2) / (2 * n * (2**bits - 1) ** 2))
    # The paper's bound d / (2n (k-1)^2) * mean ||X||^2 (here 1) is nearly tight on it.
    assert dme.exact_mse(x, bits) <= dme.bound(method, bits, x)


@pytest.mark.parametrize("d", [4, 16, 256])
@pytest.mark.parametrize("bits", [1, 2, 4])
@pytest.mark.parametrize("at", [1, 2])
def test_rotated_worst_case_closed_form_for_any_signs(d, bits, at):
    x = dme.worst_case(d, at)[None]
    for seed in range(5):
        signs = np.random.default_rng(seed).choice([-1.0, 1.0], d)
        exact = dme.exact_mse(dme.rotate(x, signs), bits)
        assert exact == pytest.approx(dme.worst_case_mse("rotated", bits, d, 1), rel=1e-9)
        assert exact == pytest.approx(1 / (2**bits - 1) ** 2, rel=1e-9)


def test_rotation_of_the_papers_own_vector_is_exact():
    # At coordinates 0 and 1, H's constant column 0 makes H D x two-valued: every level is hit exactly.
    signs = np.random.default_rng(0).choice([-1.0, 1.0], 64)
    assert dme.exact_mse(dme.rotate(dme.worst_case(64, at=0)[None], signs), 1) == pytest.approx(0.0, abs=1e-15)


def test_hadamard_is_orthogonal_with_plus_minus_entries():
    h = dme.hadamard(16)
    np.testing.assert_allclose(h @ h.T, np.eye(16), atol=1e-12)
    np.testing.assert_allclose(np.abs(h), 0.25)
    assert (h[:, 0] > 0).all()
    with pytest.raises(ValueError, match="d=12"):
        dme.hadamard(12)


def test_rotate_is_what_the_hadamard_stage_computes():
    d = 32
    x = np.random.default_rng(1).normal(size=d).astype(np.float32)
    seed = tf.constant([7, 11], tf.int64)
    stage = te.stages.HadamardEncodingStage()
    encoded = stage.encode(tf.constant(x), {stage.SEED_PARAMS_KEY: seed})[stage.ENCODED_VALUES_KEY].numpy()[0]
    np.testing.assert_allclose(encoded, dme.rotate(x, tf_utils.random_signs(d, seed).numpy()), atol=1e-5)


@pytest.mark.parametrize("method,bits", [("binary", 1), ("k-level", 2), ("rotated", 1), ("rotated", 3)])
def test_quantizers_are_unbiased(method, bits):
    x = dme.gaussian_clients(1, 64, seed=2)
    trials = 400
    decoded = dme.roundtrip(method, bits, np.tile(x, (trials, 1)))
    assert decoded.shape == (trials, 64)
    assert not np.allclose(decoded[0], decoded[1])  # each row is quantized afresh
    if method == "rotated":  # a fresh rotation per row: the spread is measured
        stderr = decoded.std(axis=0, ddof=1) / math.sqrt(trials)
    else:  # known exactly, even where rounding up is rare and 400 trials may never see it
        stderr = np.sqrt(dme.rounding_variance(x[0], bits) / trials)
    # float32 decoding moves even the exactly sent min and max by ~1e-7
    z = np.abs(decoded.mean(axis=0) - x[0]) / (stderr + 1e-6)
    assert z.max() < 5.0, z.max()  # 64 coordinates: a correct quantizer exceeds 5 with probability ~4e-5


@pytest.mark.parametrize("method,bits", [("binary", 1), ("k-level", 2), ("k-level", 4)])
def test_measured_error_equals_lemma(method, bits):
    x = dme.gaussian_clients(5, 64, seed=3)
    estimate = dme.mse_of_mean(method, bits, x, trials=40)
    assert abs(estimate.mse - dme.exact_mse(x, bits)) <= Z * estimate.stderr


@pytest.mark.parametrize("method,bits", [("binary", 1), ("rotated", 1), ("rotated", 2)])
def test_worst_case_measured_equals_closed_form(method, bits):
    d, n = 256, 4
    estimate = dme.mse_of_mean(method, bits, np.tile(dme.worst_case(d), (n, 1)), trials=30)
    assert abs(estimate.mse - dme.worst_case_mse(method, bits, d, n)) <= Z * estimate.stderr


def test_rotation_wins_on_the_worst_case_by_the_formulas_factor():
    d, n = 256, 4
    x = np.tile(dme.worst_case(d), (n, 1))
    binary, rotated = dme.mse_of_mean("binary", 1, x, 30), dme.mse_of_mean("rotated", 1, x, 30, seed=1)
    ratio = binary.mse / rotated.mse
    # Delta method: the ratio's relative standard error is the two relative errors in quadrature.
    stderr = ratio * math.hypot(binary.stderr / binary.mse, rotated.stderr / rotated.mse)
    expected = dme.worst_case_mse("binary", 1, d, n) / dme.worst_case_mse("rotated", 1, d, n)
    assert expected == (d - 2) / 2
    assert abs(ratio - expected) <= Z * stderr


@pytest.mark.parametrize("method,bits", [("binary", 1), ("k-level", 2), ("rotated", 1), ("rotated", 2)])
def test_bounds_hold_on_data(method, bits):
    x = dme.gaussian_clients(8, 256, seed=4)
    estimate = dme.mse_of_mean(method, bits, x, trials=20)
    assert estimate.mse - Z * estimate.stderr <= dme.bound(method, bits, x)
    if method != "rotated":
        assert dme.exact_mse(x, bits) <= dme.bound(method, bits, x)
    skewed = x * np.linspace(0.1, 3.0, 256)  # uneven coordinates, where rotation helps
    for b in (1, 2, 4):
        assert dme.exact_mse(skewed, b) <= dme.bound("k-level", b, skewed)


def test_bound_formulas():
    x = np.ones((4, 64)) / 8.0  # ||X_i||^2 = 1
    assert dme.bound("binary", 1, x) == pytest.approx(64 / (2 * 4))
    assert dme.bound("k-level", 2, x) == pytest.approx(64 / (2 * 4 * 9))
    assert dme.bound("rotated", 2, x) == pytest.approx((2 * math.log(64) + 2) / (4 * 9))


@pytest.mark.parametrize(
    "method,bits", [("binary", 1), ("k-level", 2), ("k-level", 3), ("k-level", 8), ("rotated", 1), ("rotated", 4)]
)
@pytest.mark.parametrize("d", [64, 100, 1024])
def test_bits_counted_from_the_encoded_tensors(method, bits, d):
    sent = 2 ** math.ceil(math.log2(d)) if method == "rotated" else d  # the Hadamard stage pads
    expected = 32 * math.ceil(sent * bits / 28) + 64  # 28 bits per int32, then min and max as float32
    assert dme.encoded_bits(method, bits, d) == expected == dme.te_bits(method, bits, d)


def test_paper_bits():
    assert dme.paper_bits(1024, 2) == 1024 + 64
    assert dme.paper_bits(1024, 16) == 4 * 1024 + 64
    assert dme.paper_bits(1024, 3) == 2 * 1024 + 64  # ceil(log2 3) = 2


def test_same_seed_same_estimate():
    x = dme.gaussian_clients(3, 64)
    assert dme.mse_of_mean("rotated", 2, x, 5, seed=7) == dme.mse_of_mean("rotated", 2, x, 5, seed=7)
    assert dme.mse_of_mean("rotated", 2, x, 5, seed=7) != dme.mse_of_mean("rotated", 2, x, 5, seed=8)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: dme.spec("binary", 2), "bits=2: binary quantization has 2 levels"),
        (lambda: dme.spec("sign", 1), "method='sign': choose one of binary, k-level, rotated"),
        (lambda: dme.spec("k-level", 17), "bits=17"),
        (lambda: dme.mse_of_mean("binary", 1, np.zeros(8)), r"shape \(8,\): pass one row per client"),
        (lambda: dme.mse_of_mean("binary", 1, np.ones((2, 8)), trials=1), "trials=1"),
        (lambda: dme.worst_case(2), "d=2"),
    ],
)
def test_bad_input_is_one_clear_line(call, message):
    with pytest.raises(ValueError, match=message):
        call()
