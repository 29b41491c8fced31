"""Communication accounting: what the removed `sizing_executor_factory` measured, counted statically.

TFF's sizing executor (deleted in TFF 0.48) sat on top of each client's executor and recorded what
the runtime created there ("broadcast") and what it read back from there ("aggregate"). fedkit counts
the same traffic from the computation's building block, per client, with the executor's rules:

- `federated_broadcast` moves its SERVER value to each client (broadcast); `federated_value` placed
  at CLIENTS creates its value on each client (broadcast).
- A sum, mean, aggregate, min/max or secure sum moves each client's CLIENTS-placed argument to the
  server (aggregate). In a weighted mean the weights travel too: they count as aggregate.
- The computation's own CLIENTS-placed parameter (values passed in from Python) counts as broadcast,
  and its CLIENTS-placed result (values returned to Python) as aggregate. SERVER-placed and unplaced
  values never cross.
- Bits per element: `tf.bool` 1 bit; `tf.string` 8 bits per byte of content; any other dtype its
  width (float32 32 bits). A value's bits are the sum over its tensors of elements x bits per element.
- Datasets (sequences) and functions count nothing, as in the executor: FedAvg's client datasets are
  its CLIENTS-placed parameter and add no bits.
- `federated_select` (absent from the executor's tests): the client keys go up (aggregate) and each
  selected slice comes down (broadcast: keys x the slice's bits). The executor counted the keys and
  nothing for the slices, which arrive as a dataset.

What is known only at run time is never guessed: a string tensor (its byte count) or a tensor with
an unknown dimension is listed in `CommunicationCost.not_static` and counted as 0 bits.
`measure(computation, *args)` runs a computation and counts its CLIENTS-placed parameter and result
from the actual values, strings included, as the executor did.

Static counts cannot see lossless coding: a lossless encoder (`uniform-eg:B`) sends a code buffer sized
for the worst case, and the static count is that upper bound. Such an encoder measures the bits its
codes really used and reports them in the process's measurements (`measured_code_bits`, with the
buffers' static `code_capacity_bits`); `SizeTracker.record_round` then records, next to the static
totals, measured totals in which each buffer counts at its used length instead of its capacity.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import tensorflow_federated as tff

BROADCAST_INTRINSICS = frozenset({"federated_broadcast", "federated_value_at_clients"})
SELECT_INTRINSICS = frozenset({"federated_select", "federated_secure_select"})
AGGREGATE_INTRINSICS = frozenset(
    {
        "federated_aggregate",
        "federated_sum",
        "federated_mean",
        "federated_weighted_mean",
        "federated_min",
        "federated_max",
        "federated_secure_sum",
        "federated_secure_sum_bitwidth",
        "federated_secure_modular_sum",
    }
)
PARAMETER = "parameter at CLIENTS"
RESULT = "result at CLIENTS"
_UNITS = ["bit", "Kibit", "Mibit", "Gibit", "Tibit"]
WORD_BITS = 32  # packed codes travel in int32 words
PACKED_BITS_PER_WORD = 28  # tensor_encoding's BitpackingEncodingStage fills 28 bits of each int32 word


class NotStaticError(ValueError):
    """A value whose size in bits is not known before running (a string, or a dynamic shape)."""


def _is_string(dtype: np.dtype) -> bool:
    return dtype.kind in "OSU"


def element_bits(dtype) -> int:
    """Bits of one element: bool 1, any other non-string dtype its width (strings: see `value_bits`)."""
    dtype = np.dtype(dtype)
    if _is_string(dtype):
        raise NotStaticError("a string tensor's size is its bytes, known only at run time")
    return 1 if dtype == np.bool_ else dtype.itemsize * 8


def tensor_bits(shape, dtype) -> int:
    """Bits of a tensor of static `shape` and `dtype` (numpy's or TensorFlow's): its elements x `element_bits`."""
    dims = list(shape)
    if None in dims:
        raise NotStaticError(f"a tensor of shape {dims} has no static size")
    return int(np.prod(dims, dtype=np.int64)) * element_bits(getattr(dtype, "as_numpy_dtype", dtype))


def words_bits(payload_bits: int, used_per_word: int = WORD_BITS) -> int:
    """Bits of the int32 words that carry `payload_bits` bits, `used_per_word` of each word's 32 bits used."""
    return WORD_BITS * -(-payload_bits // used_per_word)  # whole words: the ceiling, in integers


def type_bits(value_type: tff.Type) -> int:
    """Bits of one value of `value_type`; datasets and functions count 0, strings and dynamic shapes raise."""
    if isinstance(value_type, tff.FederatedType):
        return type_bits(value_type.member)
    if isinstance(value_type, tff.StructType):
        return sum(type_bits(t) for t in value_type.children())
    if isinstance(value_type, tff.TensorType):
        shape = value_type.shape
        if shape is None or None in shape:
            raise NotStaticError(f"tensor {value_type} has no static size")
        try:
            return tensor_bits(shape, value_type.dtype)
        except NotStaticError as e:
            raise NotStaticError(f"tensor {value_type}: {e}") from None
    if isinstance(value_type, (tff.SequenceType, tff.FunctionType)):
        return 0
    raise NotStaticError(f"{value_type} has no static size")


def _struct_values(value, value_type: tff.StructType) -> list:
    names = [name for name, _ in tff.structure.iter_elements(value_type)]
    if isinstance(value, Mapping):
        return [value[name] for name in names]
    if hasattr(value, "__attrs_attrs__"):
        return [getattr(value, a.name) for a in value.__attrs_attrs__]
    return list(value)


def value_bits(value, value_type: tff.Type) -> int:
    """Bits of a concrete `value` of `value_type`, strings counted by their bytes (the executor's rule)."""
    if isinstance(value_type, tff.FederatedType):
        return value_bits(value, value_type.member)
    if isinstance(value_type, tff.StructType):
        children = list(value_type.children())
        return sum(value_bits(v, t) for v, t in zip(_struct_values(value, value_type), children, strict=True))
    if isinstance(value_type, tff.TensorType):
        dtype = np.dtype(value_type.dtype)
        if _is_string(dtype):
            items = np.asarray(value, dtype=object).ravel()
            return 8 * sum(len(s.encode() if isinstance(s, str) else bytes(s)) for s in items)
        return int(np.size(np.asarray(value))) * element_bits(dtype)
    return 0  # datasets and functions


def _leaves(value_type: tff.Type) -> Iterator[tff.Type]:
    """The tensors, datasets and functions inside a value, each measured on its own."""
    if isinstance(value_type, tff.FederatedType):
        yield from _leaves(value_type.member)
    elif isinstance(value_type, tff.StructType):
        for t in value_type.children():
            yield from _leaves(t)
    else:
        yield value_type


def _parts_at(value_type: tff.Type, placement: tff.Placement) -> Iterator[tff.Type]:
    """The parts of a value that sit at `placement` (those are what cross)."""
    if isinstance(value_type, tff.FederatedType):
        if value_type.placement is placement:
            yield value_type
    elif isinstance(value_type, tff.StructType):
        for t in value_type.children():
            yield from _parts_at(t, placement)


def _intrinsic_calls(block: tff.framework.ComputationBuildingBlock) -> Iterator[tff.framework.Call]:
    stack = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, tff.framework.Call) and isinstance(node.function, tff.framework.Intrinsic):
            yield node
        stack.extend(node.children())


