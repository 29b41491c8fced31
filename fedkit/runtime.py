"""TFF execution contexts that fedkit owns: it starts the `worker_binary` processes and ends them.

TFF's default context starts its C++ worker lazily and only stops it in a finalizer, so the
worker can outlive Python and keep inherited pipes open. Here every worker is started by
fedkit, in its own session, with its output sent to a log file, killed at exit (atexit) and,
on Linux, also when the Python process dies without running atexit (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import atexit
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import grpc
import tensorflow_federated as tff

_GRPC_OPTIONS = [
    ("grpc.max_message_length", 2_000_000_000),
    ("grpc.max_receive_message_length", 2_000_000_000),
    ("grpc.max_send_message_length", 2_000_000_000),
]
_PR_SET_PDEATHSIG = 1
_workers: list[WorkerProcess] = []


def worker_binary_path() -> Path:
    """Path of the `worker_binary` shipped inside the tensorflow-federated wheel."""
    path = Path(tff.__file__).parent / "data" / "worker_binary"
    if not path.is_file():
        raise RuntimeError(f"TFF's worker binary is missing at {path}: reinstall with `make setup`.")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGKILL it when we die.
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class WorkerProcess:
    """A TFF C++ executor service (`worker_binary`) on a loopback port, owned by fedkit."""

    def __init__(self, port: int | None = None, startup_timeout: float = 60.0) -> None:
        self.port = port or _free_port()
        self.log_path = Path(tempfile.gettempdir()) / f"fedkit-worker-{os.getpid()}-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [str(worker_binary_path()), f"--port={self.port}", "--max_concurrent_computation_calls=-1"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        _workers.append(self)
        self._wait_ready(startup_timeout)

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def _wait_ready(self, timeout: float) -> None:
        channel = grpc.insecure_channel(self.address, _GRPC_OPTIONS)
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            self.stop()
            raise RuntimeError(
                f"worker_binary on port {self.port} did not start within {timeout:.0f} s; "
                f"see its log {self.log_path}"
            ) from None
        finally:
            channel.close()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Kill the worker and reap it (idempotent)."""
        if self.alive():
            self.process.kill()
        self.process.wait()
        if self in _workers:
            _workers.remove(self)
        self.log_path.unlink(missing_ok=True)


class WorkerUnavailableError(RuntimeError):
    """A TFF worker stopped answering (it died, or its machine is unreachable)."""


class _FailFastStub(tff.framework.RemoteExecutorGrpcStub):
    """TFF's gRPC stub, except that an unreachable worker is an error, not an endless retry.

    TFF marks UNAVAILABLE as retryable and its contexts retry such calls forever, so a worker
    that dies mid-round would hang the round.
    """

    def __init__(self, address: str) -> None:
        super().__init__(grpc.insecure_channel(address, _GRPC_OPTIONS))
        self.address = address


def _fail_fast(method):
    def call(self, request):
        try:
            return method(self, request)
        except tff.framework.RetryableError as e:
            status = e.code().name if hasattr(e, "code") else type(e).__name__
            raise WorkerUnavailableError(
                f"TFF worker at {self.address} stopped answering ({status}); restart the workers with "
                "fedkit.runtime.set_local_context() or set_multi_worker_context(...)."
            ) from None

    return call


for _name in ("get_executor", "create_value", "create_struct", "create_call", "create_selection", "compute",
              "dispose", "dispose_executor"):  # fmt: skip
    setattr(_FailFastStub, _name, _fail_fast(getattr(tff.framework.RemoteExecutorGrpcStub, _name)))


def _executor_factory(address: str) -> tff.framework.ExecutorFactory:
    stub = _FailFastStub(address)

    def stack_fn(cardinalities: dict) -> tff.framework.RemoteExecutor:
        # Server-only computations arrive without a CLIENTS count; the worker needs one.
        cardinalities = {tff.CLIENTS: 0, **cardinalities}
        executor = tff.framework.RemoteExecutor(stub)
        executor.set_cardinalities(cardinalities)
        return executor

    return tff.framework.ResourceManagingExecutorFactory(executor_stack_fn=stack_fn)


def _context_kwargs(address: str) -> dict:
    return dict(
        executor_fn=_executor_factory(address),
        compiler_fn=tff.backends.native.desugar_and_transform_to_native,
        transform_args=tff.tensorflow.transform_args,
        transform_result=tff.tensorflow.transform_result,
    )


def shutdown() -> None:
    """Stop every worker fedkit started (also runs at interpreter exit)."""
    for worker in list(_workers):
        worker.stop()


def set_local_context() -> WorkerProcess:
    """Start one local worker and make it TFF's default execution context."""
    shutdown()
    worker = WorkerProcess()
    tff.framework.set_default_context(tff.framework.SyncExecutionContext(**_context_kwargs(worker.address)))
    return worker


def set_multi_worker_context(workers: int | Sequence[str]) -> list[str]:
    """Shard each round's clients over several workers: a count of local ones, or `host:port`s."""
    if isinstance(workers, int):
        if workers < 1:
            raise ValueError(f"workers={workers}: give at least 1 worker, or a list of 'host:port' addresses.")
        shutdown()
        addresses = [WorkerProcess().address for _ in range(workers)]
    else:
        addresses = list(workers)
        bad = [a for a in addresses if a.rpartition(":")[2].isdigit() is False]
        if not addresses or bad:
            raise ValueError(f"worker addresses {bad or addresses!r}: give them as 'host:port'.")
    contexts = [tff.framework.AsyncExecutionContext(**_context_kwargs(a)) for a in addresses]
    tff.framework.set_default_context(tff.backends.native.create_mergeable_comp_execution_context(contexts))
    return addresses


atexit.register(shutdown)
