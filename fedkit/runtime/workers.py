"""TFF execution contexts that fedkit owns: it starts the `worker_binary` processes and ends them.

TFF's default context starts its C++ worker lazily and only stops it in a finalizer, so the
worker can outlive Python and keep inherited pipes open. Here every worker is started by
fedkit, in its own session, with its output sent to an unlinked temporary file, killed at exit
(atexit, also on SIGTERM) and, on Linux, also when the Python process dies without running
atexit (PR_SET_PDEATHSIG). Importing this module (which fedkit does when TFF is imported next to it) installs
fedkit's workarounds in TF and TFF (`fedkit._compat`): among them, TFF's default context becomes fedkit's
`LocalContext`, which starts a worker on the first computation, so no code path runs TFF's own.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import grpc
import tensorflow_federated as tff

from fedkit import _compat
from fedkit.common.env import ENV_DEFAULTS

_GRPC_OPTIONS = [
    ("grpc.max_message_length", 2_000_000_000),
    ("grpc.max_receive_message_length", 2_000_000_000),
    ("grpc.max_send_message_length", 2_000_000_000),
]
_LINUX = sys.platform.startswith("linux")
_workers: list[WorkerProcess] = []
_spawner: concurrent.futures.ThreadPoolExecutor | None = None


def worker_binary_path() -> Path:
    """Path of the `worker_binary` shipped inside the tensorflow-federated wheel."""
    path = Path(tff.__file__).parent / "data" / "worker_binary"
    if not path.is_file():
        raise RuntimeError(f"TFF's worker binary is missing at {path}: reinstall with `make setup`.")
    return path


def _free_port() -> int:
    # Racy (the port is released before the worker binds it): only where /proc cannot tell the port.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening_port(pid: int) -> int | None:
    """The TCP port process `pid` listens on, read from /proc (Linux), or None while it has none."""
    try:
        inodes = {os.readlink(f"/proc/{pid}/fd/{fd}")[8:-1] for fd in os.listdir(f"/proc/{pid}/fd")}
        for table in ("tcp6", "tcp"):
            with open(f"/proc/{pid}/net/{table}") as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                        return int(fields[1].rpartition(":")[2], 16)
    except OSError:  # the process exited, or an fd closed while we read
        pass
    return None


# Run by a fresh Python between fork and the worker's exec, instead of a `preexec_fn`: Python code in
# the forked child of a threaded process (TF's, gRPC's) can crash it. PR_SET_PDEATHSIG makes the
# kernel SIGKILL the worker when the thread that started it ends; it survives the exec.
_LAUNCHER = """
import ctypes, os, sys
ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
if os.getppid() != int(sys.argv[1]):  # the parent died before the prctl
    os._exit(1)
os.execv(sys.argv[2], sys.argv[2:])
"""


def _with_launcher(args: list[str]) -> list[str]:
    """`args` run through `_LAUNCHER` on Linux (the same pid, with its parent's death signal set)."""
    if not _LINUX or not sys.executable:
        return args
    return [sys.executable, "-I", "-S", "-c", _LAUNCHER, str(os.getpid()), *args]


# The worker's environment unless the user's sets these: fedkit's own (oneDNN kernels among them), and
# two malloc arenas. glibc gives each allocating thread an arena of its own, up to 8 per core, where freed
# memory stays apart: with two, the worker's peak in notebook 03 fell from about 1.0 to 0.75 GB, rounds as fast.
_WORKER_ENV_DEFAULTS = {**ENV_DEFAULTS, "MALLOC_ARENA_MAX": "2"}


def _spawn(args: list[str], log) -> subprocess.Popen:
    """Start the worker from the main thread, or from one thread that lives as long as Python.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so a worker started from a
    short-lived thread would die with it.
    """
    global _spawner
    env = {**_WORKER_ENV_DEFAULTS, **os.environ}
    popen = lambda: subprocess.Popen(  # noqa: E731
        _with_launcher(args),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )
    if threading.current_thread() is threading.main_thread():
        return popen()
    if _spawner is None:
        _spawner = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="fedkit-spawner")
    return _spawner.submit(popen).result()


def _exit_on_sigterm(signum: int, frame) -> None:
    # A clean exit: `finally` blocks and atexit run, and atexit stops the workers.
    raise SystemExit(128 + signum)


def _handle_sigterm() -> None:
    """Turn SIGTERM into SystemExit, unless someone installed a handler or this is a Jupyter kernel.

    (A kernel keeps the default: IPython would catch SystemExit in a cell and keep running, while a
    killed kernel's workers die with it.)
    """
    in_kernel = "ipykernel" in sys.modules
    if threading.current_thread() is threading.main_thread() and not in_kernel:
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _exit_on_sigterm)


@contextlib.contextmanager
def reraise_swallowed_interrupt() -> Iterator[None]:
    """Raise KeyboardInterrupt at the end of the block if a Ctrl-C arrived in it and was lost.

    TensorFlow's tracing sometimes swallows the KeyboardInterrupt of a Ctrl-C (Python raises it in
    whatever code runs when the signal arrives, and some of TF's code catches and drops it). The
    block notes each SIGINT, so a lost one is raised again once the block is done.
    """
    previous = signal.getsignal(signal.SIGINT)
    if threading.current_thread() is not threading.main_thread() or not callable(previous):
        yield  # SIGINT ignored or left to the OS: nothing to note
        return
    received = []

    def note(signum, frame):
        received.append(signum)
        previous(signum, frame)

    signal.signal(signal.SIGINT, note)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:  # reached only when no exception (the KeyboardInterrupt itself) left the block
        raise KeyboardInterrupt


