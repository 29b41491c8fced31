"""Lossy compression with `tensor_encoding`: encoder specs, the tutorial's encoder functions,
an encoded broadcast and an encoded mean.

Encoder specs are short strings: `identity`, `uniform:8`, `hadamard:8`, `kashin:8`, `uniform-eg:8`, `drive`,
`eden:B` (DRIVE and EDEN, `fedkit.compression.eden`); their grammar
lives in the TensorFlow-free `fedkit.compression.specs` (re-exported here). An encoder applies only to floating
point variables over the threshold; `applies_to` names them, and an encoded broadcast or mean that
would encode no variable warns (`UnusedEncoderWarning`), since it then sends exactly what identity sends.

A lossless spec (`uniform-eg:B`, see `fedkit.compression.lossless`) sends a fixed-capacity code buffer, counted
statically at its capacity, and measures the bits its codes used: its encoded mean and broadcast report
`measured_code_bits` (summed over clients; per client for a broadcast) and `code_capacity_bits` (per
client, static) in their measurements, from which `fedkit.compression.sizing.SizeTracker` derives measured totals.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff
from tensorflow.python.util import nest  # flatten_with_joined_string_paths
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import eden, lossless, sizing
from fedkit.compression.specs import (  # noqa: F401
    DEFAULT_THRESHOLD,
    ENCODERS,
    LOSSLESS,
    MAX_BITS,
    EncoderSpec,
    parse_encoder,
    register_name,
)

_BUILDERS: dict[str, Callable[[int], te.core.Encoder]] = {}


def register_encoder(name: str, build: Callable[[int], te.core.Encoder], largest: int = MAX_BITS) -> None:
    """Make `name:N` a valid spec (1 <= N <= `largest`), built by `build(N)`: for new stages."""
    register_name(name, largest)
    _BUILDERS[name] = build


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
    return _build_encoder(parse_encoder(spec))


def _build_encoder(spec: EncoderSpec) -> te.core.Encoder:
    """The `tensor_encoding` Encoder of a parsed spec."""
    if spec.name == "identity":
        return te.encoders.identity()
    if spec.name == "drive":
        return eden.drive_encoder()
    param = _param(spec)
    if spec.name == "uniform":
        return te.encoders.uniform_quantization(bits=param)
    if spec.name == "hadamard":
        return te.encoders.hadamard_quantization(bits=param)
    if spec.name == "kashin":
        return _kashin(param)
    if spec.name == "uniform-eg":
        return lossless.uniform_eg_encoder(param)
    if spec.name == "eden":
        return eden.eden_encoder(param)
    return _BUILDERS[spec.name](param)


def _param(spec: EncoderSpec) -> int:
    """The parameter of a spec that needs one (`parse_encoder` gives one; an `EncoderSpec` built by hand may not)."""
    if spec.param is None:
        raise ValueError(f"encoder spec {spec}: {spec.name} needs a parameter; write {spec.name}:N.")
    return spec.param


def _encoder_for(spec: EncoderSpec, threshold: int) -> Callable[[tf.TensorSpec], te.core.Encoder]:
    if threshold < 0:
        raise ValueError(f"threshold={threshold}: give a number of elements >= 0.")

    def choose(value_spec: tf.TensorSpec) -> te.core.Encoder:
        return _build_encoder(spec) if is_encoded(value_spec, threshold) else te.encoders.identity()

    return choose


def is_encoded(value_spec: tf.TensorSpec, threshold: int) -> bool:
    """Whether a variable gets the lossy encoder: floating point and over `threshold` elements."""
    # Small variables (biases) gain little and suffer most from quantization: they stay exact.
    return value_spec.shape.num_elements() > threshold and value_spec.dtype.is_floating


def broadcast_encoder_fn(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> Callable[[tf.TensorSpec], te.core.SimpleEncoder]:
    """The tutorial's `broadcast_encoder_fn`: `spec` for tensors over `threshold` elements, else identity."""
    choose = _encoder_for(parse_encoder(spec), threshold)
    return lambda value_spec: te.encoders.as_simple_encoder(choose(value_spec), _tensor_spec(value_spec))


