"""Checkers for the exercises of notebooks 08 (compression) and 09 (compression trade-offs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit import models
from fedkit.common import results
from fedkit.compression import encoders, sizing
from fedkit.experiments import sweep

DENSE_KERNEL = (3136, 512)
FULL_SWEEP = "sweep"  # the full sweep's results file, fedkit/results/sweep.json


def check_uniform_bits(bits: int, elements: int, answer: int) -> None:
    """08, exercise 1: the bits `uniform:<bits>` sends for a tensor of `elements` float32 values."""
    actual = sent_bits(lambda: te.encoders.uniform_quantization(bits=bits), elements)
    if answer == elements * bits or answer == elements * bits + 64:
        raise AssertionError(
            f"{answer:,} counts {bits} bits per value, as if packed densely: bitpacking fills only "
            "28 of the 32 bits of each int32, so round up to whole int32s of 28 bits."
        )
    if answer == actual - 64:
        raise AssertionError(
            f"{answer:,} is the packed values alone: the tensor's min and max travel too (two float32)."
        )
    if answer != actual:
        raise AssertionError(
            f"{answer:,} bits is not what uniform:{bits} sends for {elements:,} values: count "
            f"{bits}-bit values packed 28 bits per int32, and min and max."
        )
    print(
        f"Right: {actual:,} bits, {actual / elements:.2f} bits per value, {32 * elements / actual:.2f}x less "
        "than float32."
    )


def check_threshold(threshold: int) -> None:
    """08, exercise 2: a threshold under which only the 3136x512 dense kernel is quantized."""
    if threshold < 0:
        raise AssertionError(f"threshold={threshold}: a threshold is a number of elements, at least 0.")
    weights_type = tff.learning.models.weights_type_from_model(models.model_fn("cnn"))
    rows = encoders.encoding_table(weights_type, "uniform:8", threshold)
    encoded = [r["shape"] for r in rows if r["encoder"] != "identity"]
    if encoded != [DENSE_KERNEL]:
        raise AssertionError(
            f"threshold={threshold:,} quantizes {encoded or 'nothing'}: only tensors with more "
            "elements than the threshold are encoded; compare it with the table's "
            "'elements' column."
        )
    before, after = sum(r["bits"] for r in rows), sum(r["encoded bits"] for r in rows)
    print(
        f"Right: only the dense kernel is quantized; the model's weights shrink from "
        f"{sizing.format_size(before)} to {sizing.format_size(after)} ({before / after:.2f}x less)."
    )


def sent_bits(build, elements: int) -> int:
    """Bits of everything an encoder's encoded form holds for `elements` float32 values, as the kit counts
    them: every tensor of the encoded structure, the Hadamard rotation's seed included."""
    spec = tf.TensorSpec((elements,), tf.float32)
    encoded, _ = te.encoders.as_simple_encoder(build(), spec).encode(tf.zeros(spec.shape))
    return sum(int(v.shape.num_elements()) * v.dtype.size * 8 for v in encoded.values())


SEED_BITS = 2 * 64  # the Hadamard stage's random seed: two int64, sent with the encoded value


def check_hadamard_bits(elements: int, hadamard_bits: int, uniform_bits: int) -> None:
    """09, exercise 1: what `hadamard:8` and `uniform:8` send for one tensor of `elements` values."""
    uniform = sent_bits(lambda: te.encoders.uniform_quantization(bits=8), elements)
    hadamard = sent_bits(lambda: te.encoders.hadamard_quantization(bits=8), elements)
    padded = 1 << (elements - 1).bit_length()
    if uniform_bits != uniform:
        raise AssertionError(
            f"uniform_bits={uniform_bits:,}: 8-bit values packed 28 bits per int32, plus min "
            "and max, is not that; notebook 08's exercise 1 works the rule through."
        )
    if hadamard_bits in (uniform, uniform + SEED_BITS):
        raise AssertionError(
            "hadamard_bits is the uniform figure: the Hadamard rotation first pads the "
            f"flattened tensor with zeros to a power of two ({padded:,} here)."
        )
    if hadamard_bits == hadamard - SEED_BITS:
        raise AssertionError(
            f"hadamard_bits={hadamard_bits:,} leaves out the rotation's seed: two int64 "
            "(128 bits) travel with the encoded value so the receiver can undo the "
            "rotation."
        )
    if hadamard_bits != hadamard:
        raise AssertionError(
            f"hadamard_bits={hadamard_bits:,}: quantize {padded:,} padded values (the next "
            "power of two), pack them 28 bits per int32, add min and max and the "
            "128-bit seed."
        )
    print(
        f"Right: hadamard:8 sends {hadamard:,} bits and uniform:8 {uniform:,} for {elements:,} values; padding "
        f"to {padded:,} costs {hadamard / uniform:.2f}x."
    )


def _upload_bits(factory: tff.aggregators.WeightedAggregationFactory) -> int:
    """Bits each client uploads when `factory` averages the CNN's trainable weights."""
    value_type = tff.learning.models.weights_type_from_model(models.model_fn("cnn")).trainable
    return sizing.communication_cost(factory.create(value_type, tff.TensorType(np.float32)).next).aggregate_bits


