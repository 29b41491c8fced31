"""Distributed mean estimation with limited communication (Suresh et al., ICML 2017, arXiv:1611.00429).

n clients each hold a vector X_i in R^d; each sends a quantized Y_i and the server estimates the mean
as the mean of the Y_i. The error of a protocol is E = E||mean(Y) - mean(X)||^2. Three protocols, each
built from `tensor_encoding` stages (through `fedkit.compression.encoders.make_encoder`):

- `binary` (the paper's pi_sb): each coordinate rounded stochastically, and without bias, to the
  vector's min or max: `uniform:1` (flatten, 1-bit stochastic uniform quantization, bit-packing).
- `k-level` (pi_sk): k = 2**bits levels evenly spaced from the vector's min to its max: `uniform:B`.
- `rotated` (pi_srk): the vector is first rotated by a random Hadamard matrix (H D / sqrt(d), D random
  signs from a seed: public randomness in the paper, sent along with the encoded vector by the kit,
  +128 bits, see `sent_bits`), then quantized to k levels:
  `hadamard:B`. The server rotates back; a rotation keeps squared errors.

Every client quantizes independently and without bias, so E = (1/n^2) sum_i E||Y_i - X_i||^2, and for
k-level quantization that is exact (the paper's lemma for pi_sb, level by level): `exact_mse`. The
paper's bounds are in `bound`.
`mse_of_mean` measures E by Monte Carlo with the encoders themselves.

Bits: `encoded_bits` counts what the encoder sends, from its encoded tensors' static shapes and dtypes:
`tensor_encoding` packs B-bit values 28 bits to an int32 (so 32/28 bits per bit of payload:
`fedkit.compression.sizing.words_bits`) and sends min and max as two float32. The paper counts d*ceil(log2 k)
bits plus min and max (`paper_bits`, with 32-bit floats). The Hadamard stage pads d to a power of two; use such d
for a fair comparison.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math

import numpy as np
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import encoders, sizing, stages
from fedkit.compression.specs import EncoderSpec

METHODS = ("binary", "k-level", "rotated")
PAPER_NAMES = {"binary": "pi_sb", "k-level": "pi_sk", "rotated": "pi_srk"}
_BATCH_ELEMENTS = 2**23  # floats quantized per traced call (32 MiB): bounds memory
FLOAT_BITS = 32  # the paper's r: bits of one float (min and max travel as float32)


def _check(method: str, bits: int) -> None:
    if method not in METHODS:
        raise ValueError(f"method={method!r}: choose one of {', '.join(METHODS)}.")
    if method == "binary" and bits != 1:
        raise ValueError(f"bits={bits}: binary quantization has 2 levels, so bits=1 (use 'k-level' for more).")
    if not 1 <= bits <= 16:
        raise ValueError(f"bits={bits}: tensor_encoding quantizes to 1 to 16 bits.")


def levels(bits: int) -> int:
    """k, the number of quantization levels of a B-bit quantizer: 2**B."""
    return 2**bits


def spec(method: str, bits: int = 1) -> EncoderSpec:
    """The fedkit encoder spec behind a protocol: `uniform:B` or `hadamard:B`."""
    _check(method, bits)
    return EncoderSpec("hadamard" if method == "rotated" else "uniform", bits)


def build_encoder(method: str, bits: int = 1) -> te.core.Encoder:
    """The `tensor_encoding` encoder of a protocol (stages: flatten, [Hadamard,] quantization, bit-packing)."""
    return encoders.make_encoder(spec(method, bits))


@functools.cache  # a trace per call otherwise; the count never changes
def encoded_bits(method: str, bits: int, d: int) -> int:
    """Bits one client sends for a d-vector, from the encoded tensors' static shapes and dtypes."""
    return stages.encoded_bits(lambda: build_encoder(method, bits), (d,))


