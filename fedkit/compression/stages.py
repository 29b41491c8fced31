"""Writing new compression methods as `tensor_encoding` stages: a worked top-k sparsification
stage, and checkers that tell whether a stage keeps the contract the kit relies on."""

from __future__ import annotations

import collections
import dataclasses
import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import encoders, sizing


@te.core.tf_style_encoding_stage
class TopKEncodingStage(te.core.EncodingStageInterface):
    """Keep the `percent`% largest-magnitude entries of a vector (values and indices); zero the rest.

    k is fixed by the (static) input length, so the encoded tensors have static shapes and
    their bits can be counted before running.
    """

    VALUES_KEY = "values"
    INDICES_KEY = "indices"

    def __init__(self, percent: int = 10):
        if not 0 < percent <= 100:
            raise ValueError(f"percent={percent}: keep between 1 and 100 percent of the entries.")
        self._percent = percent

    @property
    def name(self):
        return "top_k"

    @property
    def compressible_tensors_keys(self):
        return [self.VALUES_KEY]

    @property
    def commutes_with_sum(self):
        return False

    @property
    def decode_needs_input_shape(self):
        return True

    def get_params(self):
        return collections.OrderedDict(), collections.OrderedDict()

    def encode(self, x, encode_params):
        del encode_params  # The stage has no parameters beyond percent.
        k = max(1, math.ceil(x.shape[-1] * self._percent / 100))
        _, indices = tf.math.top_k(tf.abs(x), k=k, sorted=False)
        return collections.OrderedDict([(self.VALUES_KEY, tf.gather(x, indices)), (self.INDICES_KEY, indices)])

    def decode(self, encoded_tensors, decode_params, num_summands=None, shape=None):
        del decode_params, num_summands
        indices = tf.expand_dims(encoded_tensors[self.INDICES_KEY], 1)
        return tf.scatter_nd(indices, encoded_tensors[self.VALUES_KEY], tf.cast(shape, tf.int32))


def top_k_encoder(percent: int) -> te.core.Encoder:
    """Flatten, then keep the top `percent`% entries: the encoder behind the `topk:P` spec."""
    return (
        te.core.EncoderComposer(TopKEncodingStage(percent))
        .add_parent(te.stages.FlattenEncodingStage(), te.stages.FlattenEncodingStage.ENCODED_VALUES_KEY)
        .make()
    )


def register_top_k() -> None:
    """Make `topk:P` (keep P% of each large tensor) usable wherever an encoder spec is."""
    encoders.register_encoder("topk", top_k_encoder, largest=100)


@dataclasses.dataclass
class Check:
    """One contract check of a stage: what was checked, whether it held, and what to do if not."""

    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"[{'PASS' if self.passed else 'FAIL'}] {self.name}: {self.detail}"


def _encoded_specs(encoder: te.core.Encoder, spec: tf.TensorSpec) -> list[tf.TensorSpec]:
    """Trace one encode of a `spec`-shaped value and return the encoded tensors' specs."""

    @tf.function(input_signature=[spec])
    def encode(x):
        encode_params, _ = encoder.get_params(encoder.initial_state())
        encoded, _, _ = encoder.encode(x, encode_params)
        return tf.nest.flatten(encoded)

    return [tf.TensorSpec.from_tensor(t) for t in encode.get_concrete_function().outputs]


def mean_only_error(x: np.ndarray) -> float:
    """Relative L2 error of the laziest decoder: every entry replaced by the mean (zeros score 1.0)."""
    return float(np.linalg.norm(x - x.mean()) / np.linalg.norm(x))


def encoded_bits(build: Callable[[], te.core.Encoder], shape: tuple[int, ...] = (64, 50)) -> int:
    """Bits of the encoded form of one float32 tensor of `shape` (what a broadcast of it sends)."""
    return sum(sizing.tensor_bits(s.shape, s.dtype) for s in _encoded_specs(build(), tf.TensorSpec(shape)))


def check_encoder(
    build: Callable[[], te.core.Encoder], shape: tuple[int, ...] = (64, 50), max_relative_error: float = 0.9
) -> list[Check]:
    """Check an encoder against fedkit's contract and say, for each failure, what to change.

    1. round trip: decode(encode(x)) has x's shape and dtype, within `max_relative_error` (L2)
       and closer to x than sending only its mean (or nothing) would be;
    2. static shapes: every encoded tensor's shape is known when tracing, so bits can be counted;
    3. federated: an encoded broadcast with it runs inside a TFF computation, and its traffic
       is smaller than sending x as float32.
    """
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    # x has mean ~0, so a decoder that ignores the encoded values scores ~1.0: the bound must be below it.
    allowed = min(max_relative_error, 0.95 * mean_only_error(x))
    round_trip, raised = _round_trip_check(build, x, allowed)
    if raised:
        return [round_trip]
    static = _static_shapes_check(build, tf.TensorSpec(shape, tf.float32))
    if not static.passed:
        return [round_trip, static]
    return [round_trip, static, _federated_check(build, x, allowed)]


