"""Checkers for the exercises of lesson 13 (Federated Dropout, Caldas et al. 2018)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from fedkit.algorithms import dropout


def parameters(keep: float) -> int:
    """Float32 parameters of the CNN's sub-model at keep fraction `keep` (kernels and biases of all four layers)."""
    c1, c2, units = dropout.kept_widths(keep)
    side = dropout.KERNEL**2
    return (side * c1 + c1) + (side * c1 * c2 + c2) + (dropout.POOLED * c2 * units + units) + (units * 10 + 10)


def _whole(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{what}={value!r}: give a whole number of parameters (an int), e.g. 123456.")
    return int(value)


def check_sub_model_size(answer: int) -> None:
    """Exercise 1: the number of float32 parameters the sub-model at keep 0.5 has."""
    answer, want, full = _whole(answer, "answer"), parameters(0.5), parameters(1.0)
    if answer == want:
        print(f"Right: {want:,} parameters, {full / want:.2f}x fewer than the full model's {full:,}.")
        return
    if answer in (round(full * 0.5), round(full * 0.25)):
        raise AssertionError(
            f"{answer:,} scales the whole model by one factor: a kernel between two thinned layers "
            "keeps keep x keep of its weights, but the first conv's input (1 channel), the "
            "10 outputs and the biases are thinned on one side only; add the layers up one by "
            "one."
        )
    raise AssertionError(
        f"{answer:,} is not it: keep ceil(0.5 x 32) filters, ceil(0.5 x 64) filters and "
        "ceil(0.5 x 512) units, then add kernel and bias sizes per layer (the dense kernel has "
        "7 x 7 x filters rows)."
    )


def check_keep_filters(keep_filters: Callable) -> None:
    """Exercise 2: `keep_filters(kernel, bias, next_kernel, kept)` for the first conv layer and the second's kernel."""
    rng = np.random.default_rng(0)
    shapes = [(5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,), (3136, 512), (512,), (512, 10), (10,)]
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    for keep in (0.75, 0.5, 0.25):
        kept = np.sort(rng.permutation(32)[: dropout.kept_widths(keep)[0]])
        want = [t.numpy() for t in dropout.select(weights, (kept, np.arange(64), np.arange(512)))[:3]]
        got = keep_filters(weights[0].copy(), weights[1].copy(), weights[2].copy(), kept)
        if not isinstance(got, tuple | list) or len(got) != 3:
            raise TypeError(
                f"keep_filters returned {type(got).__name__}: return three arrays (kernel, bias, next_kernel)."
            )
        for name, g, w in zip(("kernel", "bias", "next_kernel"), got, want, strict=True):
            g = np.asarray(g)
            if g.shape != w.shape or not np.array_equal(g, w):
                raise AssertionError(
                    f"{name}: got shape {g.shape}, want {w.shape} with {len(kept)} of 32 filters "
                    "kept: a conv kernel is (height, width, input channels, filters); a "
                    "filter is the last axis of its own kernel, the third axis of the next "
                    "layer's kernel."
                )
    print("Right: the same tensors as fedkit.dropout.select for every keep fraction tried.")


def check_forward_multiply_adds(forward_macs: Callable[[float], int]) -> None:
    """Exercise 3: `forward_macs(keep)`, multiply-adds of one example's forward pass through the sub-model."""
    full = dropout.forward_multiply_adds(dropout.kept_widths(1.0))
    for keep in (1.0, 0.75, 0.5, 0.3):
        want = dropout.forward_multiply_adds(dropout.kept_widths(keep))
        got = forward_macs(keep)
        if got == want:
            continue
        if keep != 1.0 and np.isclose(got, full * keep, rtol=0.01):
            raise AssertionError(
                f"forward_macs({keep}) = {got:,}, about keep x the full count: conv 2 and the "
                "dense layer connect two thinned layers, so they shrink as keep x keep."
            )
        raise AssertionError(
            f"forward_macs({keep}) = {got!r}, want {want:,}: per layer, outputs x kernel x input "
            "channels (conv 1: 28 x 28 x 25 x 1 x filters; conv 2: 14 x 14 x 25 x filters x "
            "filters; dense: 7 x 7 x filters x units; output: units x 10), with ceil(keep x "
            "width)."
        )
    print(
        f"Right: keep 0.75 needs {full / dropout.forward_multiply_adds(dropout.kept_widths(0.75)):.2f}x fewer "
        "multiply-adds per example than the full CNN."
    )
