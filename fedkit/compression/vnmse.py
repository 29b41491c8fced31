"""Every kit encoder on the DME papers' harness (EDEN, QUIC-FL): vNMSE against bits per coordinate, beside the
Gaussian rate-distortion limit.

n clients each hold a vector of dimension d = 2^k drawn from Normal(0, 1) or LogNormal(0, 1); each sends it
encoded; the server decodes and averages. vNMSE is E||decoded - x||^2 / ||x||^2 for one vector; NMSE of the
mean is E||mean(decoded) - mean(x)||^2 / (sum ||x_i||^2 / n), which for independent unbiased encoders is
vNMSE / n. Bits per coordinate are what the encoder sends (codes, scales, seeds, padding) divided by d.

No b-bit code of a Gaussian source has a mean squared error below D(b) = 2^(-2b) of its variance (Shannon's
rate-distortion function); an unbiased estimate built from it has vNMSE at least D / (1 - D) = 1 / (4^b - 1).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import encoders, sizing

# Suresh et al.'s rotated stochastic binary is hadamard:1 (and k-level rotated hadamard:B).
SPECS = (
    "uniform:1",
    "uniform:2",
    "uniform:4",
    "uniform:8",
    "hadamard:1",
    "hadamard:2",
    "hadamard:4",
    "hadamard:8",
    "kashin:2",
    "kashin:4",
    "kashin:8",
    "drive",
    "eden:1",
    "eden:2",
    "eden:4",
)
DISTRIBUTIONS = ("normal", "lognormal")


def rate_distortion(bits: float) -> float:
    """The Gaussian rate-distortion limit D(b) = 2^(-2b): the least normalized MSE of any b-bit code."""
    return 2.0 ** (-2 * bits)


def unbiased_limit(bits: float) -> float:
    """D / (1 - D) at D = 2^(-2b): the least vNMSE of an unbiased estimate from b bits per coordinate."""
    return 1 / (4.0**bits - 1)


def client_vectors(distribution: str, clients: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """`clients` vectors of dimension `dim`, i.i.d. Normal(0, 1) or LogNormal(0, 1) coordinates."""
    if distribution == "normal":
        return rng.standard_normal((clients, dim))
    if distribution == "lognormal":
        return rng.lognormal(0.0, 1.0, (clients, dim))
    raise ValueError(f"distribution={distribution!r}: choose one of {', '.join(DISTRIBUTIONS)}.")


def _codec(spec: str, dim: int) -> tuple[tf.types.experimental.GenericFunction, int]:
    """A compiled encode-decode of one vector (fresh encoder randomness at every call), and the bits it sends."""
    simple = te.encoders.as_simple_encoder(encoders.make_encoder(spec), tf.TensorSpec([dim], tf.float32))
    state = simple.initial_state()

    @tf.function(input_signature=[tf.TensorSpec([dim], tf.float32)])
    def run(x):
        encoded, _ = simple.encode(x, state)
        return simple.decode(encoded), tf.nest.flatten(encoded)

    sent = sum(sizing.tensor_bits(t.shape, t.dtype) for t in run.get_concrete_function().outputs[1:])
    return run, sent


def measure(spec: str, distribution: str, dim: int, clients: int, trials: int, seed: int) -> dict:
    """vNMSE and NMSE of the mean of `spec` over `trials` rounds of `clients` vectors, with the limits."""
    run, sent = _codec(spec, dim)
    rng, per_vector, of_mean = np.random.default_rng(seed), [], []
    for _ in range(trials):
        x = client_vectors(distribution, clients, dim, rng).astype(np.float32)
        decoded = np.stack([run(tf.constant(v))[0].numpy() for v in x])
        per_vector += list(np.sum((decoded - x) ** 2, axis=1) / np.sum(x**2, axis=1))
        of_mean.append(np.sum((decoded.mean(0) - x.mean(0)) ** 2) / (np.sum(x**2) / clients))
    bits = sent / dim
    vnmse = float(np.mean(per_vector))
    return {
        "spec": spec,
        "distribution": distribution,
        "dim": dim,
        "clients": clients,
        "trials": trials,
        "bits_per_coordinate": bits,
        "vnmse": vnmse,
        "nmse_of_mean": float(np.mean(of_mean)),
        "rate_distortion": rate_distortion(bits),
        "unbiased_limit": unbiased_limit(bits),
        "times_the_limit": vnmse / unbiased_limit(bits),
    }


def sweep(dim: int = 2**14, clients: int = 10, trials: int = 5, seed: int = 0, verbose: bool = True) -> list[dict]:
    """`measure` for every spec in `SPECS` and both distributions."""
    rows = []
    for spec in SPECS:
        for distribution in DISTRIBUTIONS:
            rows.append(measure(spec, distribution, dim, clients, trials, seed))
            if verbose:
                print(format_row(rows[-1]), flush=True)
    return rows


def format_row(row: dict) -> str:
    """One line: the spec, its bits per coordinate, its vNMSE and how far above the unbiased limit it is."""
    return (
        f"{row['spec']:>11} {row['distribution']:>9}: {row['bits_per_coordinate']:6.3f} bits/coord, "
        f"vNMSE {row['vnmse']:.4g}, {row['times_the_limit']:.2f}x the unbiased limit "
        f"{row['unbiased_limit']:.4g} at those bits"
    )


def plot(rows: list[dict], distribution: str = "normal"):
    """vNMSE against bits per coordinate for each encoder family, with the rate-distortion limits."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    chosen = [r for r in rows if r["distribution"] == distribution]
    for family in dict.fromkeys(r["spec"].split(":")[0] for r in chosen):
        points = sorted((r["bits_per_coordinate"], r["vnmse"]) for r in chosen if r["spec"].split(":")[0] == family)
        ax.plot(*zip(*points, strict=True), "o-", label=family)
    bits = np.linspace(0.8, max(r["bits_per_coordinate"] for r in chosen), 200)
    ax.plot(bits, [unbiased_limit(b) for b in bits], "k--", label="unbiased limit 1/(4^b - 1)")
    ax.plot(bits, [rate_distortion(b) for b in bits], "k:", label="rate-distortion 2^(-2b)")
    ax.set(
        xlabel="bits sent per coordinate",
        ylabel="vNMSE",
        yscale="log",
        title=f"{distribution.capitalize()} vectors, d = {chosen[0]['dim']:,}",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
