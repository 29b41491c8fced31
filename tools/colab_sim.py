"""A Colab 2025.07 look-alike: Colab's preinstalled packages in a venv, fedkit installed over them by the setup cell.

    python tools/colab_sim.py pins FREEZE   rewrite tests/fixtures/colab-2025.07-pins.txt from Colab's pip-freeze.txt
    python tools/colab_sim.py build         (re)build .venv-colab/ and register its kernel `fedkit-colab-sim`
    python tools/colab_sim.py run NB...     build, then check notebooks with nbval in that kernel

The build installs the fixture's pins (Colab's versions of TensorFlow 2.18, Keras 3.8, numpy 2.0.2, ...,
and its Jupyter side: ipykernel 6.17.1, IPython 7.34, ...), then runs the setup cell's own pip arguments
(`fedkit.runtime.colab.pip_install_args`) with uv, the local checkout standing in for the clone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fedkit.common.env import ENV_DEFAULTS  # noqa: E402
from fedkit.runtime.colab import REQUIREMENTS, normalize, pip_install_args  # noqa: E402

VENV = ROOT / ".venv-colab"
PINS = ROOT / "tests" / "fixtures" / "colab-2025.07-pins.txt"
KERNEL = "fedkit-colab-sim"
SOURCE = (
    "# Colab runtime 2025.07's preinstalled packages that matter to fedkit, and their dependencies, at Colab's\n"
    "# versions. Source: Colab's googlecolab/backend-info repository, file pip-freeze.txt, commit\n"
    "# ef1cba030a9f7a39bf42912a42f6462d6d4908e8 (Python 3.11.13). Written by `python tools/colab_sim.py pins FREEZE`.\n"
)
# What the simulation must hold at Colab's versions: what TF 2.14 / TFF replace, and Colab's kernel side.
SIM_ROOTS = """tensorflow keras tf-keras numpy scipy ml-dtypes protobuf jax jaxlib typing-extensions ipykernel ipython
jupyter-client jupyter-core tornado traitlets pyzmq matplotlib matplotlib-inline pandas""".split()
# Not part of a clone: the venvs, git's folder, caches and run outputs (top level), byte code (anywhere).
TOP_SKIP = shutil.ignore_patterns(".git", ".venv*", "outputs", "data", "build", "*.egg-info", ".*_cache")
ANY_SKIP = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")


def not_in_a_clone(folder: str, names: list[str]) -> set[str]:
    """copytree's ignore function for a copy of the working tree as a clone would have it."""
    return ANY_SKIP(folder, names) | (TOP_SKIP(folder, names) if Path(folder) == ROOT else set())


PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s#;]+)", re.M)


def uv() -> str:
    """The uv of the kit's venv (pinned by the lock), else one on the PATH."""
    local = ROOT / ".venv" / "bin" / "uv"
    return str(local) if local.exists() else shutil.which("uv") or sys.exit("colab_sim needs uv: run `make setup`.")


