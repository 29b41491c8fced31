"""Checkers for the exercises of notebook 01 (hello, federated world)."""

from __future__ import annotations

import numpy as np
import tensorflow_federated as tff

from fedkit.compression import sizing

READINGS = [68.5, 70.3, 69.8, 71.0, 66.2]
_CLIENT_FLOATS = tff.FederatedType(np.float32, tff.CLIENTS)
_SERVER_FLOAT = tff.FederatedType(np.float32, tff.SERVER)


def _require(condition: bool | np.bool_, hint: str) -> None:
    if not condition:
        raise AssertionError(hint)


def _require_computation(computation: object) -> None:
    _require(
        isinstance(computation, tff.Computation),
        f"got {type(computation).__name__}, not a TFF computation: decorate your function with "
        "@tff.federated_computation(<parameter types>).",
    )


def check_max(computation: tff.Computation) -> None:
    """Exercise 1: a computation from one float per client to the highest of them, at the server."""
    _require_computation(computation)
    signature = computation.type_signature
    _require(
        signature.parameter == _CLIENT_FLOATS and signature.result == _SERVER_FLOAT,
        f"type signature {signature}: it should be ({_CLIENT_FLOATS} -> {_SERVER_FLOAT}); "
        "take client_temperatures and return the result of a federated intrinsic (at the server).",
    )
    for readings in (READINGS, [-3.0, -7.5], [42.0]):
        got = float(computation(readings))
        _require(
            np.isclose(got, max(readings)),
            f"on readings {readings} it returned {got}, not the highest reading, {max(readings)}: "
            "try tff.federated_max.",
        )
    print(f"Right: {signature} returns the highest reading ({max(READINGS)} of {READINGS}).")


def check_fraction_between(computation: tff.Computation) -> None:
    """Exercise 2: the fraction of client readings strictly between a low and a high bound from the server."""
    _require_computation(computation)
    signature = computation.type_signature
    parameter = signature.parameter
    _require(
        isinstance(parameter, tff.StructType)
        and list(parameter.children()) == [_CLIENT_FLOATS, _SERVER_FLOAT, _SERVER_FLOAT]
        and signature.result == _SERVER_FLOAT,
        f"type signature {signature}: it should take (readings {_CLIENT_FLOATS}, low {_SERVER_FLOAT}, "
        f"high {_SERVER_FLOAT}) and return {_SERVER_FLOAT}.",
    )
    for low, high in ((69.0, 70.5), (60.0, 80.0), (75.0, 80.0)):
        expected = float(np.mean([low < r < high for r in READINGS]))
        got = float(computation(READINGS, low, high))
        _require(
            np.isclose(got, expected),
            f"readings {READINGS} between {low} and {high}: it returned {got}, not {expected}. "
            "Broadcast both bounds, compare on each client (1.0 or 0.0), and take the federated mean.",
        )
    print(f"Right: {signature} gives the fraction between the bounds (0.4 of {READINGS} between 69.0 and 70.5).")


def check_bits(computation: tff.Computation, down: int, up: int) -> None:
    """Exercise 3: your prediction of the bits per client that one call moves down (to) and up (from) clients."""
    _require_computation(computation)
    cost = sizing.communication_cost(computation)
    _require(
        (down, up) == (cost.broadcast_bits, cost.aggregate_bits),
        f"down={down}, up={up} bits per client is not what it moves: count 32 bits per float32; down, each "
        "broadcast value and the client's own reading passed in from Python; up, each value that a sum, "
        "mean or max collects from the client. `sizing.communication_cost(...).by_intrinsic` lists them.",
    )
    print(f"Right: {down} bits down and {up} bits up per client ({cost.by_intrinsic}).")