@functools.cache
def sent_bits(method: str, bits: int, d: int) -> int:
    """Bits of everything the kit sends for a d-vector (`as_simple_encoder`'s encoded structure): the encoded
    tensors plus the decode parameters that travel with them, i.e. the rotation's seed for `rotated`."""
    simple = te.encoders.as_simple_encoder(build_encoder(method, bits), tf.TensorSpec((d,), tf.float32))

    @tf.function(input_signature=[tf.TensorSpec((d,), tf.float32)])
    def encode(x):
        return tf.nest.flatten(simple.encode(x)[0])

    return sum(sizing.tensor_bits(t.shape, t.dtype) for t in encode.get_concrete_function().outputs)


def te_bits(method: str, bits: int, d: int) -> int:
    """The same count in closed form: ceil(d' * B / 28) int32 words plus min and max (d' = padded d)."""
    _check(method, bits)
    sent = 2 ** math.ceil(math.log2(d)) if method == "rotated" else d
    return sizing.words_bits(sent * bits, sizing.PACKED_BITS_PER_WORD) + 2 * FLOAT_BITS


def paper_bits(d: int, k: int) -> int:
    """The paper's count for one client: d * ceil(log2 k) bits, plus min and max as floats."""
    return d * math.ceil(math.log2(k)) + 2 * FLOAT_BITS


def _roundtrip_fn(method: str, bits: int, d: int) -> tf.types.experimental.GenericFunction:
    """A traced function: each row of an (m, d) batch encoded and decoded on its own, as one client would."""
    encoder = build_encoder(method, bits)

    def one(x):
        encode_params, decode_params = encoder.get_params(encoder.initial_state())
        encoded, _, shapes = encoder.encode(x, encode_params)
        return encoder.decode(encoded, decode_params, shapes)

    @tf.function(input_signature=[tf.TensorSpec([None, d], tf.float32)])
    def roundtrip(batch):
        return tf.map_fn(one, batch, parallel_iterations=1)  # one at a time: random draws in a fixed order

    return roundtrip


