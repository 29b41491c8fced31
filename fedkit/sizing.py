"""Communication accounting: what the removed `sizing_executor_factory` measured, counted statically.

A computation's building block shows every federated intrinsic it calls. Server-to-client
traffic is the SERVER-placed argument of `federated_broadcast` (and `federated_select`);
client-to-server traffic is the CLIENTS-placed part of the argument of a sum, mean,
aggregate, min/max or secure sum. A value's size is the sum over its tensors of elements
times dtype width, so the figures are exact whenever the shapes are static.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator

import numpy as np
import tensorflow_federated as tff

BROADCAST_INTRINSICS = frozenset({"federated_broadcast", "federated_select", "federated_secure_select"})
AGGREGATE_INTRINSICS = frozenset({
    "federated_aggregate", "federated_sum", "federated_mean", "federated_weighted_mean",
    "federated_min", "federated_max", "federated_secure_sum", "federated_secure_sum_bitwidth",
    "federated_secure_modular_sum",
})  # fmt: skip
_UNITS = ["bit", "Kibit", "Mibit", "Gibit", "Tibit"]


class NotStaticError(ValueError):
    """A value whose size in bits is not known before running (dynamic shape, string, sequence)."""


def type_bits(value_type: tff.Type) -> int:
    """Bits of one value of `value_type`: elements x dtype width over all its tensors."""
    if isinstance(value_type, tff.FederatedType):
        return type_bits(value_type.member)
    if isinstance(value_type, tff.StructType):
        return sum(type_bits(t) for t in value_type.children())
    if isinstance(value_type, tff.TensorType):
        dtype, shape = np.dtype(value_type.dtype), value_type.shape
        if dtype.kind in "OSU" or shape is None or None in shape:
            raise NotStaticError(f"tensor {value_type} has no static size")
        return int(np.prod(value_type.shape, dtype=np.int64)) * dtype.itemsize * 8
    raise NotStaticError(f"{value_type} has no static size")


def _crossing_parts(arg_type: tff.Type, placement: tff.Placement) -> Iterator[tff.Type]:
    """The parts of an intrinsic's argument that sit at `placement` (those are what cross)."""
    if isinstance(arg_type, tff.FederatedType):
        if arg_type.placement is placement:
            yield arg_type
    elif isinstance(arg_type, tff.StructType):
        for t in arg_type.children():
            yield from _crossing_parts(t, placement)


def _intrinsic_calls(block: tff.framework.ComputationBuildingBlock) -> Iterator[tff.framework.Call]:
    stack = [block]
    while stack:
        node = stack.pop()
        if isinstance(node, tff.framework.Call) and isinstance(node.function, tff.framework.Intrinsic):
            yield node
        stack.extend(node.children())


@dataclasses.dataclass(frozen=True)
class CommunicationCost:
    """Bits per client that one call of a computation moves, by direction and intrinsic."""

    broadcast_bits: int
    aggregate_bits: int
    by_intrinsic: dict[str, int]
    not_static: tuple[str, ...] = ()

    def per_round(self, clients: int) -> tuple[int, int]:
        """(broadcast, aggregate) bits of one call with `clients` participating clients."""
        return self.broadcast_bits * clients, self.aggregate_bits * clients


def communication_cost(computation: tff.Computation) -> CommunicationCost:
    """Static per-client bits of everything `computation` moves between SERVER and CLIENTS."""
    bits = {tff.SERVER: 0, tff.CLIENTS: 0}
    by_intrinsic: Counter[str] = Counter()
    not_static = []
    for call in _intrinsic_calls(computation.to_building_block()):
        uri = call.function.uri
        if uri in BROADCAST_INTRINSICS:
            source = tff.SERVER
        elif uri in AGGREGATE_INTRINSICS:
            source = tff.CLIENTS
        else:
            continue
        for part in _crossing_parts(call.argument.type_signature, source):
            try:
                n = type_bits(part)
            except NotStaticError as e:
                not_static.append(f"{uri}: {e}")
                continue
            bits[source] += n
            by_intrinsic[uri] += n
    return CommunicationCost(bits[tff.SERVER], bits[tff.CLIENTS], dict(by_intrinsic), tuple(not_static))


@dataclasses.dataclass
class SizeTracker:
    """Cumulative bits over rounds, like the old sizing executor's `SizeInfo`."""

    cost: CommunicationCost
    broadcast_bits: list[int] = dataclasses.field(default_factory=list)
    aggregate_bits: list[int] = dataclasses.field(default_factory=list)

    def record_round(self, clients: int) -> None:
        """Add one round with `clients` participants to the cumulative totals."""
        down, up = self.cost.per_round(clients)
        self.broadcast_bits.append((self.broadcast_bits[-1] if self.broadcast_bits else 0) + down)
        self.aggregate_bits.append((self.aggregate_bits[-1] if self.aggregate_bits else 0) + up)


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
