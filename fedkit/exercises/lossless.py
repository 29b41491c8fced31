"""Checkers for the exercises of notebook 12 (lossless coding: Elias-gamma codes after quantization)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from fedkit.compression import lossless


def check_gamma_length(length: Callable[[int], int]) -> None:
    """Exercise 1: `length(n)` is the number of bits of n's Elias-gamma code, for n = 1 .. 5000."""
    for n in [*range(1, 70), 127, 128, 255, 256, 1000, 1023, 1024, 4999]:
        got, want = length(n), 2 * (n.bit_length() - 1) + 1
        if got != want:
            raise AssertionError(
                f"length({n}) = {got}, expected {want}: a code is floor(log2 n) zeros, then n in "
                "binary (floor(log2 n) + 1 bits), so 2 * floor(log2 n) + 1 bits."
            )
    print("Right: 2 * floor(log2 n) + 1 bits, from 1 bit for n = 1 to 25 bits for n = 4999.")


def histogram_bits_reference(histogram: dict[int, int], center: int) -> int:
    """Bits of the Elias-gamma codes of levels with these counts, coded as zigzag distances to `center`."""
    levels = np.array(list(histogram), np.int64)
    counts = np.array(list(histogram.values()), np.int64)
    return int((lossless.gamma_lengths(lossless.zigzag(levels - center)) * counts).sum())


def check_histogram_bits(bits: Callable[[dict[int, int], int], int]) -> None:
    """Exercise 2: `bits(histogram, center)`: total code bits of levels {level: count} coded around `center`."""
    cases = [({128: 1}, 128), ({127: 3, 128: 5, 129: 2}, 128), ({0: 4, 3: 1}, 1), ({7: 10, 200: 1, 64: 2}, 64)]
    for histogram, center in cases:
        got, want = bits(dict(histogram), center), histogram_bits_reference(histogram, center)
        if got != want:
            raise AssertionError(
                f"bits({histogram}, center={center}) = {got}, expected {want}: map each level to "
                "n = zigzag(level - center) (0, -1, 1, -2 -> 1, 2, 3, 4), then add count x "
                "(2 * floor(log2 n) + 1)."
            )
    print("Right: zigzag distances to the center, Elias-gamma lengths, weighted by the counts.")


def check_capacity(capacity: Callable[[int, int], int]) -> None:
    """Exercise 3: `capacity(elements, bits)` is the static bound of the code buffer, as `uniform-eg:B` sizes it."""
    for elements, bits in [(1, 1), (512, 8), (513, 8), (7840, 8), (7840, 2), (51_200, 4), (1000, 16)]:
        got, want = capacity(elements, bits), lossless.capacity_bits(elements, bits)
        if got != want:
            chunks = math.ceil(elements / lossless.CHUNK)
            raise AssertionError(
                f"capacity({elements}, {bits}) = {got}, expected {want}: pad to whole chunks "
                f"({chunks} x {lossless.CHUNK} values), count the longest code (2 x {bits} + 1 "
                "bits) for each, and round up to whole 32-bit words."
            )
    print("Right: whole chunks of 512 values, 2B + 1 bits each, rounded up to 32-bit words.")