def roundtrip(method: str, bits: int, x: np.ndarray, seed: int = 0) -> np.ndarray:
    """Each row of `x` (clients x d) quantized and dequantized independently, as the server receives it."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
        raise ValueError(f"x has shape {x.shape}: pass one row per client, shape (n, d).")
    tf.random.set_seed(seed)
    with _fresh_traces():
        return _roundtrip_fn(method, bits, x.shape[1])(x).numpy()


@dataclasses.dataclass(frozen=True)
class Estimate:
    """A Monte Carlo estimate of the mean-squared error of the mean, with its standard error."""

    mse: float
    stderr: float
    trials: int


class _QuietRetracing(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


@contextlib.contextmanager
def _fresh_traces():
    # Each estimate traces its own function so that its seed fixes its random draws; TF warns about that.
    quiet = _QuietRetracing()
    tf.get_logger().addFilter(quiet)
    try:
        yield
    finally:
        tf.get_logger().removeFilter(quiet)


def mse_of_mean(method: str, bits: int, x: np.ndarray, trials: int = 20, seed: int = 0) -> Estimate:
    """E||mean(Y) - mean(X)||^2 over `trials` independent quantizations of the clients' rows of `x`."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2:
        raise ValueError(f"x has shape {x.shape}: pass one row per client, shape (n, d).")
    if trials < 2:
        raise ValueError(f"trials={trials}: a standard error needs at least 2 trials.")
    _check(method, bits)
    tf.random.set_seed(seed)
    fn = _roundtrip_fn(method, bits, x.shape[1])
    n, d = x.shape
    per_call = max(1, _BATCH_ELEMENTS // (n * d))  # trials quantized in one call, all clients' rows at once
    means = []
    for start in range(0, trials, per_call):
        count = min(per_call, trials - start)
        with _fresh_traces():
            decoded = fn(np.tile(x, (count, 1))).numpy().astype(np.float64)
        means.append(decoded.reshape(count, n, d).mean(axis=1))
    errors = np.sum((np.concatenate(means) - x.astype(np.float64).mean(axis=0)) ** 2, axis=1)
    return Estimate(float(errors.mean()), float(errors.std(ddof=1) / math.sqrt(trials)), trials)


def rounding_variance(x: np.ndarray, bits: int) -> np.ndarray:
    """Per coordinate, the variance of unbiased stochastic rounding to k levels: (b_{r+1} - x)(x - b_r)."""
    x = np.asarray(x, np.float64)
    k = levels(bits)
    low, high = x.min(axis=-1, keepdims=True), x.max(axis=-1, keepdims=True)
    step = np.where(high > low, (high - low) / (k - 1), 1.0)
    below = low + np.clip(np.floor((x - low) / step), 0, k - 2) * step
    return (below + step - x) * (x - below)


def exact_mse(x: np.ndarray, bits: int) -> float:
    """Exact E of unrotated k levels (the paper's lemma): (1/n^2) sum_i sum_j (b_{r+1} - X_i(j)) (X_i(j) - b_r)."""
    x = np.asarray(x, np.float64)
    return float(np.sum(rounding_variance(x, bits)) / x.shape[0] ** 2)


def bound(method: str, bits: int, x: np.ndarray) -> float:
    """The paper's bound on E: d / (2n (k-1)^2) * mean ||X_i||^2; rotated, (2 ln d + 2) / (n (k-1)^2) * the same."""
    _check(method, bits)
    x = np.asarray(x, np.float64)
    n, d = x.shape
    k = levels(bits)
    norms = float(np.mean(np.sum(x**2, axis=1)))
    if method == "rotated":
        return (2 * math.log(d) + 2) / (n * (k - 1) ** 2) * norms
    return d / (2 * n * (k - 1) ** 2) * norms


def hadamard(d: int) -> np.ndarray:
    """The d x d Hadamard matrix in Sylvester's order, scaled to be orthogonal (H H^T = I); d a power of two."""
    if d < 1 or d & (d - 1):
        raise ValueError(f"d={d}: a Hadamard matrix here needs d a power of two (1, 2, 4, ...).")
    h = np.ones((1, 1))
    while h.shape[0] < d:
        h = np.block([[h, h], [h, -h]])
    return h / math.sqrt(d)


def rotate(x: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """The paper's rotation of each row of x: H D x, D = diag(signs) (what `HadamardEncodingStage` computes)."""
    x = np.asarray(x, np.float64)
    return (x * signs) @ hadamard(x.shape[-1]).T


def worst_case(d: int, at: int = 1) -> np.ndarray:
    """The paper's worst case for binary quantization, (e_at - e_(at+1)) / sqrt(2): unit norm, one +, one -, zeros."""
    if d < 4 or not 0 <= at < d - 1:
        raise ValueError(f"d={d}, at={at}: take d >= 4 and 0 <= at <= d - 2.")
    x = np.zeros(d)
    x[at], x[at + 1] = 1 / math.sqrt(2), -1 / math.sqrt(2)
    return x


def worst_case_mse(method: str, bits: int, d: int, n: int) -> float:
    """Exact E when n clients all hold `worst_case(d, at>=1)`, d a power of two.

    Unrotated: min and max are -+1/sqrt(2) and 0 sits midway between two levels, so each of the d - 2
    zeros costs (step/2)^2 = 1/(2 (k-1)^2): E = (d - 2) / (2 n (k-1)^2). Rotated: H D x takes the values
    0 (d/2 times) and -+sqrt(2/d) (the columns at and at+1 of H and their product are orthogonal, and
    neither is the constant column 0), so each zero costs (sqrt(2/d) / (k-1))^2: E = 1 / (n (k-1)^2),
    whatever the signs D. Rotation wins by (d - 2) / 2. (At at=0, H D x has two values only and the
    rotated error is 0.)
    """
    _check(method, bits)
    k = levels(bits)
    if method == "rotated":
        return 1 / (n * (k - 1) ** 2)
    return (d - 2) / (2 * n * (k - 1) ** 2)


def gaussian_clients(n: int, d: int, seed: int = 0) -> np.ndarray:
    """n client vectors with independent N(0, 1/d) coordinates, so ||X_i||^2 is about 1."""
    return np.random.default_rng(seed).normal(scale=1 / math.sqrt(d), size=(n, d)).astype(np.float32)


@dataclasses.dataclass(frozen=True)
class Row:
    """One protocol on one data set: bits sent per dimension, the measured error, the exact error and the bound."""

    method: str
    bits: int
    d: int
    n: int
    bits_per_dim: float
    paper_bits_per_dim: float
    mse: Estimate
    exact: float | None  # the lemma; None for the rotated protocol (its exact error depends on the rotation)
    bound: float


def measure(method: str, bits: int, x: np.ndarray, trials: int = 20, seed: int = 0) -> Row:
    """Measure one protocol on the clients' rows of `x`, beside its bits, its exact error and the paper's bound."""
    n, d = np.shape(x)
    return Row(
        method,
        bits,
        d,
        n,
        encoded_bits(method, bits, d) / d,
        paper_bits(d, levels(bits)) / d,
        mse_of_mean(method, bits, x, trials, seed),
        None if method == "rotated" else exact_mse(x, bits),
        bound(method, bits, x),
    )


PROTOCOLS = (("binary", 1), ("k-level", 2), ("k-level", 4), ("rotated", 1), ("rotated", 2), ("rotated", 4))


def sweep(
    ds: tuple[int, ...] = (64, 1024),
    ns: tuple[int, ...] = (10, 100),
    protocols: tuple[tuple[str, int], ...] = PROTOCOLS,
    trials: int = 20,
) -> list[Row]:
    """Every protocol on Gaussian clients (`gaussian_clients`, seed 0) for each d and n."""
    return [measure(m, b, gaussian_clients(n, d), trials) for d in ds for n in ns for m, b in protocols]


def _sci(value: float) -> str:
    return f"{value:.3g}"


def format_rows(rows: list[Row]) -> str:
    """A markdown table of `sweep`'s rows; z is (measured - exact) in standard errors of the measurement."""
    lines = [
        "| d | n | protocol | k | bits/dim sent | bits/dim (paper) | measured E | exact (lemma) | z | bound |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        exact, z = ("-", "-") if r.exact is None else (f"{r.exact:.4g}", f"{(r.mse.mse - r.exact) / r.mse.stderr:+.1f}")
        lines.append(
            f"| {r.d} | {r.n} | {r.method} ({PAPER_NAMES[r.method]}) | {levels(r.bits)} | "
            f"{r.bits_per_dim:.3f} | {r.paper_bits_per_dim:.3f} | {r.mse.mse:.4g} ± {r.mse.stderr:.2g} | "
            f"{exact} | {z} | {_sci(r.bound)} |"
        )
    return "\n".join(lines)


def worst_case_rows(ds: tuple[int, ...] = (16, 64, 256, 1024), n: int = 10, trials: int = 20) -> list[dict]:
    """Binary against rotated binary on `worst_case(d)` held by n clients: measured, exact, and their ratios."""
    rows = []
    for d in ds:
        x = np.tile(worst_case(d), (n, 1))
        binary, rotated = mse_of_mean("binary", 1, x, trials), mse_of_mean("rotated", 1, x, trials)
        rows.append(
            {
                "d": d,
                "binary": binary,
                "binary exact": worst_case_mse("binary", 1, d, n),
                "rotated": rotated,
                "rotated exact": worst_case_mse("rotated", 1, d, n),
                "measured ratio": binary.mse / rotated.mse,
                "exact ratio": (d - 2) / 2,
            }
        )
    return rows


def format_worst_case(rows: list[dict]) -> str:
    """A markdown table of `worst_case_rows`."""
    lines = [
        "| d | binary: measured | binary: exact | rotated: measured | rotated: exact | ratio measured | "
        "ratio (d-2)/2 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['d']} | {r['binary'].mse:.4g} ± {r['binary'].stderr:.2g} | {r['binary exact']:.4g}"
            f" | {r['rotated'].mse:.4g} ± {r['rotated'].stderr:.2g} | {r['rotated exact']:.4g} | "
            f"{r['measured ratio']:.1f} | {r['exact ratio']:.0f} |"
        )
    return "\n".join(lines)
