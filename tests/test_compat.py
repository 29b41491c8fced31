"""fedkit._compat: each workaround removes its symptom, and the symptom is still there without it (so the workaround
is still needed on the pinned versions); on other versions the workarounds warn once and apply nothing.

One probe script runs twice in fresh interpreters: with fedkit as it is ("installed", inheriting this environment, so
`FEDKIT_COMPAT_SKIP=<name> pytest tests/test_compat.py` makes the test of `<name>` fail) and with every workaround
left out ("skipped"). It prints one JSON report; its output goes to files, not pipes (TFF's worker would keep a pipe
open).
"""

import ast
import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import ROOT, run_python
from test_runtime import pid_alive, wait_gone

from fedkit import _compat
from fedkit._compat import versions

WORKAROUNDS = (
    "tff_import_hook",
    "tff_default_context",
    "grpc_fail_fast",
    "autograph_sources_unlinked",
    "autograph_calls_as_written",
    "autograph_builtins_kept",
    "quiet_bitpacking_warning",
)
GUARDED = [name for name in WORKAROUNDS if name != "tff_import_hook"]  # the hook uses only importlib's public API
DEAD_WORKER_WAIT = 5  # seconds; with the workaround the error comes at once

PROBE = """
import builtins, glob, json, logging, os, socket, sys, tempfile, threading, time


class Probe:
    def method(self):
        pass


# As ipykernel's `input` in a kernel: in builtins when TensorFlow is imported, dropped later.
builtins.fedkit_probe = Probe().method
import fedkit
import numpy as np
import tensorflow as tf
import tensorflow_federated as tff  # after fedkit: its import hook sets up fedkit's runtime

report = {
    "runtime_set_up": "fedkit.runtime.workers" in sys.modules,
    "context_after_tff_import": type(tff.framework.get_context_stack().current).__name__,
}
from fedkit.runtime import workers  # installs fedkit._compat (a second time: idempotent)

report["context"] = type(tff.framework.get_context_stack().current).__name__
comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))
assert comp([1, 2, 3]) == 6
import psutil

report["worker_pids"] = [p.pid for p in psutil.Process().children(recursive=True) if "worker_binary" in p.name()]

from tensorflow.python.autograph.pyct import inspect_utils

probe = Probe()
del builtins.fedkit_probe  # its memory is free for the next object of its size, unless fedkit keeps it
methods = [probe.method for _ in range(100_000)]
report["methods_taken_for_builtins"] = sum(map(inspect_utils.isbuiltin, methods))
del methods


@tf.function
def countdown(x):
    while x > 0:  # AutoGraph rewrites this function into a generated source file
        x -= 1
    return x


assert int(countdown(tf.constant(3))) == 0
report["autograph_files"] = len(glob.glob(os.path.join(tempfile.gettempdir(), "__autograph_generated_file*")))

from tensorflow.python.autograph.impl import conversion
from tensorflow_federated.python.learning.models import keras_utils

report["keras_utils_as_written"] = conversion.is_allowlisted(keras_utils.from_keras_model)

logged = []
handler = logging.Handler()
handler.emit = lambda record: logged.append(record.getMessage())
logging.getLogger().addHandler(handler)
from tensorflow_model_optimization.python.core.internal.tensor_encoding.utils import tf_utils

tf_utils.pack_into_int(tf.constant([1, 2, 3]), 4, 28)  # as a 4-bit encoder's bitpacking stage does
report["bitpacking_warnings"] = sum("can temporarily allocate extra memory" in m for m in logged)

with socket.socket() as s:  # a port nothing listens on: a worker that died
    s.bind(("127.0.0.1", 0))
    dead = f"localhost:{s.getsockname()[1]}"
outcome = []


def call():  # TFF's context stack is per thread: this thread sets its own
    workers.set_multi_worker_context([dead])
    try:
        comp([1, 2])
    except Exception as e:
        outcome.append(type(e).__name__)


thread = threading.Thread(target=call, daemon=True)
thread.start()
thread.join(WAIT)
report["dead_worker"] = outcome[0] if outcome else "no answer"
print(json.dumps(report), flush=True)
os._exit(0)  # no atexit: a worker that outlives its Python shows
"""


def kill_leftover_workers(pids: list[int]) -> None:
    """SIGKILL those of `pids` that are still a `worker_binary` (the orphans the probe left)."""
    for pid in pids:
        try:
            if pid_alive(pid) and b"worker_binary" in Path(f"/proc/{pid}/cmdline").read_bytes():
                os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


