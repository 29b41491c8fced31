"""Lossy compression with `tensor_encoding`: encoder specs, the tutorial's encoder functions,
an encoded broadcast and an encoded mean.

Encoder specs are short strings: `identity`, `uniform:8`, `hadamard:8`, `kashin:8`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te


class _QuietBitpackingWarning(logging.Filter):
    # tensor_encoding warns at every trace of bitpacking below 8 bits; in a notebook, AutoGraph
    # then tries to trace the kernel's output socket and prints more warnings on top.
    def filter(self, record: logging.LogRecord) -> bool:
        return "can temporarily allocate extra memory" not in record.getMessage()


logging.getLogger().addFilter(_QuietBitpackingWarning())

ENCODERS = ("identity", "uniform", "hadamard", "kashin")
DEFAULT_THRESHOLD = 10_000
_MAX_BITS = 16
_REGISTERED: dict[str, tuple[Callable[[int], te.core.Encoder], int]] = {}


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """A parsed encoder spec: a name and, except for identity, its parameter (the bit width for
    the quantizers; what a registered encoder makes of it, e.g. a percentage, is up to it)."""

    name: str
    param: int | None = None

    def __str__(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param}"


def parse_encoder(spec: str | EncoderSpec) -> EncoderSpec:
    """Parse 'identity', 'uniform:8', 'hadamard:4', 'kashin:8', ...; errors name the bad part."""
    if isinstance(spec, EncoderSpec):
        return spec
    name, _, param = str(spec).strip().partition(":")
    if name not in ENCODERS and name not in _REGISTERED:
        known = ", ".join([*ENCODERS, *_REGISTERED])
        raise ValueError(f"unknown encoder {name!r} in {spec!r}: choose one of {known} (e.g. 'uniform:8').")
    if name == "identity":
        if param:
            raise ValueError(f"encoder {spec!r}: identity takes no bit width; write 'identity'.")
        return EncoderSpec(name)
    largest = _REGISTERED[name][1] if name in _REGISTERED else _MAX_BITS
    what = "parameter" if name in _REGISTERED else "bit width"
    if not param.isdigit() or not 1 <= int(param) <= largest:
        raise ValueError(f"{what} {param!r} in {spec!r}: write {name}:N with N from 1 to {largest}.")
    return EncoderSpec(name, int(param))


def register_encoder(name: str, build: Callable[[int], te.core.Encoder], largest: int = _MAX_BITS) -> None:
    """Make `name:N` a valid spec (1 <= N <= `largest`), built by `build(N)`: for new stages."""
    if name in ENCODERS or ":" in name:
        raise ValueError(f"encoder name {name!r} is built in or has a ':'; pick another name.")
    _REGISTERED[name] = (build, largest)


def _kashin(bits: int) -> te.core.Encoder:
    stages = te.stages
    return (
        te.core.EncoderComposer(stages.BitpackingEncodingStage(bits))
        .add_parent(
            stages.UniformQuantizationEncodingStage(bits),
            stages.UniformQuantizationEncodingStage.ENCODED_VALUES_KEY,
        )
        .add_parent(
            stages.research.KashinHadamardEncodingStage(),
            stages.research.KashinHadamardEncodingStage.ENCODED_VALUES_KEY,
        )
        .add_parent(stages.FlattenEncodingStage(), stages.FlattenEncodingStage.ENCODED_VALUES_KEY)
        .make()
    )


def make_encoder(spec: str | EncoderSpec) -> te.core.Encoder:
    """The `tensor_encoding` Encoder a spec names."""
    spec = parse_encoder(spec)
    if spec.name == "identity":
        return te.encoders.identity()
    if spec.name == "uniform":
        return te.encoders.uniform_quantization(bits=spec.param)
    if spec.name == "hadamard":
        return te.encoders.hadamard_quantization(bits=spec.param)
    if spec.name == "kashin":
        return _kashin(spec.param)
    return _REGISTERED[spec.name][0](spec.param)


def _encoder_for(spec: str | EncoderSpec, threshold: int) -> Callable[[tf.TensorSpec], te.core.Encoder]:
    if threshold < 0:
        raise ValueError(f"threshold={threshold}: give a number of elements >= 0.")
    spec = parse_encoder(spec)

    def choose(value_spec: tf.TensorSpec) -> te.core.Encoder:
        return make_encoder(spec) if is_encoded(value_spec, threshold) else te.encoders.identity()

    return choose


def is_encoded(value_spec: tf.TensorSpec, threshold: int) -> bool:
    """Whether a variable gets the lossy encoder: floating point and over `threshold` elements."""
    # Small variables (biases) gain little and suffer most from quantization: they stay exact.
    return value_spec.shape.num_elements() > threshold and value_spec.dtype.is_floating


def broadcast_encoder_fn(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> Callable[[tf.TensorSpec], te.core.SimpleEncoder]:
    """The tutorial's `broadcast_encoder_fn`: `spec` for tensors over `threshold` elements, else identity."""
    choose = _encoder_for(spec, threshold)
    return lambda value_spec: te.encoders.as_simple_encoder(choose(value_spec), _tensor_spec(value_spec))


