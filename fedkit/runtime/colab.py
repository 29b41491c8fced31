"""Running the notebooks in Google Colab: the repository's address, the badge, and the setup cell.

Importable without TensorFlow. The setup cell that `setup_cell_source` returns is pasted into every
notebook by `tools/colab_cells.py` and must stand alone: when it runs in Colab, fedkit is not
installed yet. Outside Colab it does nothing and prints nothing, so nbval sees no output.
"""

from __future__ import annotations

import json
import re

from fedkit import __version__
from fedkit.common.env import ENV_DEFAULTS

# The one place that names the repository (set it to the real one): the badge and the setup cell follow it.
REPO_URL = "https://github.com/fedkit-org/fedkit"
BRANCH = "main"
TFF_VERSION = "0.87.0"
PYTHON = (3, 11)
COLAB_RUNTIME = "2025.07"
REQUIREMENTS = "requirements-colab.txt"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
# Colab shows a cell whose first line is `#@title` (and whose metadata says cellView "form") by its title alone.
SETUP_MARKER = "#@title Colab setup: run this first (generated from fedkit/runtime/colab.py by tools/colab_cells.py)"

# Colab's own Jupyter and tooling side: installing other versions of these breaks its kernel, and
# requirements-colab.txt never pins them (TF, TFF and their science dependencies are what it pins).
JUPYTER_SIDE = frozenset(
    """anyio argon2-cffi argon2-cffi-bindings async-lru babel comm coverage debugpy ipykernel ipython
    ipython-pygments-lexers iniconfig jedi jupyter-client jupyter-core jupyter-events jupyter-lsp jupyter-server
    jupyter-server-terminals jupyterlab jupyterlab-pygments jupyterlab-server matplotlib-inline nbclient nbconvert
    nbformat nbval nest-asyncio notebook notebook-shim pexpect pip pluggy prompt-toolkit ptyprocess pytest pyzmq ruff
    send2trash setuptools terminado tornado traitlets uv wheel""".split()
)


def normalize(name: str) -> str:
    """A distribution name as PEP 503 compares them (`Tf_Keras` -> `tf-keras`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def badge_markdown(notebook: str) -> str:
    """The "Open in Colab" badge for `notebook`, a path inside the repository such as `notebooks/01_x.ipynb`."""
    slug = REPO_URL.removeprefix("https://github.com/").removesuffix(".git")
    url = f"https://colab.research.google.com/github/{slug}/blob/{BRANCH}/{notebook}"
    return f"[![Open In Colab]({BADGE_IMAGE})]({url})"


def clone_command(dest: str) -> list[str]:
    """The git command that fetches the kit into `dest`."""
    return ["git", "clone", "--quiet", "--depth", "1", "--branch", BRANCH, REPO_URL, dest]


def pip_install_args(checkout: str) -> list[list[str]]:
    """The `pip` arguments that install the kit from `checkout`: the pinned science stack, then fedkit itself.

    Both with --no-deps: TFF 0.87.0 declares jax 0.4.14, which PyPI no longer serves, and Colab's Jupyter
    side must stay as it is. fedkit is installed as a package (not editable) so its package data comes along.
    """
    return [
        ["install", "--quiet", "--no-deps", "-r", f"{checkout}/{REQUIREMENTS}"],
        ["install", "--quiet", "--no-deps", checkout],
    ]


def wrong_python_message(version: str = "{version}") -> str:
    """The one line a Colab runtime on another Python gets."""
    return (
        f"fedkit needs Python 3.11 and this Colab runtime has Python {version}: choose Runtime > Change runtime "
        f"type > Runtime version {COLAB_RUNTIME} (Python 3.11) and run this cell again, or connect Colab to "
        "a local runtime started with `make colab`."
    )


RESTART_MESSAGE = "fedkit installed: restart the session once (Runtime > Restart session), then run all cells again."

_CELL = """\
{marker}
import sys

if "google.colab" in sys.modules:
    import importlib.metadata as _md
    import os
    import subprocess
    import tempfile

    # fedkit's environment defaults, as its own kernel sets them: TF's C++ logging and gRPC's notices would print
    # into the outputs.
{env}

    def _installed(name):
        try:
            return _md.version(name)
        except _md.PackageNotFoundError:
            return None

    if sys.version_info[:2] != {python}:
        raise SystemExit({wrong_python}.format(version=sys.version.split()[0]))
    if (_installed("fedkit"), _installed("tensorflow-federated")) != ({fedkit}, {tff}):
        _kit = tempfile.mkdtemp() + "/fedkit"
        subprocess.run({clone}, check=True)
        for _args in {pip}:
            subprocess.run([sys.executable, "-m", "pip", *_args], check=True)
        raise SystemExit({restart})
    print("fedkit", _installed("fedkit"), "with TFF", _installed("tensorflow-federated"), "is ready.")
"""


def setup_cell_source() -> str:
    """The code of the notebooks' Colab setup cell (self-contained; silent outside Colab)."""
    kit = "@KIT@"  # stands for the clone's folder, a variable of the cell
    clone = json.dumps(clone_command(kit)).replace(f'"{kit}"', "_kit")
    pip = json.dumps(pip_install_args(kit)).replace(f'"{kit}/', '_kit + "/').replace(f'"{kit}"', "_kit")
    return _CELL.format(
        marker=SETUP_MARKER,
        python=PYTHON,
        wrong_python=json.dumps(wrong_python_message()),
        fedkit=json.dumps(__version__),
        tff=json.dumps(TFF_VERSION),
        clone=clone,
        pip=pip,
        restart=json.dumps(RESTART_MESSAGE),
        env=env_lines(),
    ).rstrip("\n")


def env_lines(indent: str = "    ") -> str:
    """`ENV_DEFAULTS` as the setup cell's `os.environ.setdefault` lines (the cell cannot import fedkit)."""
    return "\n".join(
        f"{indent}os.environ.setdefault({json.dumps(k)}, {json.dumps(v)})" for k, v in ENV_DEFAULTS.items()
    )