def run_probe(tmp: Path, env: dict[str, str]) -> dict:
    """The probe's report, run as a script (AutoGraph reads a function's source from its file) with TMPDIR in `tmp`."""
    script, temp, out, err = tmp / "probe.py", tmp / "tmp", tmp / "stdout", tmp / "stderr"
    script.write_text(f"WAIT = {DEAD_WORKER_WAIT}\n" + PROBE)
    temp.mkdir()
    with out.open("w") as stdout, err.open("w") as stderr:
        result = subprocess.run(
            [sys.executable, str(script)],
            stdout=stdout,
            stderr=stderr,
            timeout=600,
            cwd=ROOT,
            env={**env, "TMPDIR": str(temp)},
        )
    assert result.returncode == 0, err.read_text()[-3000:]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The probe's report with fedkit as it is."""
    report = run_probe(tmp_path_factory.mktemp("installed"), dict(os.environ))
    yield report
    kill_leftover_workers(report["worker_pids"])


@pytest.fixture(scope="module")
def skipped(tmp_path_factory):
    """The probe's report with every workaround left out (`FEDKIT_COMPAT_SKIP`)."""
    report = run_probe(tmp_path_factory.mktemp("skipped"), {**os.environ, versions.SKIP_ENV: ",".join(WORKAROUNDS)})
    yield report
    kill_leftover_workers(report["worker_pids"])


def test_tff_imported_after_fedkit_sets_up_fedkits_runtime(installed, skipped):
    assert installed["runtime_set_up"] and installed["context_after_tff_import"] == "LocalContext"
    assert not skipped["runtime_set_up"] and skipped["context_after_tff_import"] == "SyncExecutionContext"


def test_tffs_own_default_context_is_replaced_since_its_worker_outlives_python(installed, skipped):
    assert installed["context"] == "LocalContext"
    assert installed["worker_pids"] and all(wait_gone(pid) for pid in installed["worker_pids"])
    # Still needed: TFF's own context's worker is orphaned when its Python ends (here without atexit, as when killed).
    assert skipped["context"] == "SyncExecutionContext"
    assert skipped["worker_pids"] and all(pid_alive(pid) for pid in skipped["worker_pids"])


def test_a_dead_worker_is_an_error_at_once_not_an_endless_retry(installed, skipped):
    assert installed["dead_worker"] == "WorkerUnavailableError"
    assert skipped["dead_worker"] == "no answer"  # TFF retries UNAVAILABLE with no limit


def test_autograph_sources_are_unlinked_once_loaded(installed, skipped):
    assert installed["autograph_files"] == 0
    assert skipped["autograph_files"] == 1  # left in the temp folder until a normal exit; a killed process keeps it


def test_autograph_calls_the_listed_libraries_as_written(installed, skipped):
    assert installed["keras_utils_as_written"] is True
    assert skipped["keras_utils_as_written"] is False


def test_autograph_takes_no_later_object_for_a_builtin(installed, skipped):
    assert installed["methods_taken_for_builtins"] == 0
    # Still needed: a bound method allocated where a dropped value of `builtins` was is taken for a built-in.
    assert skipped["methods_taken_for_builtins"] >= 1


def test_the_bitpacking_memory_warning_is_dropped(installed, skipped):
    assert installed["bitpacking_warnings"] == 0
    assert skipped["bitpacking_warnings"] == 1


GUARD_PROBE = """
import json, logging, warnings
import fedkit
from fedkit._compat import versions

for name in versions.WRITTEN_FOR:
    versions.WRITTEN_FOR[name] = "0.0.1"
import tensorflow as tf
from tensorflow.python.autograph.core import config
from tensorflow.python.autograph.pyct import inspect_utils, loader

before = config.CONVERSION_RULES, inspect_utils._BUILTIN_FUNCTION_IDS, loader.load_source
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import tensorflow_federated as tff  # the import hook installs fedkit._compat
    from fedkit import _compat
    from fedkit.runtime import workers

    _compat.install(default_context=workers.LocalContext)  # again: no second warning
after = config.CONVERSION_RULES, inspect_utils._BUILTIN_FUNCTION_IDS, loader.load_source
print(json.dumps({
    "warnings": sorted(str(w.message) for w in caught if issubclass(w.category, _compat.CompatWarning)),
    "autograph_unchanged": [a is b for a, b in zip(before, after)],
    "root_filters": [type(f).__name__ for f in logging.getLogger().filters],
    "context": type(tff.framework.get_context_stack().current).__name__,
    "stub_unwrapped": workers._FailFastStub.get_executor is tff.framework.RemoteExecutorGrpcStub.get_executor,
}))
"""