def mean_encoder_fn(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> Callable[[tf.TensorSpec], te.core.GatherEncoder]:
    """The tutorial's `mean_encoder_fn`: `spec` for tensors over `threshold` elements, else identity."""
    choose = _encoder_for(spec, threshold)
    return lambda value_spec: te.encoders.as_gather_encoder(choose(value_spec), _tensor_spec(value_spec))


def _tensor_spec(value_spec: tf.TensorSpec) -> tf.TensorSpec:
    return tf.TensorSpec(value_spec.shape, value_spec.dtype)


def encoded_mean(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> tff.aggregators.WeightedAggregationFactory:
    """Weighted mean whose numerator and denominator sums are encoded (the tutorial's aggregation)."""
    encoder_fn = mean_encoder_fn(spec, threshold)
    return tff.aggregators.MeanFactory(
        tff.aggregators.EncodedSumFactory(encoder_fn), tff.aggregators.EncodedSumFactory(encoder_fn)
    )


def build_encoded_broadcast(
    value_type: tff.Type, encoder_fn: Callable[[tf.TensorSpec], te.core.SimpleEncoder]
) -> tff.learning.templates.DistributionProcess:
    """Broadcast `value_type` encoded: encode on the server, send the encoded form, decode on clients."""
    specs = tff.types.type_to_tf_tensor_specs(value_type)
    encoders = tf.nest.map_structure(encoder_fn, specs)
    flat_encoders = tf.nest.flatten(encoders)

    @tff.tensorflow.computation
    def initial_state():
        return tuple(e.initial_state() for e in flat_encoders)

    state_type = initial_state.type_signature.result

    @tff.tensorflow.computation(value_type, state_type)
    def encode(value, state):
        pairs = [e.encode(x, s) for e, x, s in zip(flat_encoders, tf.nest.flatten(value), state, strict=True)]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)

    @tff.tensorflow.computation(encode.type_signature.result[0])
    def decode(encoded):
        decoded = [e.decode(x) for e, x in zip(flat_encoders, encoded, strict=True)]
        return tf.nest.pack_sequence_as(specs, decoded)

    @tff.federated_computation
    def init_fn():
        return tff.federated_eval(initial_state, tff.SERVER)

    @tff.federated_computation(init_fn.type_signature.result, tff.FederatedType(value_type, tff.SERVER))
    def next_fn(state, value):
        encoded, new_state = tff.federated_map(encode, (value, state))
        decoded = tff.federated_map(decode, tff.federated_broadcast(encoded))
        measurements = tff.federated_value((), tff.SERVER)
        return tff.templates.MeasuredProcessOutput(new_state, decoded, measurements)

    return tff.learning.templates.DistributionProcess(init_fn, next_fn)


def encoded_broadcast(
    model_fn: Callable, spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> tff.learning.templates.DistributionProcess:
    """An encoded broadcast of a model's weights (the removed `build_encoded_broadcast_process_from_model`)."""
    weights_type = tff.learning.models.weights_type_from_model(model_fn)
    return build_encoded_broadcast(weights_type, broadcast_encoder_fn(spec, threshold))


def encoding_table(
    value_type: tff.Type, spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> list[dict]:
    """Per tensor of `value_type`: shape, the encoder chosen, and its bits before and after encoding."""
    choose = broadcast_encoder_fn(spec, threshold)
    rows = []
    for tensor_spec in tf.nest.flatten(tff.types.type_to_tf_tensor_specs(value_type)):
        encoder = choose(tensor_spec)
        encoded, _ = encoder.encode(tf.zeros(tensor_spec.shape, tensor_spec.dtype))
        rows.append({
            "shape": tuple(tensor_spec.shape),
            "elements": tensor_spec.shape.num_elements(),
            "encoder": str(parse_encoder(spec)) if is_encoded(tensor_spec, threshold) else "identity",
            "bits": tensor_spec.shape.num_elements() * tensor_spec.dtype.size * 8,
            "encoded bits": sum(int(v.shape.num_elements()) * v.dtype.size * 8 for v in encoded.values()),
        })  # fmt: skip
    return rows
