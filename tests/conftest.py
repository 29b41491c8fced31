"""Shared fixtures: one fedkit-owned TFF context per test session, and a sample cache."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
# Property tests: no example database in the repository (as -p no:cacheprovider), no per-example deadline (a loaded
# machine makes deadlines flaky); a failure prints the blob that replays it.
settings.register_profile("fedkit", database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fedkit"))


@pytest.fixture(scope="session", autouse=True)
def tff_context():
    """A local TFF worker for the session, stopped at its end."""
    from fedkit import runtime

    worker = runtime.set_local_context()
    yield worker
    runtime.shutdown()


@pytest.fixture(scope="session")
def sample_cache(tmp_path_factory) -> Path:
    """A cache folder holding the FEMNIST sample as TFF's emnist_all.sqlite."""
    from fedkit import data

    cache = tmp_path_factory.mktemp("cache")
    data.load_emnist(cache_dir=cache, source="sample", verbose=False)
    return cache


@pytest.fixture(scope="session")
def emnist(sample_cache):
    from fedkit import data

    return data.load_emnist(cache_dir=sample_cache, verbose=False)


def write_npz(path: Path, **overrides) -> Path:
    """A small npz in the FEMNIST sample's schema: 3 writers, digits and letters, train and test."""
    rng = np.random.default_rng(0)
    client_id = np.array(["w1"] * 6 + ["w2"] * 4 + ["w3"] * 1)
    label = np.array([0, 1, 2, 11, 3, 40, 5, 6, 7, 8, 9], np.uint8)
    split = np.array(["train", "train", "test", "train", "test", "test", "train", "train", "test", "test", "train"])
    arrays = {
        "pixels": rng.integers(0, 256, (len(label), 28, 28), dtype=np.uint8),
        "label": label,
        "client_id": client_id,
        "split": split,
    }
    arrays.update(overrides)
    np.savez_compressed(path, **arrays)
    return path


def run_python(code: str, timeout: float = 180, **kwargs) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter of this environment, capturing its output."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs
    )
