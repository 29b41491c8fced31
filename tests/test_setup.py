"""`make setup` on machines without Python 3.11: one clear line and nothing half-built that a rerun trusts."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

ADVICE = (
    "fedkit needs Python 3.11 (TFF 0.87 supports 3.9-3.11 on Linux x86_64): install python3.11 "
    "(apt, pyenv, or `uv python install 3.11`) and run `make setup` again."
)
TOOLS = ["make", "bash", "env", "rm", "touch", "mkdir", "cat", "grep", "sed", "dirname", "ls"]


def uv_binary() -> str:
    """The lock's uv, installed in the kit's venv."""
    return str(Path(sys.executable).with_name("uv"))


@pytest.fixture
def checkout(tmp_path):
    """A copy of the files `make setup` uses, outside the real checkout."""
    repo = tmp_path / "repo"
    repo.mkdir()
    for name in ["Makefile", "requirements.txt", "pyproject.toml"]:
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / "tools", repo / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    return repo


def bare_env(tmp_path, extra_bin: dict[str, str]) -> dict[str, str]:
    """An environment whose PATH holds only the basic tools, uv (offline, no managed Pythons) and `extra_bin`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in TOOLS:
        os.symlink(shutil.which(tool), bin_dir / tool)
    os.symlink(uv_binary(), bin_dir / "uv")
    for name, target in extra_bin.items():
        os.symlink(target, bin_dir / name)
    (tmp_path / "pythons").mkdir()
    return {
        "PATH": str(bin_dir),
        "HOME": str(tmp_path),
        "UV_OFFLINE": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_PYTHON_INSTALL_DIR": str(tmp_path / "pythons"),
        "UV_NO_CONFIG": "1",
        "PIP_NO_INDEX": "1",
    }


def make_setup(repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "setup"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def test_without_python_311_setup_says_what_to_install(checkout, tmp_path):
    env = bare_env(tmp_path, {})
    done = make_setup(checkout, env)
    assert done.returncode != 0
    assert ADVICE in done.stderr.splitlines(), done.stderr
    assert not (checkout / ".venv").exists()
    # The same line from uv's side: it has no Python 3.11 here either.
    assert subprocess.run(["uv", "python", "find", "3.11"], cwd=checkout, env=env, capture_output=True).returncode != 0


def test_a_failed_setup_leaves_no_venv_behind(checkout, tmp_path):
    python = subprocess.run([str(ROOT / "tools" / "find_python.sh")], capture_output=True, text=True, check=True)
    # A lock whose uv pin cannot be installed offline: setup fails after creating the venv.
    lock = (checkout / "requirements.txt").read_text()
    (checkout / "requirements.txt").write_text(lock.replace("\nuv==", "\nuv==0.0.0.dev0  # was "))
    env = bare_env(tmp_path, {"python3.11": python.stdout.strip()})
    done = make_setup(checkout, env)
    assert done.returncode != 0
    assert "removed the partial .venv" in done.stderr
    assert not (checkout / ".venv").exists()