def check_mean_encoder_fn(fn, bits: int = 4, threshold: int = 10_000) -> None:
    """08, exercise 3: an encoder function for the mean that quantizes to `bits` above `threshold` elements."""
    try:
        fn(tf.TensorSpec(DENSE_KERNEL, tf.float32))
    except NotImplementedError:
        raise AssertionError("the function still raises NotImplementedError: write its body.") from None
    try:
        yours = _upload_bits(
            tff.aggregators.MeanFactory(tff.aggregators.EncodedSumFactory(fn), tff.aggregators.EncodedSumFactory(fn))
        )
    except Exception as e:  # a learner's function can fail in many ways; say where
        raise AssertionError(
            f"building MeanFactory(EncodedSumFactory(fn), ...) failed ({type(e).__name__}: "
            f"{e}): return te.encoders.as_gather_encoder(encoder, spec) for every "
            "spec."
        ) from None
    expected = _upload_bits(encoders.encoded_mean(f"uniform:{bits}", threshold))
    if yours != expected:
        hints = [
            (tff.aggregators.MeanFactory(), "as much as float32: quantize the variables over the threshold"),
            (encoders.encoded_mean("uniform:8", threshold), "what 8 bits send: ask uniform_quantization(bits=4)"),
            (
                encoders.encoded_mean(f"uniform:{bits}", 0),
                f"quantizes the small variables too: compare num_elements() with {threshold:,}",
            ),
        ]
        for factory, hint in hints:
            if yours == _upload_bits(factory):
                raise AssertionError(f"your aggregator uploads {yours:,} bits per client, {hint}.")
        raise AssertionError(
            f"your aggregator uploads {yours:,} bits per client, not the {expected:,} of "
            f"uniform:{bits} above {threshold:,} elements: identity below, "
            f"uniform_quantization(bits={bits}) above."
        )
    print(f"Right: {yours:,} bits up per client, as encoders.encoded_mean('uniform:{bits}') sends.")


def pareto_names(rows: Sequence[dict]) -> list[str]:
    """The configurations that no other beats on both total bits (fewer) and test accuracy (higher)."""
    return [r["configuration"] for r, on_front in zip(rows, sweep.pareto_front(rows), strict=True) if on_front]


def shipped_sweep_rows(results_dir: str | Path | None = None) -> list[dict]:
    """The shipped full sweep's rows (`fedkit/results/sweep.json`): exact bits, mean test accuracy over seeds."""
    return results.read(FULL_SWEEP, results_dir)["data"]["rows"]


def check_pareto_front(answer: Sequence[str], rows: Sequence[dict]) -> None:
    """09, exercise 2: the names of the sweep's rows on the Pareto front (bits against accuracy)."""
    names = [r["configuration"] for r in rows]
    unknown = [a for a in answer if a not in names]
    if unknown:
        raise AssertionError(f"{unknown} are not configurations of these rows: use the rows' 'configuration'.")
    expected = pareto_names(rows)
    missing, extra = [n for n in expected if n not in answer], [a for a in answer if a not in expected]
    if extra:
        raise AssertionError(
            f"{extra} are dominated: another configuration sends no more bits, is at least as accurate, and is "
            "better in one of the two."
        )
    if missing:
        raise AssertionError(
            f"{missing} are on the front too: no other configuration sends no more bits at no lower accuracy "
            "and is better in one of the two."
        )
    print(f"Right: the front is {expected}.")


def differs_from_identity(rows: Sequence[dict]) -> list[str]:
    """The configurations whose 95% interval of test accuracy (over seeds) does not overlap identity's."""
    summaries = {r["configuration"]: results.summary(r["test_accuracy_per_seed"]) for r in rows}
    base = summaries["identity"]
    return [name for name, s in summaries.items() if name != "identity" and results.differs(base, s)]


def _synthetic_rows() -> list[dict]:
    """Three made-up configurations with a known answer: 'made-up far' differs from identity, 'made-up near' not."""
    per_seed = {"identity": [0.90, 0.91, 0.89], "made-up far": [0.70, 0.71, 0.69], "made-up near": [0.895, 0.905, 0.90]}
    return [{"configuration": name, "test_accuracy_per_seed": values} for name, values in per_seed.items()]


def _check_differs_on(fn, rows: Sequence[dict]) -> list[str]:
    """Check `fn(rows)` against `differs_from_identity(rows)`; the expected names."""
    try:
        answer = list(fn([dict(r) for r in rows]))
    except NotImplementedError:
        raise AssertionError("the function still raises NotImplementedError: write its body.") from None
    expected = differs_from_identity(rows)
    if "identity" in answer:
        raise AssertionError("'identity' is in your answer: compare every other configuration with it.")
    wider = [r["configuration"] for r in rows if r["configuration"] in answer and r["configuration"] not in expected]
    if wider:
        raise AssertionError(
            f"{wider} overlap identity's interval: two means differ only when |mean_a - mean_b| > "
            "ci_a + ci_b, with ci = t(0.975, n-1) * s / sqrt(n) and s the sample (n-1) "
            "standard deviation."
        )
    missing = [n for n in expected if n not in answer]
    if missing:
        raise AssertionError(f"{missing} separate from identity too: their intervals do not overlap identity's.")
    return expected


def check_differs_from_identity(fn, rows: Sequence[dict]) -> None:
    """09, exercise 3: `fn(rows)` names the configurations whose interval separates from identity's, on `rows`
    and on made-up rows whose answer is not empty."""
    _check_differs_on(fn, _synthetic_rows())
    expected = _check_differs_on(fn, rows)
    print(f"Right: {expected or 'none'} differ from identity; every other gap is within the seed-to-seed spread.")
