"""fedkit.runtime.workers: contexts run computations, and no worker_binary outlives its Python process."""

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff
from conftest import ROOT, run_python
from tensorflow_federated.proto.v0 import computation_pb2

from fedkit.runtime import workers

START_WORKER = """
import os, sys, numpy as np, tensorflow_federated as tff
from fedkit.runtime import workers
worker = workers.set_local_context()
comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))
assert comp([1, 2, 3]) == 6
print(worker.process.pid, flush=True)
"""


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pid: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("ending", ["", "raise RuntimeError('boom')", "os._exit(0)"])
def test_worker_ends_with_its_process(ending):
    # capture_output: if the worker kept the pipe open, this would hang until the timeout.
    result = run_python(START_WORKER + ending, timeout=900)
    worker_pid = int(result.stdout.split()[0])
    assert wait_gone(worker_pid), f"worker_binary {worker_pid} survived (ending={ending!r})"


@contextlib.contextmanager
def terminal_signals():
    """Children started in the block get SIGINT and SIGTERM as a terminal gives them, whatever this
    test runner inherited (background jobs, nohup and many CI runners ignore SIGINT, and an ignored
    signal stays ignored in children; a handled one is reset to the default at exec).

    Not with preexec_fn: Python code between fork and exec can crash a process that has threads.
    """
    previous = signal.signal(signal.SIGINT, signal.default_int_handler), signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous[0])
        signal.signal(signal.SIGTERM, previous[1])


# prctl(2, ...) is PR_GET_PDEATHSIG.
REPORT_PID_AND_DEATH_SIGNAL = """
import ctypes, os
s = ctypes.c_int()
ctypes.CDLL(None).prctl(2, ctypes.byref(s))
print(os.getpid(), s.value)
"""


def test_launcher_becomes_the_program_in_its_own_process_with_a_parent_death_signal():
    # Same pid: fedkit reads the worker's port and environment from /proc/<Popen's pid>.
    proc = subprocess.Popen(
        workers._with_launcher([sys.executable, "-c", REPORT_PID_AND_DEATH_SIGNAL]), stdout=subprocess.PIPE, text=True
    )
    out, _ = proc.communicate(timeout=60)
    assert out.split() == [str(proc.pid), str(int(signal.SIGKILL))]