def write_pins(freeze: Path) -> None:
    """Resolve SIM_ROOTS plus the packages requirements-colab.txt replaces, at Colab's versions, into the fixture."""
    colab = {normalize(n): v for n, v in PIN.findall(freeze.read_text())}
    ours = {normalize(n) for n, _ in PIN.findall((ROOT / REQUIREMENTS).read_text())}
    wanted = sorted(({normalize(r) for r in SIM_ROOTS} | ours) & colab.keys())
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "in.txt").write_text("".join(f"{n}=={colab[n]}\n" for n in wanted))
        (Path(tmp) / "colab.txt").write_text("".join(f"{n}=={v}\n" for n, v in colab.items()))
        out = subprocess.run(
            [
                uv(),
                "pip",
                "compile",
                f"{tmp}/in.txt",
                "--constraint",
                f"{tmp}/colab.txt",
                "--python-version",
                "3.11",
                "--python-platform",
                "x86_64-manylinux_2_31",
                "--no-header",
                "--no-annotate",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    resolved = PIN.findall(out)
    strays = [f"{n}=={v}" for n, v in resolved if colab.get(normalize(n), v) != v]
    if strays:
        sys.exit(f"resolved versions differ from Colab's: {strays}")
    absent = [f"{n}=={v}" for n, v in resolved if normalize(n) not in colab]
    note = f"# Not in Colab's list but needed by what is (resolved by uv): {', '.join(absent)}\n" if absent else ""
    PINS.write_text(SOURCE + note + "".join(f"{n}=={v}\n" for n, v in resolved))
    print(f"Wrote {PINS.relative_to(ROOT)}: {len(resolved)} pins")


def run(cmd: list[str], **kwargs) -> None:
    """Run `cmd`, echoing it, and stop on failure."""
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kwargs)


def build() -> None:
    """A fresh .venv-colab: Colab's packages, then the setup cell's installs, then its kernel spec."""
    start = time.monotonic()
    shutil.rmtree(VENV, ignore_errors=True)
    python = subprocess.run([str(ROOT / "tools" / "find_python.sh")], capture_output=True, text=True)
    if python.returncode:
        sys.exit(python.stderr.strip())
    run([uv(), "venv", "--quiet", "--python", python.stdout.strip(), str(VENV)])
    target = str(VENV / "bin" / "python")
    run([uv(), "pip", "install", "--quiet", "--python", target, "--no-deps", "--compile-bytecode", "-r", str(PINS)])
    # The setup cell runs `python -m pip <args>` on its clone; here uv runs the same arguments on a copy of
    # the working tree (a build writes build/ and *.egg-info into the folder it builds).
    with tempfile.TemporaryDirectory(prefix="fedkit-colab-src-") as tmp:
        checkout = Path(tmp) / "fedkit"
        shutil.copytree(ROOT, checkout, ignore=not_in_a_clone)
        for args in pip_install_args(str(checkout)):
            run([uv(), "pip", *args[:1], "--python", target, "--compile-bytecode", *args[1:]])  # as pip does
    verify(target)
    run(
        [
            target,
            "-Xfrozen_modules=off",
            "-m",
            "ipykernel",
            "install",
            "--prefix",
            str(VENV),
            "--name",
            KERNEL,
            "--display-name",
            "Python 3.11 (Colab 2025.07 simulation)",
        ]
    )
    # The setup cell sets fedkit's environment defaults in Colab (TF's C++ logging silenced) before the notebook
    # imports TensorFlow; the simulation's kernel does not run that branch (it is not Colab), so its kernel spec does.
    spec = VENV / "share" / "jupyter" / "kernels" / KERNEL / "kernel.json"
    text = spec.read_text().rstrip().removesuffix("}")
    spec.write_text(text.rstrip() + f',\n "env": {json.dumps(ENV_DEFAULTS)}\n}}\n')
    print(f"Built {VENV.relative_to(ROOT)} in {time.monotonic() - start:.0f} s")


def verify(python: str) -> None:
    """Stop unless the venv holds the kit's pins where it has them, and Colab's versions everywhere else."""
    ours = {normalize(n): v for n, v in PIN.findall((ROOT / REQUIREMENTS).read_text())}
    colab = {normalize(n): v for n, v in PIN.findall(PINS.read_text())}
    freeze = subprocess.run([uv(), "pip", "freeze", "--python", python], capture_output=True, text=True, check=True)
    installed = {normalize(n): v for n, v in PIN.findall(freeze.stdout)}
    wrong = {n: (installed.get(n), v) for n, v in (colab | ours).items() if installed.get(n) != v}
    if wrong:
        sys.exit(f"{VENV.name}: installed versions differ from the expected ones (installed, expected): {wrong}")
    kept = len(colab.keys() - ours.keys())
    print(
        f"{VENV.name}: {len(ours)} packages at the kit's pins, {kept} more at Colab's versions (ipykernel "
        f"{installed['ipykernel']}, IPython {installed['ipython']}, tornado {installed['tornado']})"
    )


def check(notebooks: list[str]) -> int:
    """nbval over `notebooks`, driven from this Python, in the simulation's kernel; outputs go to a tmp FEDKIT_HOME."""
    with tempfile.TemporaryDirectory(prefix="fedkit-colab-sim-") as home:
        env = dict(os.environ, JUPYTER_PATH=str(VENV / "share" / "jupyter"), FEDKIT_HOME=home)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "--nbval",
            *notebooks,
            f"--nbval-kernel-name={KERNEL}",
            "--nbval-sanitize-with=tests/nbval_sanitize.cfg",
            "--nbval-cell-timeout=1800",
            "-q",
        ]
        print("+", " ".join(cmd), flush=True)
        return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main(argv: list[str]) -> int:
    if argv[:1] == ["pins"] and len(argv) == 2:
        write_pins(Path(argv[1]))
    elif argv == ["build"]:
        build()
    elif argv[:1] == ["run"] and len(argv) > 1:
        build()
        return check(argv[1:])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
