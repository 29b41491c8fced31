"""Checkers for the exercises of lesson 14 (distributed mean estimation, Suresh et al. 2017)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fedkit.compression import dme


def _vectors() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=16), rng.uniform(-1, 3, size=50), dme.worst_case(32), np.array([0.5, 0.5, 2.0])]


def check_binary_error(error: Callable[[np.ndarray], float]) -> None:
    """Exercise 1: `error(x)`, the expected squared error of one stochastic binary quantization of x."""
    for x in _vectors():
        got, want = float(error(x.copy())), dme.exact_mse(x[None], 1)
        if not np.isclose(got, want, rtol=1e-9, atol=1e-12):
            raise AssertionError(
                f"for a vector of {x.size} coordinates you gave {got:.6g}, the expectation is "
                f"{want:.6g}: x(j) becomes max with probability (x(j) - min) / (max - min), "
                "else min; its variance is (max - x(j)) (x(j) - min); add them up."
            )
    print("Right: your error equals the exact one (fedkit.dme.exact_mse) on all four vectors.")


def check_bits_per_dimension(answer: float) -> None:
    """Exercise 2: bits per dimension that `rotated` at 2 bits sends for d = 1000, as the kit counts it (min, max
    and the rotation's seed included)."""
    if isinstance(answer, bool) or not isinstance(answer, int | float | np.integer | np.floating):
        raise TypeError(f"answer={answer!r}: give a number of bits per dimension (a float), e.g. 1.5.")
    want = dme.sent_bits("rotated", 2, 1000) / 1000
    if np.isclose(answer, dme.encoded_bits("rotated", 2, 1000) / 1000, rtol=1e-6):
        raise AssertionError(
            "that leaves out the rotation's seed: two int64 numbers travel with the encoded "
            "vector, and the kit's sizing counts them."
        )
    if np.isclose(answer, dme.sent_bits("k-level", 2, 1000) / 1000, rtol=1e-6) or np.isclose(
        answer, (dme.sent_bits("k-level", 2, 1000) + 128) / 1000, rtol=1e-6
    ):
        raise AssertionError(
            "that is what k-level sends for 1000 values: the Hadamard stage first pads 1000 to a power of two."
        )
    if not np.isclose(answer, want, rtol=1e-6):
        raise AssertionError(
            f"{answer} is not it: pad d to the next power of two, pack 2 bits per value 28 "
            "bits to an int32 (ceil), add min and max (float32) and the seed (two int64), "
            "divide by the true d."
        )
    print(
        f"Right: {want:.3f} bits per dimension ({dme.sent_bits('rotated', 2, 1000)} bits for 1000 values, "
        "128 of them the seed)."
    )


def check_worst_case_ratio(ratio: Callable[[int, int], float]) -> None:
    """Exercise 3: `ratio(d, bits)`, how many times rotation lowers the error on `worst_case(d)` with k = 2**bits."""
    for d, bits in ((16, 1), (256, 2), (1024, 3), (4096, 4)):
        want = dme.worst_case_mse("k-level", bits, d, 1) / dme.worst_case_mse("rotated", bits, d, 1)
        got = float(ratio(d, bits))
        if not np.isclose(got, want, rtol=1e-9):
            raise AssertionError(
                f"ratio({d}, {bits}) = {got:.6g}, the exact ratio is {want:.6g}: count the zeros "
                "before and after rotating, and what each costs with k levels between min and "
                "max; the step (k-1) appears on both sides."
            )
    print("Right: the same (d - 2) / 2 for every k.")