def test_launcher_does_not_start_the_program_when_its_parent_is_not_the_caller():
    # As when the caller died before the launcher set the signal: the program would be orphaned.
    launched = workers._with_launcher([sys.executable, "-c", "print('started')"])
    out = subprocess.run(
        ["/bin/sh", "-c", '"$@"; echo "status $?"', "sh", *launched], capture_output=True, text=True, timeout=60
    ).stdout
    assert out.split() == ["status", "1"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_worker_ends_when_process_is_interrupted_or_killed(sig):
    with terminal_signals():
        proc = subprocess.Popen(
            [sys.executable, "-c", START_WORKER + "import time; time.sleep(600)"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
    worker_pid = int(proc.stdout.readline())
    assert pid_alive(worker_pid)
    # The worker's log is an unlinked file: nothing is left in the temp folder even after SIGKILL.
    assert os.readlink(f"/proc/{worker_pid}/fd/1").endswith("(deleted)")
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=300)
    assert wait_gone(worker_pid), f"worker_binary {worker_pid} survived {sig.name}"
    assert not list(Path(tempfile.gettempdir()).glob(f"fedkit-worker-{proc.pid}-*"))
    if sig == signal.SIGTERM:  # a clean exit: SystemExit, with the shell's status for a signal
        assert proc.returncode == 128 + signal.SIGTERM and "Traceback" not in stderr, stderr
    elif sig == signal.SIGINT:
        # Python ends an uncaught KeyboardInterrupt by dying of SIGINT itself, as the shell expects.
        assert proc.returncode == -signal.SIGINT and stderr.rstrip().endswith("KeyboardInterrupt"), stderr


def test_sigterm_handler_of_the_user_is_kept():
    code = (
        "import signal, sys\n"
        "signal.signal(signal.SIGTERM, lambda *a: (print('mine', flush=True), sys.exit(7)))\n"
        + START_WORKER
        + "import os, time; os.kill(os.getpid(), signal.SIGTERM); time.sleep(60)"
    )
    result = run_python(code, timeout=900)
    worker_pid = int(result.stdout.split()[0])
    assert result.returncode == 7 and "mine" in result.stdout, result.stderr
    assert wait_gone(worker_pid)


AUTOGRAPH_THEN_KILLED = """
import os, signal, tensorflow as tf
import fedkit.runtime.workers

@tf.function
def countdown(x):
    while x > 0:  # AutoGraph rewrites this function into a generated source file
        x -= 1
    return x

@tf.function
def bad(x):
    if x > 0:
        x = tf.reshape(x, [7, 7])
    return x

print(int(countdown(tf.constant(3))), flush=True)
try:
    bad(tf.constant(3))
except ValueError as e:
    print([line.strip() for line in str(e).splitlines() if "in bad" in line][0], flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_autograph_leaves_no_file_in_the_temp_folder_even_when_killed(tmp_path):
    script, temp = tmp_path / "script.py", tmp_path / "tmp"  # AutoGraph reads a function's source from its file
    script.write_text(AUTOGRAPH_THEN_KILLED)
    temp.mkdir()
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(temp)},
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    value, error_line = result.stdout.splitlines()
    # Errors in converted code still point at the learner's own line.
    assert value == "0" and error_line.startswith(f'File "{script}", line 14, in bad'), result.stdout
    assert list(temp.iterdir()) == []


LEARNER_SCRIPT = """
import numpy as np, tensorflow_federated as tff
from fedkit import algorithms
from fedkit.runtime import workers  # no set_local_context(): the default must be fedkit's anyway
comp = tff.federated_computation(lambda x: tff.federated_mean(x), tff.FederatedType(np.float32, tff.CLIENTS))
assert comp([1.0, 2.0, 6.0]) == 3.0
print(type(tff.framework.get_context_stack().current).__name__, [w.process.pid for w in workers._workers], flush=True)
"""


def test_script_without_set_local_context_runs_on_fedkits_worker_and_ends():
    # stdout is a pipe, as in `python my_script.py | cat`: a worker holding it open would hang this.
    result = run_python(LEARNER_SCRIPT, timeout=900)
    assert result.returncode == 0, result.stderr
    context, pids = result.stdout.split(maxsplit=1)
    worker_pid = int(pids.strip("[]\n"))
    assert context == "LocalContext"
    assert wait_gone(worker_pid), f"worker_binary {worker_pid} outlived the script"
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


def test_tff_imported_before_fedkit_gets_fedkits_default_context():
    code = (
        "import tensorflow_federated as tff\n"
        "before = type(tff.framework.get_context_stack().current).__name__\n"
        "import fedkit\n"
        "print(before, type(tff.framework.get_context_stack().current).__name__)\n"
    )
    result = run_python(code, timeout=900)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["SyncExecutionContext", "LocalContext"]
    assert "Exception ignored" not in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_shutdown_stops_workers_and_restart_works(tff_context):
    comp = tff.federated_computation(lambda x: tff.federated_mean(x), tff.FederatedType(np.float32, tff.CLIENTS))
    worker = workers.set_local_context()
    assert comp([1.0, 3.0]) == pytest.approx(2.0)
    workers.shutdown()
    assert not worker.alive() and not pid_alive(worker.process.pid)
    workers.set_local_context()
    assert comp([2.0, 4.0]) == pytest.approx(3.0)


@pytest.mark.parametrize(
    "name, default, user_value", [("MALLOC_ARENA_MAX", b"2", "8"), ("TF_ENABLE_ONEDNN_OPTS", b"1", "0")]
)
def test_worker_environment_has_fedkits_defaults_unless_the_user_sets_them(monkeypatch, name, default, user_value):
    def setting(worker: workers.WorkerProcess) -> list[bytes]:
        with open(f"/proc/{worker.process.pid}/environ", "rb") as f:
            return [v for v in f.read().split(b"\0") if v.startswith(name.encode() + b"=")]

    for value, expected in ((None, default), (user_value, user_value.encode())):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
        worker = workers.WorkerProcess()
        try:
            assert setting(worker) == [name.encode() + b"=" + expected]
        finally:
            worker.stop()


def test_tensorflow_imported_before_fedkit_still_runs_its_onednn_kernels():
    # As a notebook's first cell does; TensorFlow reads the setting at its first op, not at its import.
    code = (
        "import tensorflow as tf\nimport fedkit\nfrom tensorflow.python.util import _pywrap_util_port\n"
        "tf.constant(1.0) + 1.0\nprint(_pywrap_util_port.IsMklEnabled())"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True"], result.stdout


def test_multi_worker_context_matches_local():
    comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))
    try:
        addresses = workers.set_multi_worker_context(2)
        assert len(addresses) == 2
        assert comp(list(range(1, 11))) == 55
    finally:
        workers.set_local_context()
    assert comp(list(range(1, 11))) == 55


@pytest.mark.parametrize("bad", [0, [], ["nohost"]])
def test_multi_worker_rejects_bad_workers(bad):
    with pytest.raises(ValueError, match="host:port|at least 1"):
        workers.set_multi_worker_context(bad)


def test_no_orphan_workers_from_this_session():
    ours = {w.process.pid for w in workers._workers}
    out = subprocess.run(["pgrep", "-f", "tensorflow_federated/.*/worker_binary"], capture_output=True, text=True)
    children = {int(p) for p in out.stdout.split()} - ours
    parents = {p: open(f"/proc/{p}/stat").read().split(") ")[1].split()[1] for p in children if pid_alive(p)}
    assert str(os.getpid()) not in parents.values()


def test_fedavg_round_on_two_workers_matches_local(emnist):
    from fedkit import algorithms, data

    train, _ = emnist
    process = algorithms.build_fedavg("dense", client_lr=0.1)
    clients = train.client_ids[:6]
    datasets = data.federated_data(train, clients, flat=True, seed=0)
    state = process.initialize()
    local = process.next(state, datasets)
    try:
        workers.set_multi_worker_context(2)
        sharded = process.next(state, datasets)
    finally:
        workers.set_local_context()
    local_train, sharded_train = (r.metrics["client_work"]["train"] for r in (local, sharded))
    assert int(sharded_train["num_examples"]) == int(local_train["num_examples"])
    assert float(sharded_train["loss"]) == pytest.approx(float(local_train["loss"]), rel=1e-5)
    for a, b in zip(
        process.get_model_weights(local.state).trainable,
        process.get_model_weights(sharded.state).trainable,
        strict=False,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


WORKER_DIES = """
import time, numpy as np, tensorflow_federated as tff
from fedkit.runtime import workers
comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))
workers.set_multi_worker_context(2)
assert comp(list(range(8))) == 28
dead = workers._workers[1]
dead.process.kill()
dead.process.wait()
start = time.monotonic()
try:
    comp(list(range(8)))
