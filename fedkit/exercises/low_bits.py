"""Checkers for the exercises of notebook 11 (low bits: why 1-2 bit quantization fails, and two fixes)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.linalg import hadamard


def check_max_variance(max_variance: Callable[[int, float], float]) -> None:
    """Exercise 1: `max_variance(bits, value_range)`: the largest variance stochastic rounding adds to one value."""
    for bits, value_range in [(1, 1.0), (2, 1.0), (8, 1.0), (1, 0.2), (4, 3.0)]:
        got, want = float(max_variance(bits, value_range)), (value_range / (2**bits - 1)) ** 2 / 4
        if not np.isclose(got, want, rtol=1e-6):
            raise AssertionError(
                f"max_variance({bits}, {value_range}) = {got:.6g}, expected {want:.6g}: levels are "
                f"value_range / (2**bits - 1) apart, and a value at fraction p of a gap has "
                "variance p (1 - p) gap**2, largest at p = 1/2."
            )
    print("Right: (range / (2**bits - 1))**2 / 4; each bit fewer roughly quadruples it.")


def rotate(x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Randomized Hadamard rotation, as in the lesson: H (signs * x) / sqrt(d)."""
    return hadamard(len(x)) @ (signs * x) / np.sqrt(len(x))


def check_unrotate(unrotate: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> None:
    """Exercise 2: `unrotate(y, signs)` undoes `rotate(x, signs)` for any x."""
    rng = np.random.default_rng(1)
    for d in (4, 64, 256):
        x, signs = rng.normal(size=d), rng.choice([-1.0, 1.0], size=d)
        back = np.asarray(unrotate(rotate(x, signs), signs))
        if back.shape != x.shape or not np.allclose(back, x, atol=1e-8):
            raise AssertionError(
                f"unrotate(rotate(x, signs), signs) differs from x (d={d}): H / sqrt(d) is its own "
                "inverse (H H = d I), and signs * signs = 1, so undo the steps in reverse order: "
                "multiply by H / sqrt(d), then by the signs."
            )
    print("Right: the rotation is undone exactly, so the server can rotate back what it receives.")


def simulate_reference(vectors: np.ndarray, compress: Callable, rounds: int, feedback: bool) -> np.ndarray:
    """Fixed clients send compress(vector [+ residual]) every round; the running average of the server's means."""
    residuals, total = np.zeros_like(vectors), np.zeros(vectors.shape[1])
    for _ in range(rounds):
        corrected = vectors + residuals if feedback else vectors
        sent = np.stack([compress(v) for v in corrected])
        if feedback:
            residuals = corrected - sent
        total += sent.mean(axis=0)
    return total / rounds


def _nearest_one_bit(v: np.ndarray) -> np.ndarray:
    lo, hi = v.min(), v.max()
    return np.where(v - lo < hi - v, lo, hi)


def check_simulate(simulate: Callable[[np.ndarray, Callable, int, bool], np.ndarray]) -> None:
    """Exercise 3: `simulate(vectors, compress, rounds, feedback)` matches `simulate_reference`, with and without."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_t(3, size=(5, 64)) * 0.01 + 0.002
    for feedback in (False, True):
        for rounds in (1, 3, 20):
            got = np.asarray(simulate(vectors.copy(), _nearest_one_bit, rounds, feedback))
            want = simulate_reference(vectors, _nearest_one_bit, rounds, feedback)
            if got.shape != want.shape or not np.allclose(got, want, atol=1e-9):
                hint = (
                    "with feedback each client sends compress(vector + residual) and keeps residual = "
                    "(vector + residual) - sent"
                    if feedback
                    else "without feedback each client sends compress(vector), the same every round"
                )
                raise AssertionError(
                    f"simulate(..., rounds={rounds}, feedback={feedback}) differs from the expected "
                    f"running average of the server's means: {hint}; return the average over the "
                    "rounds of the mean over clients."
                )
    true = vectors.mean(axis=0)
    errors = [
        float(np.linalg.norm(simulate_reference(vectors, _nearest_one_bit, 200, f) - true) / np.linalg.norm(true))
        for f in (False, True)
    ]
    print(
        f"Right. With deterministic 1-bit rounding, after 200 rounds the relative error is {errors[0]:.2f} without "
        f"feedback and {errors[1]:.2f} with it."
    )