def mean_encoder_fn(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> Callable[[tf.TensorSpec], te.core.GatherEncoder]:
    """The tutorial's `mean_encoder_fn`: `spec` for tensors over `threshold` elements, else identity."""
    choose = _encoder_for(parse_encoder(spec), threshold)
    return lambda value_spec: te.encoders.as_gather_encoder(choose(value_spec), _tensor_spec(value_spec))


def _tensor_spec(value_spec: tf.TensorSpec) -> tf.TensorSpec:
    return tf.TensorSpec(value_spec.shape, value_spec.dtype)


class UnusedEncoderWarning(UserWarning):
    """An encoder that applies to no variable: the value travels as with identity."""


def _value_names(value_type: tff.Type) -> list[str]:
    """Paths of a value's tensors in `tf.nest.flatten` order: 'big', 'trainable/0', ..."""
    return [
        path or "value"
        for path, _ in nest.flatten_with_joined_string_paths(tff.types.type_to_tf_tensor_specs(value_type))
    ]


def _model_variable_names(model_fn: Callable) -> list[str] | None:
    """The model's weight names (trainable, then non-trainable) in `weights_type_from_model` order."""
    if not callable(model_fn):
        return None  # a FunctionalModel: its weights have no names
    with tf.Graph().as_default():
        model = model_fn()
        return [v.name for v in [*model.trainable_variables, *model.non_trainable_variables]]


def applies_to(model: Callable | tff.Type, spec: str | EncoderSpec, threshold: int = DEFAULT_THRESHOLD) -> list[str]:
    """Names of the variables `spec` encodes at `threshold`: a model function's weights, or a value type's tensors."""
    if isinstance(model, tff.Type):
        value_type, names = model, _value_names(model)
    else:
        value_type = tff.learning.models.weights_type_from_model(model)
        names = _model_variable_names(model) or _value_names(value_type)
    return [] if parse_encoder(spec).is_identity else _encoded_names(value_type, names, threshold)


def _encoded_names(value_type: tff.Type, names: list[str], threshold: int) -> list[str]:
    """The `names` of `value_type`'s tensors that an encoder (other than identity) encodes at `threshold`."""
    tensors = tf.nest.flatten(tff.types.type_to_tf_tensor_specs(value_type))
    return [name for name, t in zip(names, tensors, strict=True) if is_encoded(t, threshold)]


def _warn_if_unused(
    value_type: tff.Type, spec: EncoderSpec, threshold: int, what: str, model_fn: Callable | None = None
) -> None:
    if spec.is_identity or _encoded_names(value_type, _value_names(value_type), threshold):
        return
    tensors = tf.nest.flatten(tff.types.type_to_tf_tensor_specs(value_type))
    names = (model_fn and _model_variable_names(model_fn)) or _value_names(value_type)
    sizes = [t.shape.num_elements() or 0 for t in tensors]
    whose = {"broadcast": "model", "aggregate": "model update"}
    largest = f"its largest, {names[sizes.index(max(sizes))]}, has {max(sizes):,} elements" if sizes else "it is empty"
    warnings.warn(
        f"{what} encoder '{spec}' applies to no variable of the {whose[what]} ({largest}; "
        f"threshold={threshold:,}): it sends what identity sends; lower the threshold to encode.",
        UnusedEncoderWarning,
        stacklevel=3,
    )


def code_capacity_bits(value_type: tff.Type, spec: str | EncoderSpec, threshold: int = DEFAULT_THRESHOLD) -> int:
    """Static bits per client of the lossless code buffers `spec` sends for `value_type` (0 if not lossless)."""
    spec = parse_encoder(spec)
    if not spec.lossless:
        return 0
    tensors = tf.nest.flatten(tff.types.type_to_tf_tensor_specs(value_type))
    return sum(
        lossless.capacity_bits(t.shape.num_elements(), _param(spec)) for t in tensors if is_encoded(t, threshold)
    )


def _code_bits_reader(state_type: tff.Type) -> tff.Computation:
    """A computation summing a lossless encoder state: its only entries are the code lengths (int64)."""

    @tff.tensorflow.computation(state_type)
    def read(state):
        return tf.add_n([tf.constant(0, tf.int64), *tf.nest.flatten(state)])

    return read


def _code_measurements(measured, capacity: int):
    """The measurements a lossless encoder reports: measured code bits and the buffers' static capacity."""
    capacity = tff.federated_value(np.int64(capacity), tff.SERVER)
    return tff.federated_zip({"measured_code_bits": measured, "code_capacity_bits": capacity})


class _EncodedMean(tff.aggregators.WeightedAggregationFactory):
    """`MeanFactory(EncodedSumFactory, EncodedSumFactory)`, warning at `create` if it encodes nothing."""

    def __init__(self, spec: EncoderSpec, threshold: int) -> None:
        encoder_fn = mean_encoder_fn(spec, threshold)
        self.spec, self.threshold = spec, threshold
        self.inner = tff.aggregators.MeanFactory(
            tff.aggregators.EncodedSumFactory(encoder_fn), tff.aggregators.EncodedSumFactory(encoder_fn)
        )

    def create(self, value_type, weight_type) -> tff.templates.AggregationProcess:
        """The inner MeanFactory's process for `value_type` (see `tff.aggregators.MeanFactory.create`)."""
        _warn_if_unused(value_type, self.spec, self.threshold, "aggregate")
        process = self.inner.create(value_type, weight_type)
        if not self.spec.lossless:
            return process
        capacity = code_capacity_bits(value_type, self.spec, self.threshold)
        read = _code_bits_reader(process.state_type.member["value_sum_process"])

        @tff.federated_computation(process.next.type_signature.parameter)
        def next_fn(state, value, weight):
            output = process.next(state, value, weight)
            measurements = _code_measurements(tff.federated_map(read, output.state["value_sum_process"]), capacity)
            return tff.templates.MeasuredProcessOutput(output.state, output.result, measurements)

        return tff.templates.AggregationProcess(process.initialize, next_fn)


def encoded_mean(
    spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> tff.aggregators.WeightedAggregationFactory:
    """Weighted mean whose numerator and denominator sums are encoded (the tutorial's aggregation)."""
    return _EncodedMean(parse_encoder(spec), threshold)


def build_encoded_broadcast(
    value_type: tff.Type,
    encoder_fn: Callable[[tf.TensorSpec], te.core.SimpleEncoder],
    code_capacity: int | None = None,
) -> tff.learning.templates.DistributionProcess:
    """Broadcast `value_type` encoded: encode on the server, send the encoded form, decode on clients.

    With `code_capacity` (per-client bits of a lossless encoder's code buffers), the measurements
    report it and `measured_code_bits`, the bits the server's codes used (what each client receives).
    """
    specs = tff.types.type_to_tf_tensor_specs(value_type)
    encoders = tf.nest.map_structure(encoder_fn, specs)
    flat_encoders = tf.nest.flatten(encoders)

    @tff.tensorflow.computation
    def initial_state():
        return tuple(e.initial_state() for e in flat_encoders)

    state_type = initial_state.type_signature.result
    read = _code_bits_reader(state_type)

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
        if code_capacity is None:
            measurements = tff.federated_value((), tff.SERVER)
        else:
            measurements = _code_measurements(tff.federated_map(read, new_state), code_capacity)
        return tff.templates.MeasuredProcessOutput(new_state, decoded, measurements)

    return tff.learning.templates.DistributionProcess(init_fn, next_fn)


def encoded_broadcast(
    model_fn: Callable, spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> tff.learning.templates.DistributionProcess:
    """An encoded broadcast of a model's weights (the removed `build_encoded_broadcast_process_from_model`)."""
    spec = parse_encoder(spec)
    weights_type = tff.learning.models.weights_type_from_model(model_fn)
    encoder_fn = broadcast_encoder_fn(spec, threshold)
    _warn_if_unused(weights_type, spec, threshold, "broadcast", model_fn)
    capacity = code_capacity_bits(weights_type, spec, threshold) if spec.lossless else None
    return build_encoded_broadcast(weights_type, encoder_fn, capacity)


def encoding_table(
    value_type: tff.Type, spec: str | EncoderSpec = "uniform:8", threshold: int = DEFAULT_THRESHOLD
) -> list[dict]:
    """Per tensor of `value_type`: shape, the encoder chosen, and its bits before and after encoding."""
    spec = parse_encoder(spec)
    choose = broadcast_encoder_fn(spec, threshold)
    rows = []
    for tensor_spec in tf.nest.flatten(tff.types.type_to_tf_tensor_specs(value_type)):
        encoder = choose(tensor_spec)
        encoded, _ = encoder.encode(tf.zeros(tensor_spec.shape, tensor_spec.dtype))
        rows.append(
            {
                "shape": tuple(tensor_spec.shape),
                "elements": tensor_spec.shape.num_elements(),
                "encoder": str(spec) if is_encoded(tensor_spec, threshold) else "identity",
                "bits": sizing.tensor_bits(tensor_spec.shape, tensor_spec.dtype),
                "encoded bits": sum(sizing.tensor_bits(v.shape, v.dtype) for v in encoded.values()),
            }
        )
    return rows