class WorkerProcess:
    """A TFF C++ executor service (`worker_binary`) on a loopback port, owned by fedkit.

    Without a `port`, on Linux the worker binds port 0 and fedkit reads the port the kernel gave it
    from /proc: no other process can take it between choosing and binding (gRPC binds with
    SO_REUSEPORT, so a port chosen in advance could silently be shared by two workers).
    """

    def __init__(self, port: int | None = None, startup_timeout: float = 60.0) -> None:
        _handle_sigterm()
        ask = port if port is not None else (0 if _LINUX else _free_port())
        # Unlinked at once: nothing is left in the temp folder however Python ends.
        self.log = tempfile.TemporaryFile(prefix="fedkit-worker-")
        args = [str(worker_binary_path()), f"--port={ask}", "--max_concurrent_computation_calls=-1"]
        self.process = _spawn(args, self.log)
        _workers.append(self)
        try:
            self.port = ask or self._wait_for_port(startup_timeout)
            self._wait_ready(startup_timeout)
        except BaseException:  # a Ctrl-C while it starts, too
            self.stop()
            raise

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def log_text(self, limit: int = 2000) -> str:
        """The end of the worker's output (its log)."""
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-limit:].strip()

    def _failed(self, what: str) -> RuntimeError:
        self.stop()
        return RuntimeError(f"worker_binary {what}; its log: {self.log_text() or '(empty)'}")

    def _wait_for_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            port = _listening_port(self.process.pid)
            if port:
                return port
            if not self.alive():
                raise self._failed(f"exited with status {self.process.returncode} before listening")
            time.sleep(0.02)
        raise self._failed(f"did not listen within {timeout:.0f} s")

    def _wait_ready(self, timeout: float) -> None:
        channel = grpc.insecure_channel(self.address, _GRPC_OPTIONS)
        try:
            grpc.channel_ready_future(channel).result(timeout=timeout)
        except grpc.FutureTimeoutError:
            raise self._failed(f"on port {self.port} did not answer within {timeout:.0f} s") from None
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


class WorkerUnavailableError(RuntimeError):
    """A TFF worker stopped answering (it died, or its machine is unreachable)."""


@_compat.fail_fast_stub  # its RPC methods raise `unavailable(...)` instead of TFF's retryable error
class _FailFastStub(tff.framework.RemoteExecutorGrpcStub):
    """TFF's gRPC stub, except that an unreachable worker is an error, not an endless retry.

    TFF marks UNAVAILABLE as retryable and its contexts retry such calls forever, so a worker
    that dies mid-round would hang the round.
    """

    def __init__(self, address: str) -> None:
        super().__init__(grpc.insecure_channel(address, _GRPC_OPTIONS))
        self.address = address

    def unavailable(self, error: Exception) -> WorkerUnavailableError:
        """The error a call raises when the worker does not answer."""
        status = error.code().name if hasattr(error, "code") else type(error).__name__
        return WorkerUnavailableError(
            f"TFF worker at {self.address} stopped answering ({status}); restart the workers with "
            "fedkit.runtime.set_local_context() or set_multi_worker_context(...)."
        )


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


class LocalContext(tff.framework.SyncContext):
    """One fedkit-owned local worker as a TFF context: started on the first computation (or at once
    with `start=True`), and replaced by a fresh one after an interrupted computation.

    (The worker would go on computing the abandoned call, and the next call would wait for it: a
    Jupyter cell after an interrupted round would hang.)
    """

    def __init__(self, start: bool = False) -> None:
        self.worker: WorkerProcess | None = None
        self._context: tff.framework.SyncContext | None = None
        if start:
            self._start()

    def _start(self) -> WorkerProcess:
        self.worker = worker = WorkerProcess()
        self._context = tff.framework.SyncExecutionContext(**_context_kwargs(worker.address))
        return worker

    def invoke(self, comp, arg):
        if self._context is None:
            self._start()
        try:
            return self._context.invoke(comp, arg)
        except KeyboardInterrupt:
            self.release()
            raise

    def release(self) -> None:
        """Stop the worker (and the memory its computations hold); the next computation starts a fresh one."""
        if self.worker is not None:
            self.worker.stop()
        self.worker = self._context = None


def release_worker() -> None:
    """Stop the local worker between independent runs, freeing the computations it holds; the next computation
    starts a fresh one. Does nothing unless TFF's current context is fedkit's `LocalContext`."""
    context = tff.framework.get_context_stack().current
    if isinstance(context, LocalContext):
        context.release()


def set_local_context() -> WorkerProcess:
    """Start one local worker and make it TFF's default execution context."""
    shutdown()
    context = LocalContext()
    worker = context._start()
    tff.framework.set_default_context(context)
    return worker


def _at_exit() -> None:
    shutdown()
    # Drop the context (and its event-loop thread) now rather than during interpreter teardown.
    if threading.current_thread() is threading.main_thread():
        tff.framework.get_context_stack().set_default_context(LocalContext())


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


# Libraries AutoGraph calls as written instead of rewriting them (a workaround in `fedkit._compat.autograph`).
AUTOGRAPH_AS_WRITTEN = _compat.AUTOGRAPH_AS_WRITTEN

atexit.register(_at_exit)
# TFF's own default context (the one its import sets, whose worker outlives Python) is replaced by a `LocalContext`
# while Python is whole, so its finalizer never runs at interpreter teardown.
_compat.install(default_context=LocalContext)