def _crossing(call: tff.framework.Call) -> Iterator[tuple[str, tff.Type, int]]:
    """(direction, type, copies) of what one intrinsic call moves per client."""
    uri, arg_type = call.function.uri, call.argument.type_signature
    if uri in BROADCAST_INTRINSICS:
        yield from (("broadcast", t, 1) for t in _parts_at(arg_type, tff.SERVER))
        if uri == "federated_value_at_clients":
            yield "broadcast", arg_type, 1  # an unplaced value created on each client
    elif uri in AGGREGATE_INTRINSICS:
        yield from (("aggregate", t, 1) for t in _parts_at(arg_type, tff.CLIENTS))
    elif uri in SELECT_INTRINSICS:
        keys, *_, select_fn = arg_type.children()
        yield "aggregate", keys, 1
        yield "broadcast", select_fn.result, keys.member.shape[0] if keys.member.shape else 1


@dataclasses.dataclass(frozen=True)
class CommunicationCost:
    """Bits per client that one call of a computation moves, by direction and by intrinsic."""

    broadcast_bits: int
    aggregate_bits: int
    by_intrinsic: dict[str, int]
    not_static: tuple[str, ...] = ()

    def per_round(self, clients: int) -> tuple[int, int]:
        """(broadcast, aggregate) bits of one call with `clients` participating clients."""
        return self.broadcast_bits * clients, self.aggregate_bits * clients


def _io_parts(computation: tff.Computation) -> Iterator[tuple[str, str, tff.Type]]:
    """(direction, label, type) of the computation's own CLIENTS-placed parameter and result."""
    signature = computation.type_signature
    if signature.parameter is not None:
        yield from (("broadcast", PARAMETER, t) for t in _parts_at(signature.parameter, tff.CLIENTS))
    yield from (("aggregate", RESULT, t) for t in _parts_at(signature.result, tff.CLIENTS))


def communication_cost(computation: tff.Computation) -> CommunicationCost:
    """Static per-client bits of everything `computation` moves between SERVER and CLIENTS."""
    bits: Counter[str] = Counter()
    by_intrinsic: Counter[str] = Counter()
    not_static = []
    crossings = [
        (d, call.function.uri, t, n)
        for call in _intrinsic_calls(computation.to_building_block())
        for d, t, n in _crossing(call)
    ]
    crossings += [(d, label, t, 1) for d, label, t in _io_parts(computation)]
    for direction, label, value_type, copies in crossings:
        by_intrinsic[label] += 0
        for leaf in _leaves(value_type):
            try:
                n = type_bits(leaf) * copies
            except NotStaticError as e:
                not_static.append(f"{label}: {e}")
                continue
            bits[direction] += n
            by_intrinsic[label] += n
    return CommunicationCost(bits["broadcast"], bits["aggregate"], dict(by_intrinsic), tuple(not_static))


