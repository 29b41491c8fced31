"""Checkers for the exercises of notebook 10 (writing your own compression stage)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import stages

SIGN_TARGET = 25.0  # x less than float32: 1 bit per sign, packed 28 to an int32, is ~27x


def check_sign_encoder(build: Callable[[], te.core.Encoder], shape: tuple[int, ...] = (64, 50)) -> None:
    """Exercise 1: every contract check passes and the encoder sends at least `SIGN_TARGET`x less than float32."""
    checks = stages.check_encoder(build, shape)
    failed = [c for c in checks if not c.passed]
    if failed:
        raise AssertionError("the encoder fails the contract: " + "; ".join(str(c) for c in failed))
    plain = int(np.prod(shape)) * 32
    ratio = plain / stages.encoded_bits(build, shape)
    if ratio < SIGN_TARGET:
        raise AssertionError(
            f"{ratio:.2f}x less than float32, the target is {SIGN_TARGET:.0f}x: shift the signs "
            "to {0, 1} as float32 and add te.stages.BitpackingEncodingStage(1) as a child on "
            "the signs' key."
        )
    print(f"Right: all checks pass, {ratio:.2f}x less than float32.")


def _keep_largest(k: int) -> Callable[[np.ndarray], np.ndarray]:
    def compress(v: np.ndarray) -> np.ndarray:
        kept = np.zeros_like(v)
        top = np.argsort(-np.abs(v))[:k]
        kept[top] = v[top]
        return kept

    return compress


def check_error_feedback(
    step: Callable[[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]], tuple[np.ndarray, np.ndarray]],
) -> None:
    """Exercise 2: `step(update, residual, compress) -> (sent, new_residual)`, one client's error feedback."""
    rng = np.random.default_rng(0)
    compress = _keep_largest(2)
    updates = rng.normal(size=(6, 20)).astype(np.float32)
    residual, total_sent = np.zeros(20, np.float32), np.zeros(20, np.float32)
    for round_num, update in enumerate(updates, 1):
        sent, new_residual = step(update.copy(), residual.copy(), compress)
        sent, new_residual = np.asarray(sent), np.asarray(new_residual)
        if not np.allclose(sent, compress(update + residual), atol=1e-6):
            raise AssertionError(
                f"round {round_num}: the client must send compress(update + residual): the "
                "residual (what earlier rounds failed to send) is added back first."
            )
        if not np.allclose(new_residual, update + residual - sent, atol=1e-6):
            raise AssertionError(
                f"round {round_num}: the new residual is what this round failed to send, "
                "(update + residual) - sent, kept on the client for the next round."
            )
        residual, total_sent = new_residual, total_sent + sent
    print(
        f"Right: over {len(updates)} rounds the client sent {np.count_nonzero(total_sent)} of 20 coordinates "
        "at least once, and sent + residual equals the sum of its updates."
    )