def test_on_other_versions_install_warns_once_per_workaround_and_applies_nothing():
    result = run_python(GUARD_PROBE, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.splitlines()[-1])
    assert len(report["warnings"]) == len(GUARDED), report["warnings"]
    for name, message in zip(sorted(GUARDED), report["warnings"], strict=True):
        assert message.startswith(f"fedkit: {name} written for ") and message.endswith("; not applied"), message
    assert "tensorflow-federated 0.0.1, found 0.87.0" in " ".join(report["warnings"])
    assert report["autograph_unchanged"] == [True, True, True]
    assert report["root_filters"] == []
    assert report["context"] == "SyncExecutionContext"  # TFF's own, left alone
    assert report["stub_unwrapped"] is True


def test_guard_warns_once_and_a_skipped_workaround_stays_silent(monkeypatch):
    monkeypatch.setitem(versions.WRITTEN_FOR, "tensorflow-federated", "0.86.0")
    monkeypatch.setattr(versions, "_warned", set())
    with pytest.warns(_compat.CompatWarning, match=r"^fedkit: probe written for tensorflow-federated 0\.86\.0, found "):
        assert versions.applies("probe", "tensorflow-federated") is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert versions.applies("probe", "tensorflow-federated") is False  # warned once only
        assert versions.applies("probe", "tensorflow") is True
        monkeypatch.setenv(versions.SKIP_ENV, "other, probe")
        assert versions.applies("probe", "tensorflow") is False  # skipped on purpose: no warning


@pytest.mark.parametrize(
    "found, pinned, ok",
    [("2.14.1", "2.14.*", True), ("2.14", "2.14.*", False), ("2.15.0", "2.14.*", False), ("0.87.0", "0.87.0", True)]
    + [("0.87.01", "0.87.0", False), (None, "0.87.0", False)],
)
def test_version_match(found, pinned, ok):
    assert versions.matches(found, pinned) is ok


def test_the_versions_written_for_are_the_locked_ones():
    # Moving a pin in requirements.txt fails this until each workaround is checked on the new version.
    locked = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        name, _, version = line.split("#")[0].strip().partition("==")
        locked[name] = version
    for distribution, pinned in versions.WRITTEN_FOR.items():
        assert versions.matches(locked.get(distribution), pinned), (distribution, locked.get(distribution), pinned)


# Imported names that are TF, TFF, tfmot or gRPC (a module, or a name from one).
UPSTREAM = ("tensorflow", "tensorflow_federated", "tensorflow_model_optimization", "grpc")


def private(name: object) -> bool:
    """Whether `name` is a private attribute's: `_name`, not `__name__`."""
    return isinstance(name, str) and name.startswith("_") and not name.startswith("__")


def private_uses(source: str) -> list[str]:
    """Where `source` reaches a private attribute of TF, TFF, tfmot or gRPC (`x._name` on a name imported from them, or
    any `getattr(x, "_name")`), or imports AutoGraph's internals: `line: code` for each."""
    tree = ast.parse(source)
    upstream, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            upstream |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] in UPSTREAM}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UPSTREAM:
            upstream |= {a.asname or a.name for a in node.names}
            if (node.module or "").startswith("tensorflow.python.autograph"):
                found.append(f"{node.lineno}: from {node.module} import ...")
    for node in ast.walk(tree):
        if (  # getattr(x, "_name"), hasattr, setattr: fedkit's own code has no need of these
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "hasattr", "setattr")
            and any(isinstance(a, ast.Constant) and private(a.value) for a in node.args[1:2])
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Attribute) and private(node.attr):
            root = node.value
            while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
                root = root.func if isinstance(root, ast.Call) else root.value
            if isinstance(root, ast.Name) and root.id in upstream:
                found.append(f"{node.lineno}: {ast.unparse(node)}")
    return sorted(found, key=lambda use: int(use.partition(":")[0]))


def test_only_compat_touches_private_attributes_of_tf_tff_autograph_and_grpc():
    outside = [p for p in (ROOT / "fedkit").rglob("*.py") if "_compat" not in p.parts and "__pycache__" not in p.parts]
    found = {str(p.relative_to(ROOT)): uses for p in outside if (uses := private_uses(p.read_text()))}
    assert found == {}


def test_the_private_use_finder_finds_them():
    source = (
        "import tensorflow_federated as tff\nfrom tensorflow.python.autograph.pyct import inspect_utils\n"
        "stack = tff.framework.get_context_stack()._stack[0]\ninspect_utils._BUILTIN_FUNCTION_IDS = frozenset()\n"
        "self._x = tff.framework.SyncContext.__name__\nfn = getattr(stack, '_executor_stack_fn', None)\n"
    )
    assert private_uses(source) == [
        "2: from tensorflow.python.autograph.pyct import ...",
        "3: tff.framework.get_context_stack()._stack",
        "4: inspect_utils._BUILTIN_FUNCTION_IDS",
        "6: getattr(stack, '_executor_stack_fn', None)",
    ]
