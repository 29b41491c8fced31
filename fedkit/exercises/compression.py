"""Checkers for the exercises of notebooks 07 (compression) and 08 (compression trade-offs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit import encoders, models, paths, sizing, stages, sweep

DENSE_KERNEL = (3136, 512)
FULL_SWEEP = "sweep-2026-11-22.md"  # the full sweep's table, shipped in fedkit/results/
FULL_SWEEP_ROUNDS = 20  # as its header says
_UNITS = {"bit": 1, "Kibit": 2**10, "Mibit": 2**20, "Gibit": 2**30}


def _bits(build, elements: int) -> int:
    return stages.encoded_bits(build, (elements,))


def check_uniform_bits(bits: int, elements: int, answer: int) -> None:
    """07, exercise 1: the bits `uniform:<bits>` sends for a tensor of `elements` float32 values."""
    actual = _bits(lambda: te.encoders.uniform_quantization(bits=bits), elements)
    if answer == elements * bits or answer == elements * bits + 64:
        raise AssertionError(f"{answer:,} counts {bits} bits per value, as if packed densely: bitpacking fills only "
                             "28 of the 32 bits of each int32, so round up to whole int32s of 28 bits.")  # fmt: skip
    if answer == actual - 64:
        raise AssertionError(f"{answer:,} is the packed values alone: the tensor's min and max travel too "
                             "(two float32).")  # fmt: skip
    if answer != actual:
        raise AssertionError(f"{answer:,} bits is not what uniform:{bits} sends for {elements:,} values: count "
                             f"{bits}-bit values packed 28 bits per int32, and min and max.")  # fmt: skip
    print(f"Right: {actual:,} bits, {actual / elements:.2f} bits per value, {32 * elements / actual:.2f}x less "
          "than float32.")  # fmt: skip


def check_threshold(threshold: int) -> None:
    """07, exercise 2: a threshold under which only the 3136x512 dense kernel is quantized."""
    if threshold < 0:
        raise AssertionError(f"threshold={threshold}: a threshold is a number of elements, at least 0.")
    weights_type = tff.learning.models.weights_type_from_model(models.model_fn("cnn"))
    rows = encoders.encoding_table(weights_type, "uniform:8", threshold)
    encoded = [r["shape"] for r in rows if r["encoder"] != "identity"]
    if encoded != [DENSE_KERNEL]:
        raise AssertionError(f"threshold={threshold:,} quantizes {encoded or 'nothing'}: only tensors with more "
                             "elements than the threshold are encoded; compare it with the table's "
                             "'elements' column.")  # fmt: skip
    before, after = sum(r["bits"] for r in rows), sum(r["encoded bits"] for r in rows)
    print(f"Right: only the dense kernel is quantized; the model's weights shrink from "
          f"{sizing.format_size(before)} to {sizing.format_size(after)} ({before / after:.2f}x less).")  # fmt: skip


def check_hadamard_bits(elements: int, hadamard_bits: int, uniform_bits: int) -> None:
    """08, exercise 1: what `hadamard:8` and `uniform:8` send for one tensor of `elements` values."""
    uniform = _bits(lambda: te.encoders.uniform_quantization(bits=8), elements)
    hadamard = _bits(lambda: te.encoders.hadamard_quantization(bits=8), elements)
    padded = 1 << (elements - 1).bit_length()
    if uniform_bits != uniform:
        raise AssertionError(f"uniform_bits={uniform_bits:,}: 8-bit values packed 28 bits per int32, plus min "
                             "and max, is not that; notebook 07's exercise 1 works the rule through.")  # fmt: skip
    if hadamard_bits == uniform:
        raise AssertionError("hadamard_bits equals the uniform figure: the Hadamard rotation first pads the "
                             f"flattened tensor with zeros to a power of two ({padded:,} here).")  # fmt: skip
    if hadamard_bits != hadamard:
        raise AssertionError(f"hadamard_bits={hadamard_bits:,}: quantize {padded:,} padded values (the next power "
                             "of two), pack them 28 bits per int32, and add min and max.")  # fmt: skip
    print(f"Right: hadamard:8 sends {hadamard:,} bits and uniform:8 {uniform:,} for {elements:,} values; padding "
          f"to {padded:,} costs {hadamard / uniform:.2f}x.")  # fmt: skip


def pareto_names(rows: Sequence[dict]) -> list[str]:
    """The configurations that no other beats on both total bits (fewer) and test accuracy (higher)."""
    return [r["configuration"] for r, on_front in zip(rows, sweep.pareto_front(rows), strict=True) if on_front]


def _bits_of(size: str) -> int:
    """'14.65Mibit' -> bits (to the two decimals printed)."""
    match = re.fullmatch(r"([\d.]+)(bit|Kibit|Mibit|Gibit)", size)
    if not match:
        raise ValueError(f"{size!r} is not a size as format_size prints it (e.g. '14.65Mibit').")
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def shipped_sweep_rows(path: str | Path | None = None) -> list[dict]:
    """The shipped full sweep's table as rows (bits to the table's two decimals, test accuracy)."""
    path = Path(path) if path else paths.shipped_result(FULL_SWEEP)
    lines = [line for line in path.read_text().splitlines() if line.startswith("| ")]
    head = [h.strip() for h in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[1:]:
        cells = dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True))
        rows.append({
            "configuration": cells["configuration"],
            "downlink_bits_per_client_round": _bits_of(cells["down / client / round"]),
            "uplink_bits_per_client_round": _bits_of(cells["up / client / round"]),
            "test_accuracy": float(cells["test accuracy"]),
            "rounds": FULL_SWEEP_ROUNDS,
        })  # fmt: skip
    return rows


def check_pareto_front(answer: Sequence[str], rows: Sequence[dict]) -> None:
    """08, exercise 2: the names of the sweep's rows on the Pareto front (bits against accuracy)."""
    names = [r["configuration"] for r in rows]
    unknown = [a for a in answer if a not in names]
    if unknown:
        raise AssertionError(f"{unknown} are not configurations of these rows: use the rows' 'configuration'.")
    expected = pareto_names(rows)
    missing, extra = [n for n in expected if n not in answer], [a for a in answer if a not in expected]
    if extra:
        raise AssertionError(f"{extra} are dominated: another configuration sends no more bits and is at least "
                             "as accurate.")  # fmt: skip
    if missing:
        raise AssertionError(f"{missing} are on the front too: nothing sends fewer bits at equal or higher "
                             "accuracy than them.")  # fmt: skip
    print(f"Right: the front is {expected}.")
