"""fedkit.compression.vnmse: the DME harness's limits, vectors and measurements."""

import math

import numpy as np
import pytest

from fedkit.compression import vnmse


def test_limits_are_shannons_gaussian_rate_distortion():
    assert vnmse.rate_distortion(1) == 0.25 and vnmse.rate_distortion(4) == 2**-8
    for bits in (0.5, 1, 2, 4):  # D/(1 - D) at D = 2^-2b
        d = vnmse.rate_distortion(bits)
        assert vnmse.unbiased_limit(bits) == pytest.approx(d / (1 - d))


def test_client_vectors_and_a_bad_distribution():
    rng = np.random.default_rng(0)
    assert vnmse.client_vectors("lognormal", 3, 8, rng).min() > 0
    assert vnmse.client_vectors("normal", 3, 8, rng).shape == (3, 8)
    with pytest.raises(ValueError, match="distribution='cauchy': choose one of normal, lognormal"):
        vnmse.client_vectors("cauchy", 3, 8, rng)


def test_drive_measures_near_its_limit_and_the_mean_divides_by_n():
    row = vnmse.measure("drive", "normal", dim=1024, clients=8, trials=6, seed=0)
    assert row["vnmse"] == pytest.approx(math.pi / 2 - 1, rel=0.05)
    # Independent unbiased clients: the error of the mean is the per-vector error over n.
    assert row["nmse_of_mean"] == pytest.approx(row["vnmse"] / 8, rel=0.25)
    # 1 bit per coordinate bit-packed 28 to 32, one float scale and the rotation's seed, over 1,024 coordinates.
    assert row["bits_per_coordinate"] == pytest.approx((math.ceil(1024 / 28) * 32 + 32 + 128) / 1024)
    assert row["times_the_limit"] == pytest.approx(row["vnmse"] / vnmse.unbiased_limit(row["bits_per_coordinate"]))


def test_unrotated_one_bit_quantization_is_far_from_the_limit_on_skewed_vectors():
    rows = {s: vnmse.measure(s, "lognormal", dim=1024, clients=4, trials=3, seed=1) for s in ("uniform:1", "drive")}
    assert rows["uniform:1"]["times_the_limit"] > 5 * rows["drive"]["times_the_limit"]
