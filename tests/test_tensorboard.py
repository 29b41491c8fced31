"""TensorBoard reads the logs `fedkit.experiments.TensorBoard` writes: both runs, the four scalar tags, the bits."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from fedkit import algorithms, experiments

TAGS = {"loss", "accuracy", "cumulative_broadcasted_bits", "cumulative_aggregated_bits"}
RUNS = ("original", "compressed")


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


@pytest.fixture
def tensorboard(tmp_path):
    """Yield a function that starts TensorBoard on `logdir` and returns its URL; stop it afterwards."""
    if importlib.util.find_spec("pkg_resources") is None:
        pytest.fail(
            "TensorBoard 2.14 imports pkg_resources, which setuptools >= 81 no longer ships: "
            "pin setuptools<81 in requirements.in and run `make lock`."
        )
    processes = []

    def start(logdir) -> str:
        log_path = tmp_path / "tensorboard.log"
        # Port 0: the server binds a free port itself and prints its URL. --load_fast=false: no Rust
        # data-server child, so stopping this one process stops everything.
        command = [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(logdir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--load_fast",
            "false",
            "--reload_interval",
            "1",
        ]
        with open(log_path, "wb") as log:
            processes.append(
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                )
            )
        deadline = time.monotonic() + 600  # importing TensorFlow takes minutes on a busy machine
        while time.monotonic() < deadline and processes[-1].poll() is None:
            match = re.search(r"http://127\.0\.0\.1:\d+", log_path.read_text(errors="replace"))
            if match:
                return match.group(0)
            time.sleep(0.5)
        raise AssertionError(f"TensorBoard did not start: {log_path.read_text(errors='replace')[-2000:]}")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.poll() is not None


def wait_for_runs(url: str, runs, timeout: float = 300) -> list[str]:
    """TensorBoard's run list once it holds `runs` (it loads logs in the background)."""
    deadline, found = time.monotonic() + timeout, []
    while time.monotonic() < deadline:
        try:
            found = get_json(f"{url}/data/runs")
            if set(runs) <= set(found):
                return found
        except (urllib.error.URLError, ConnectionError):
            pass  # not listening yet
        time.sleep(1)
    raise AssertionError(f"TensorBoard at {url} listed {found} after {timeout:.0f} s, not {list(runs)}")


def test_tensorboard_shows_both_runs_and_the_bits(tmp_path, emnist, tensorboard):
    train, _ = emnist
    # The compressed run quantizes the upload to 8 bits (threshold 0: the dense model's 7,850 weights are
    # under the default threshold), so its aggregated bits must differ from the original's.
    processes = {
        "original": algorithms.build_fedavg("dense", client_lr=0.1),
        "compressed": algorithms.build_fedavg("dense", client_lr=0.1, aggregate="uniform:8", threshold=0),
    }
    histories = {}
    for name in RUNS:
        config = experiments.RoundsConfig(rounds=2, clients_per_round=2, flat=True)
        logs = experiments.TensorBoard(tmp_path / "logs" / name)
        _, histories[name] = experiments.train(processes[name], train, config, [logs])
    url = tensorboard(tmp_path / "logs")
    assert set(wait_for_runs(url, RUNS)) == set(RUNS)
    tags = get_json(f"{url}/data/plugin/scalars/tags")
    for name in RUNS:
        assert set(tags[name]) == TAGS, tags[name]
        points = get_json(f"{url}/data/plugin/scalars/scalars?run={name}&tag=cumulative_broadcasted_bits")
        steps = [step for _, step, _ in points]
        values = [value for _, _, value in points]
        assert steps == [1, 2]
        # Stored as float32 scalars: the same bits as the run's history, to float32 precision.
        np.testing.assert_allclose(values, histories[name].column("cumulative_broadcast_bits"), rtol=1e-7)
        points = get_json(f"{url}/data/plugin/scalars/scalars?run={name}&tag=cumulative_aggregated_bits")
        np.testing.assert_allclose(
            [value for _, _, value in points], histories[name].column("cumulative_aggregate_bits"), rtol=1e-7
        )
    uploaded = {name: histories[name].column("cumulative_aggregate_bits")[-1] for name in RUNS}
    assert uploaded["compressed"] < uploaded["original"] / 3, uploaded