def _round_trip_check(build: Callable[[], te.core.Encoder], x: np.ndarray, allowed: float) -> tuple[Check, bool]:
    """Check 1 on `x`, and whether encode or decode raised (then nothing else is checked)."""
    try:
        simple = te.encoders.as_simple_encoder(build(), tf.TensorSpec(x.shape, tf.float32))
        encoded, _ = simple.encode(tf.constant(x))
        decoded = simple.decode(encoded).numpy()
    except Exception as e:  # a student's stage can fail in any way; say where
        return Check("round trip", False, f"encode/decode raised {type(e).__name__}: {e}"), True
    if decoded.shape != x.shape or decoded.dtype != x.dtype:
        detail = (
            f"decode returned {decoded.dtype}{list(decoded.shape)} for float32{list(x.shape)}: restore the input's "
            "shape in decode (set decode_needs_input_shape=True and use `shape`)"
        )
        return Check("round trip", False, detail), False
    error = float(np.linalg.norm(decoded - x) / np.linalg.norm(x))
    ok = error <= allowed
    detail = (
        f"relative L2 error {error:.3f} (allowed {allowed:.3f}; sending "
        f"nothing scores 1.000, only the mean {mean_only_error(x):.3f})"
        + ("" if ok else ": decode does not reconstruct x from what encode sent")
    )
    return Check("round trip", ok, detail), False


def _static_shapes_check(build: Callable[[], te.core.Encoder], spec: tf.TensorSpec) -> Check:
    """Check 2: every encoded tensor's shape is known when tracing."""
    dynamic = [s for s in _encoded_specs(build(), spec) if not s.shape.is_fully_defined()]
    detail = (
        "all encoded tensors have static shapes"
        if not dynamic
        else (
            f"encoded tensors {dynamic} have unknown dimensions: their size depends on the data, so bits "
            "cannot be counted; choose sizes from the input's static shape (e.g. a fixed k)"
        )
    )
    return Check("static shapes", not dynamic, detail)


def _federated_check(build: Callable[[], te.core.Encoder], x: np.ndarray, allowed: float) -> Check:
    """Check 3: an encoded broadcast of `x` to two clients decodes within `allowed` and sends fewer bits."""
    value_type = tff.TensorType(np.float32, x.shape)
    process = encoders.build_encoded_broadcast(value_type, lambda s: te.encoders.as_simple_encoder(build(), s))

    @tff.federated_computation(tff.FederatedType(value_type, tff.SERVER), tff.FederatedType(np.int32, tff.CLIENTS))
    def broadcast(value, client_marker):
        return process.next(process.initialize(), value).result

    try:
        received = broadcast(x, [0, 0])
        # Compare with x, not with the eager decode: stochastic stages differ from call to call.
        agree = all(np.linalg.norm(r - x) / np.linalg.norm(x) <= allowed for r in received)
        cost = sizing.communication_cost(process.next)
        plain = sizing.type_bits(value_type)
        ratio = plain / cost.broadcast_bits
    except Exception as e:
        return Check("federated", False, f"inside a TFF computation it raised {type(e).__name__}: {e}")
    smaller = cost.broadcast_bits < plain
    detail = f"{cost.broadcast_bits:,} bits per client instead of {plain:,} ({ratio:.2f}x less)"
    if not agree:
        detail += (
            "; inside TFF, clients decoded values further from the input than allowed: keep all the "
            "stage's work in TensorFlow ops, with no Python-side state"
        )
    elif not smaller:
        detail += ": the encoded form is not smaller than the input"
    return Check("federated", agree and smaller, detail)


def report(checks: list[Check]) -> bool:
    """Print the checks, one line each; return whether all passed."""
    for check in checks:
        print(check)
    return all(c.passed for c in checks)


def error_feedback_step(
    update: np.ndarray, residual: np.ndarray, compress: Callable[[np.ndarray], np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """One client's error feedback: send compress(update + residual), keep what it did not send (lesson 11)."""
    corrected = update + residual
    sent = compress(corrected)
    return sent, corrected - sent
