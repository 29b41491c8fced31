"""fedkit.exercises.lossless: notebook 12's checkers pass the worked solutions and fail wrong answers."""

import math

import numpy as np
import pytest

from fedkit.exercises import lossless as ex


def gamma_length(n: int) -> int:
    return 2 * math.floor(math.log2(n)) + 1


def histogram_bits(histogram: dict[int, int], center: int) -> int:
    total = 0
    for level, count in histogram.items():
        d = level - center
        n = 2 * d + 1 if d >= 0 else -2 * d
        total += count * gamma_length(n)
    return total


def capacity(elements: int, bits: int) -> int:
    chunks = math.ceil(elements / 512)
    return 32 * math.ceil(chunks * 512 * (2 * bits + 1) / 32)


def test_right_answers_pass(capsys):
    ex.check_gamma_length(gamma_length)
    ex.check_histogram_bits(histogram_bits)
    ex.check_capacity(capacity)
    assert capsys.readouterr().out.count("Right") == 3


def test_wrong_length_fails_with_a_hint():
    with pytest.raises(AssertionError, match="2 \\* floor"):
        ex.check_gamma_length(lambda n: n.bit_length())


def test_wrong_histogram_bits_fail():
    with pytest.raises(AssertionError, match="zigzag"):
        ex.check_histogram_bits(lambda h, c: sum(h.values()) * 8)
    # forgetting the center: code the levels themselves (plus one)
    with pytest.raises(AssertionError, match="center"):
        ex.check_histogram_bits(lambda h, c: sum(k * gamma_length(v + 1) for v, k in h.items()))


def test_wrong_capacity_fails():
    with pytest.raises(AssertionError, match="whole chunks"):
        ex.check_capacity(lambda e, b: e * (2 * b + 1))


def test_reference_matches_numpy_count():
    levels = np.array([127, 128, 128, 129, 130])
    hist = {int(v): int(c) for v, c in zip(*np.unique(levels, return_counts=True), strict=True)}
    assert ex.histogram_bits_reference(hist, 128) == 3 + 1 + 1 + 3 + 5
