"""Lossy compression with `tensor_encoding`: encoder specs, the tutorial's encoder functions,
an encoded broadcast and an encoded mean.

Encoder specs are short strings: `identity`, `uniform:8`, `hadamard:8`, `kashin:8`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import tensorflow as tf
import tensorflow_federated as tff
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

ENCODERS = ("identity", "uniform", "hadamard", "kashin")
DEFAULT_THRESHOLD = 10_000
_MAX_BITS = 16
_STAGES: dict[str, Callable[[int], te.core.Encoder]] = {}


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """A parsed encoder spec: a name from `ENCODERS` and, except for identity, a bit width."""

    name: str
    bits: int | None = None

    def __str__(self) -> str:
        return self.name if self.bits is None else f"{self.name}:{self.bits}"


def parse_encoder(spec: str | EncoderSpec) -> EncoderSpec:
    """Parse 'identity', 'uniform:8', 'hadamard:4', 'kashin:8', ...; errors name the bad part."""
    if isinstance(spec, EncoderSpec):
        return spec
    name, _, bits = str(spec).strip().partition(":")
    if name not in ENCODERS and name not in _STAGES:
        known = ", ".join([*ENCODERS, *_STAGES])
        raise ValueError(f"unknown encoder {name!r} in {spec!r}: choose one of {known} (e.g. 'uniform:8').")
    if name == "identity":
        if bits:
            raise ValueError(f"encoder {spec!r}: identity takes no bit width; write 'identity'.")
        return EncoderSpec(name)
    if not bits.isdigit() or not 1 <= int(bits) <= _MAX_BITS:
        raise ValueError(f"bit width {bits!r} in {spec!r}: write {name}:B with B from 1 to {_MAX_BITS}.")
    return EncoderSpec(name, int(bits))


def register_encoder(name: str, build: Callable[[int], te.core.Encoder]) -> None:
    """Make `name:B` a valid spec, built by `build(bits)` (for stages written in a notebook)."""
    if name in ENCODERS:
        raise ValueError(f"encoder name {name!r} is built in; pick another name.")
    _STAGES[name] = build


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
        return te.encoders.uniform_quantization(bits=spec.bits)
    if spec.name == "hadamard":
        return te.encoders.hadamard_quantization(bits=spec.bits)
    if spec.name == "kashin":
        return _kashin(spec.bits)
    return _STAGES[spec.name](spec.bits)


def _encoder_for(spec: str | EncoderSpec, threshold: int) -> Callable[[tf.TensorSpec], te.core.Encoder]:
    if threshold < 0:
        raise ValueError(f"threshold={threshold}: give a number of elements >= 0.")
    spec = parse_encoder(spec)

    def choose(value_spec: tf.TensorSpec) -> te.core.Encoder:
        # Small variables (biases) gain little and suffer most from quantization: leave them exact.
        large = value_spec.shape.num_elements() > threshold and value_spec.dtype.is_floating
        return make_encoder(spec) if large else te.encoders.identity()

    return choose


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
