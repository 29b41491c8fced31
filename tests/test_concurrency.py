"""Several fedkit processes at once (60 learners on one server): workers never collide, nothing is left."""

import subprocess
import sys
import time

import pytest
from conftest import ROOT
from test_runtime import wait_gone

START_TOGETHER = """
import os, sys, time, numpy as np, tensorflow_federated as tff
from fedkit import runtime
go = sys.argv[1]
while not os.path.exists(go):  # TensorFlow is imported: now start the workers at the same moment
    time.sleep(0.01)
worker = runtime.set_local_context()
comp = tff.federated_computation(lambda x: tff.federated_sum(x), tff.FederatedType(np.int32, tff.CLIENTS))
assert comp([1, 2, 3, int(sys.argv[2])]) == 6 + int(sys.argv[2])
print(worker.process.pid, worker.port, flush=True)
"""


def test_four_processes_start_workers_at_once(tmp_path):
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", START_TOGETHER, str(go), str(i)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(4)
    ]
    time.sleep(2)
    go.touch()
    outputs = [p.communicate(timeout=1800) for p in procs]
    for proc, (_, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stderr
    workers = [tuple(map(int, out.split())) for out, _ in outputs]
    assert len({port for _, port in workers}) == 4
    for pid, _ in workers:
        assert wait_gone(pid), f"worker_binary {pid} outlived its process"


NOTEBOOKS = ["01_hello_world", "04_tff_learning_models", "08_compression"]


@pytest.mark.slow
def test_three_notebooks_at_once_match_their_stored_outputs():
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "--nbval",
                f"notebooks/{name}.ipynb",
                "--nbval-kernel-name=fedkit",
                "--nbval-sanitize-with=tests/nbval_sanitize.cfg",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        for name in NOTEBOOKS
    ]
    outputs = [p.communicate(timeout=1800)[0] for p in procs]
    for name, proc, out in zip(NOTEBOOKS, procs, outputs, strict=True):
        assert proc.returncode == 0, f"{name}:\n{out[-3000:]}"
