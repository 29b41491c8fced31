"""Jupyter: an interrupted computation leaves the kernel usable; a restarted kernel leaves no worker;
AutoGraph takes no object of a later cell for a built-in."""

import os
import queue
import signal
import time

import pytest
from test_runtime import pid_alive, wait_gone

jupyter_client = pytest.importorskip("jupyter_client")

SETUP = """
import numpy as np, tensorflow as tf, tensorflow_federated as tff
from fedkit.runtime import workers
comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))

@tff.tensorflow.computation
def spin():  # a computation that keeps the worker busy for a while, as a long round does
    return tf.while_loop(lambda i: i < 30_000_000, lambda i: i + 1, [0])

print(comp([1, 2, 3]), [w.process.pid for w in workers._workers])
"""


def execute(client, code: str, timeout: float = 900) -> tuple[dict, str]:
    """Run `code` in the kernel; return the reply's content and the cell's printed text."""
    out = []
    reply = client.execute_interactive(
        code, timeout=timeout, output_hook=lambda m: out.append(m["content"].get("text", ""))
    )
    return reply["content"], "".join(out)


@pytest.fixture
def kernel():
    manager = jupyter_client.KernelManager(kernel_name="fedkit")
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    client.wait_for_ready(timeout=600)
    reply, out = execute(client, SETUP)
    assert reply["status"] == "ok", reply
    assert out.split()[0] == "6"
    worker_pid = int(out.split("[")[1].split("]")[0])
    yield manager, client, worker_pid
    client.stop_channels()
    manager.shutdown_kernel(now=True)
    assert wait_gone(worker_pid)


def wait_for_text(client, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = client.get_iopub_msg(timeout=1)
        except queue.Empty:
            continue
        if text in msg["content"].get("text", ""):
            return
    raise AssertionError(f"the kernel never printed {text!r}")


def test_interrupt_during_a_computation_leaves_the_kernel_usable(kernel):
    manager, client, worker_pid = kernel
    msg_id = client.execute("print('running', flush=True)\nwhile True:\n    spin()\n")
    wait_for_text(client, "running", timeout=600)
    time.sleep(2)  # inside a computation on the worker
    manager.interrupt_kernel()
    deadline = time.monotonic() + 600
    while True:
        reply = client.get_shell_msg(timeout=max(1, deadline - time.monotonic()))
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt"
    # An interrupted computation's worker is replaced (it would go on computing it): one worker, not two.
    for _ in range(5):  # ipykernel aborts a request that reaches it before it has finished handling the error
        reply, out = execute(client, "print(comp([4, 5]), [w.process.pid for w in workers._workers])", timeout=600)
        if reply["status"] != "aborted":
            break
        time.sleep(0.5)
    assert reply["status"] == "ok", reply
    assert out.split()[0] == "9", out
    pids = [int(p) for p in out.split("[")[1].split("]")[0].split(",")]
    assert len(pids) == 1 and all(map(pid_alive, pids))
    assert pids == [worker_pid] or wait_gone(worker_pid)


@pytest.mark.parametrize("now", [False, True])  # a polite restart (shutdown request), and a kill
def test_restart_leaves_no_worker_of_the_old_kernel(kernel, now):
    manager, client, worker_pid = kernel
    manager.restart_kernel(now=now)
    client.wait_for_ready(timeout=600)
    assert wait_gone(worker_pid, seconds=30), f"worker_binary {worker_pid} of the old kernel survived the restart"
    reply, out = execute(client, SETUP)
    assert reply["status"] == "ok" and out.split()[0] == "6", reply


BUILTIN_PROBE = """
import builtins
from tensorflow.python.autograph.pyct import inspect_utils
from fedkit._compat import autograph
alive = {id(v) for v in (*builtins.__dict__.values(), *autograph.KEPT)}
class Model:
    def method(self):
        pass
model = Model()
methods = [model.method for _ in range(100_000)]
print(len(inspect_utils._BUILTIN_FUNCTION_IDS - alive), sum(map(inspect_utils.isbuiltin, methods)))
"""


def test_autograph_takes_no_object_of_a_later_cell_for_a_builtin(kernel):
    # ipykernel puts a new `input` into builtins for each cell (SETUP's, where TF was imported) and
    # drops it after; AutoGraph would still match its id, and a bound method allocated there was
    # called as a built-in, without its instance (notebook 04, about 1 run in 100).
    _, client, _ = kernel
    reply, out = execute(client, BUILTIN_PROBE)
    assert reply["status"] == "ok", reply
    dead_ids, methods_taken_for_builtins = out.split()
    assert (dead_ids, methods_taken_for_builtins) == ("0", "0"), out


@pytest.fixture
def sigint_raises():
    """SIGINT raising KeyboardInterrupt, as in a terminal, even when the suite runs with SIGINT ignored."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def swallow_a_ctrl_c() -> None:
    # What a GC callback (jax's `_xla_gc_callback`) does to a KeyboardInterrupt raised inside it.
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        pass


def test_a_swallowed_ctrl_c_is_raised_again_after_the_block(sigint_raises):
    from fedkit import runtime

    with pytest.raises(KeyboardInterrupt):
        with runtime.reraise_swallowed_interrupt():
            swallow_a_ctrl_c()
    with runtime.reraise_swallowed_interrupt():  # no Ctrl-C, nothing raised
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
