"""The kit's install files: a full lock, a conda file that agrees with it, and a CI that runs the README's tests."""

import re
import subprocess
import sys

from conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", re.M)
# TFF 0.87.0's own pins that the lock overrides (see overrides.txt); nothing else may conflict.
OVERRIDDEN = {"jax", "jaxlib", "typing-extensions"}


def pins(text):
    """{normalized name: version} of the `name==version` lines in `text`."""
    return {re.sub(r"[-_.]+", "-", name).lower(): version for name, version in PIN.findall(text)}


def test_requirements_is_a_full_lock():
    lines = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert lines and all(PIN.match(line) for line in lines), "every requirement must be pinned with =="
    locked = pins((ROOT / "requirements.txt").read_text())
    assert locked["tensorflow-federated"] == "0.87.0" and locked["tensorflow"].startswith("2.14.")
    assert locked["tensorflow-model-optimization"] == "0.7.5"
    assert (locked["jax"], locked["jaxlib"], locked["typing-extensions"]) == ("0.4.13", "0.4.13", "4.12.2")


def test_environment_yml_agrees_with_the_lock():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^\s+- python=3\.11$", text, re.M)
    in_conda, locked = pins(re.sub(r"^\s+- ", "", text, flags=re.M)), pins((ROOT / "requirements.txt").read_text())
    assert {k: v for k, v in locked.items() if k != "tensorflow-federated"} == in_conda
    assert "--no-deps tensorflow-federated==0.87.0" in text


def test_installed_environment_matches_the_lock():
    freeze = subprocess.run(
        [sys.executable, "-m", "pip", "freeze", "--all", "--exclude-editable"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    locked, installed = pins((ROOT / "requirements.txt").read_text()), pins(freeze)
    assert {name: installed.get(name) for name in locked} == locked


def test_only_tffs_overridden_pins_conflict():
    check = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True).stdout
    conflicts = re.findall(r"^(\S+) [\d.]+ has requirement ([A-Za-z0-9_.\-]+)", check, re.M)
    assert conflicts and {who for who, _ in conflicts} == {"tensorflow-federated"}
    assert {what.lower() for _, what in conflicts} == OVERRIDDEN


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*(?:#.*)?$", readme, re.M)
    assert "make test" in commands and "make run" in commands
    assert re.search(r"^\s*make test\b", ci, re.M)


def test_jupyter_lab_starts():
    # The README's way to open the notebooks: jupyterlab must import with the lock's packaging.
    lab = subprocess.run([sys.executable, "-m", "jupyterlab", "--version"], capture_output=True, text=True)
    assert lab.returncode == 0, lab.stderr[-500:]
