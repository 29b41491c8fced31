"""Where the kit keeps its dataset cache and run outputs."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """`$FEDKIT_HOME`, else the checkout that holds this package, else the working directory."""
    if os.environ.get("FEDKIT_HOME"):
        return Path(os.environ["FEDKIT_HOME"])
    checkout = Path(__file__).resolve().parents[2]  # fedkit/common/paths.py -> the checkout
    return checkout if (checkout / "pyproject.toml").is_file() else Path.cwd()


def shipped_result(name: str) -> Path:
    """A results file of the kit's own full runs, shipped in the package (`fedkit/results/`)."""
    return Path(__file__).resolve().parents[1] / "results" / name


def data_dir() -> Path:
    """The dataset cache, `<root>/data`."""
    return project_root() / "data"


def output_path(*parts: str) -> Path:
    """A path under `<root>/outputs`, with its parent folder created."""
    path = project_root().joinpath("outputs", *parts)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