except workers.WorkerUnavailableError as e:
    print(dead.address, dead.process.pid, time.monotonic() - start, e, sep="\\n")
"""


def test_worker_dying_mid_run_is_a_prompt_error():
    # In its own interpreter: it kills a worker, and this session's context must not depend on how that went.
    result = run_python(WORKER_DIES, timeout=300)
    assert result.returncode == 0 and result.stdout.count("\n") == 4, result.stdout + result.stderr
    address, pid, seconds, message = result.stdout.splitlines()
    assert message.startswith(f"TFF worker at {address} stopped answering") and "restart the workers" in message
    assert float(seconds) < 60
    assert not pid_alive(int(pid))


def tf_graphs(computation) -> list[str]:
    """The TF graphs inside a TFF computation as text, less the numbers TF gives each traced function."""
    found, todo = [], [computation.to_building_block().proto]
    while todo:
        message = todo.pop(0)
        if isinstance(message, computation_pb2.TensorFlow):
            graph = tf.compat.v1.GraphDef()
            message.graph_def.Unpack(graph)
            functions = sorted(re.sub(r"\d+", "0", str(f)) for f in graph.library.function)  # order free of the numbers
            graph.ClearField("library")
            found.append(re.sub(r"\d+", "0", str(graph)) + "".join(functions))
            continue
        for field, value in message.ListFields():
            if field.message_type is not None:
                todo.extend(value if field.label == field.LABEL_REPEATED else [value])
    return found


def test_autograph_calls_the_listed_libraries_as_written_and_traces_the_same_computations(monkeypatch):
    from tensorflow.python.autograph.core import config
    from tensorflow.python.autograph.impl import conversion
    from tensorflow.python.autograph.pyct import cache
    from tensorflow_federated.python.learning import tensor_utils
    from tensorflow_federated.python.learning.models import keras_utils

    from fedkit import algorithms
    from fedkit.compression import encoders

    assert conversion.is_allowlisted(keras_utils.from_keras_model)
    assert conversion.is_allowlisted(encoders.te.stages.UniformQuantizationEncodingStage.encode)
    assert not conversion.is_allowlisted(tensor_utils.zero_all_if_any_non_finite)  # branches on a tensor
    assert not conversion.is_allowlisted(algorithms.build_fedavg)  # fedkit's code, like a learner's, is rewritten

    def graphs() -> list[str]:
        """The TF graphs of a FedAvg round, which runs code from each listed TFF library."""
        tf.keras.utils.set_random_seed(0)
        return tf_graphs(algorithms.build_fedavg("dense", client_lr=0.1).next)

    as_written = graphs()
    listed = [r for r in config.CONVERSION_RULES if any(r.matches(p) for p in workers.AUTOGRAPH_AS_WRITTEN)]
    assert len(listed) == len(workers.AUTOGRAPH_AS_WRITTEN)
    monkeypatch.setattr(config, "CONVERSION_RULES", tuple(r for r in config.CONVERSION_RULES if r not in listed))
    monkeypatch.setattr(conversion, "_ALLOWLIST_CACHE", cache.UnboundInstanceCache())
    assert not conversion.is_allowlisted(keras_utils.from_keras_model)
    assert graphs() == as_written


def test_release_worker_stops_the_worker_and_the_next_computation_starts_a_fresh_one():
    import tensorflow_federated as tff

    context = tff.framework.get_context_stack().current  # the session's LocalContext (conftest)

    @tff.tensorflow.computation
    def one():
        return 1

    assert one() == 1
    first = context.worker
    assert first.alive()
    workers.release_worker()
    assert not first.alive() and context.worker is None
    assert one() == 1  # a fresh worker, left running for the tests after this one
    assert context.worker is not first and context.worker.alive()
