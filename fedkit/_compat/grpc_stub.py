"""Workaround `grpc_fail_fast`: a call to a worker that stopped answering raises instead of retrying forever.

Symptom: when a worker dies mid-round (or its address is wrong), its gRPC calls fail with UNAVAILABLE, which
TFF's stub turns into `RetryableError`, and TFF's `AsyncExecutionContext.invoke` retries such errors with no
limit: the round hangs, silently.
Why here: the fix wraps each RPC method of TFF's `RemoteExecutorGrpcStub` (the methods TFF's `RemoteExecutor`
calls) for fedkit's own subclass, relying on which errors TFF marks retryable and on its retry policy; TFF's
class itself is left as it is.
Written for: TFF 0.87.0 (and grpcio 1.85.1, whose UNAVAILABLE status TFF maps; no gRPC internals are touched,
so only TFF's version is checked).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from fedkit._compat.versions import applies

NAME = "grpc_fail_fast"
# The RPC methods of `RemoteExecutorGrpcStub`, each `(self, request) -> response`.
STUB_METHODS = (
    "get_executor",
    "create_value",
    "create_struct",
    "create_call",
    "create_selection",
    "compute",
    "dispose",
    "dispose_executor",
)
Stub = TypeVar("Stub", bound=type)


def _raising(method: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """`method`, with TFF's `RetryableError` replaced by `self.unavailable(error)`, which is not retried."""
    import tensorflow_federated as tff

    @functools.wraps(method)
    def call(self: Any, request: Any) -> Any:
        try:
            return method(self, request)
        except tff.framework.RetryableError as e:
            raise self.unavailable(e) from None

    return call


def fail_fast_stub(cls: Stub) -> Stub:
    """Class decorator for a subclass of `tff.framework.RemoteExecutorGrpcStub` that defines `unavailable(error)`
    (the exception to raise instead): its RPC methods raise that instead of a retryable error. Idempotent."""
    if not applies(NAME, "tensorflow-federated"):
        return cls
    import tensorflow_federated as tff

    base = tff.framework.RemoteExecutorGrpcStub
    for name in STUB_METHODS:  # each wraps the base's method, so applying it again changes nothing
        setattr(cls, name, _raising(getattr(base, name)))
    return cls