@dataclasses.dataclass(frozen=True)
class Measurement:
    """One call's result and the bits it moved over all clients (the old `SizeInfo`'s totals)."""

    result: object
    clients: int
    broadcast_bits: int
    aggregate_bits: int
    not_static: tuple[str, ...] = ()


def _client_values(value, value_type: tff.Type, at: str) -> Iterator[tuple[Sequence, tff.FederatedType]]:
    """(list of per-client values, type) of each CLIENTS-placed part of a concrete value."""
    if isinstance(value_type, tff.FederatedType):
        if value_type.placement is tff.CLIENTS:
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"the {at} at CLIENTS is not a list of per-client values: pass one per client.")
            yield value, value_type
    elif isinstance(value_type, tff.StructType):
        for v, t in zip(_struct_values(value, value_type), value_type.children(), strict=True):
            yield from _client_values(v, t, at)


def measure(computation: tff.Computation, *args, clients: int | None = None) -> Measurement:
    """Run `computation(*args)`; count its CLIENTS parameter and result from their values, the rest statically.

    `clients` is needed only when no CLIENTS-placed argument tells how many clients there are.
    """
    parameter = computation.type_signature.parameter
    result = computation(*args)
    arg = args[0] if len(args) == 1 else args
    inputs = list(_client_values(arg, parameter, "parameter")) if parameter is not None else []
    outputs = list(_client_values(result, computation.type_signature.result, "result"))
    sizes = {len(v) for v, _ in inputs + outputs}
    if clients is None and len(sizes) != 1:
        raise ValueError(f"cannot tell the number of clients from the values ({sorted(sizes)}): pass clients=N.")
    clients = clients if clients is not None else sizes.pop()
    static = communication_cost(computation)
    down = static.broadcast_bits - static.by_intrinsic.get(PARAMETER, 0)
    up = static.aggregate_bits - static.by_intrinsic.get(RESULT, 0)
    measured_down = sum(value_bits(v, t.member) for values, t in inputs for v in values)
    measured_up = sum(value_bits(v, t.member) for values, t in outputs for v in values)
    not_static = tuple(n for n in static.not_static if not n.startswith((PARAMETER, RESULT)))
    return Measurement(result, clients, down * clients + measured_down, up * clients + measured_up, not_static)


def unused_code_bits(metrics: Mapping | None, clients: int) -> tuple[int, int] | None:
    """(broadcast, aggregate) bits of one round's lossless code buffers that the codes left unused, or
    None if the process reports no measured bits.

    Reads a learning process's `metrics`: the distributor's `measured_code_bits` are per client (each
    receives the server's codes), the aggregator's are summed over clients; `code_capacity_bits` is per client.
    """
    unused, reported = [0, 0], False
    for i, (component, per_client) in enumerate((("distributor", True), ("aggregator", False))):
        found = (metrics or {}).get(component)
        if isinstance(found, Mapping) and "measured_code_bits" in found:
            measured = int(found["measured_code_bits"]) * (clients if per_client else 1)
            unused[i], reported = int(found["code_capacity_bits"]) * clients - measured, True
    return (unused[0], unused[1]) if reported else None


@dataclasses.dataclass
class SizeTracker:
    """Cumulative bits over rounds, like the old sizing executor's `SizeInfo`.

    `broadcast_bits` and `aggregate_bits` are static counts. When the process reports measured bits
    (a lossless encoder), `measured_broadcast_bits` and `measured_aggregate_bits` hold the measured
    totals: the static ones with each code buffer counted at the bits its codes used.
    """

    cost: CommunicationCost
    broadcast_bits: list[int] = dataclasses.field(default_factory=list)
    aggregate_bits: list[int] = dataclasses.field(default_factory=list)
    measured_broadcast_bits: list[int] = dataclasses.field(default_factory=list)
    measured_aggregate_bits: list[int] = dataclasses.field(default_factory=list)

    def record_round(self, clients: int, metrics: Mapping | None = None) -> None:
        """Add one round with `clients` participants to the cumulative totals (measured ones from `metrics`)."""
        down, up = self.cost.per_round(clients)
        self.broadcast_bits.append((self.broadcast_bits[-1] if self.broadcast_bits else 0) + down)
        self.aggregate_bits.append((self.aggregate_bits[-1] if self.aggregate_bits else 0) + up)
        unused = unused_code_bits(metrics, clients)
        if unused is not None:
            for totals, static, saved in (
                (self.measured_broadcast_bits, down, unused[0]),
                (self.measured_aggregate_bits, up, unused[1]),
            ):
                totals.append((totals[-1] if totals else 0) + static - saved)


def format_size(size: int | float) -> str:
    """Human-readable bits, as the tutorial printed them: 507.62Mibit, 4.96Gibit.

    The tutorial labelled its last unit "TiB"; it counts bits, so fedkit says "Tibit".
    """
    size = float(size)
    for unit in _UNITS:
        if size < 1024.0 or unit == _UNITS[-1]:
            return f"{size:3.2f}{unit}"
        size /= 1024.0
    raise AssertionError("unreachable")
