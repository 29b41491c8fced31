"""Write environment.yml from requirements.txt: the same pins, for conda's pip section.

tensorflow-federated 0.87.0 declares jax==0.4.14, which PyPI no longer serves, so pip can only
install it with --no-deps, which a conda pip section cannot express: it is left to the step the
file's header names. Everything else is pinned exactly as in the lock.
"""

import re
from pathlib import Path

NO_DEPS = {"tensorflow-federated"}
HEADER = """\
# Generated from requirements.txt by `make lock` (tools/write_environment.py); do not edit.
# conda env create -f environment.yml && conda activate fedkit && \\
#   pip install --no-deps {no_deps} -e .
name: fedkit
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def pins(text: str) -> list[str]:
    """The `name==version` lines of a requirements file, without comments."""
    return [m.group(0) for m in re.finditer(r"^[A-Za-z0-9_.\-\[\]]+==[^\s#;]+", text, re.M)]


def main() -> None:
    root = Path(__file__).resolve().parents[1]
    locked = pins((root / "requirements.txt").read_text())
    kept = [p for p in locked if p.split("==")[0] not in NO_DEPS]
    no_deps = " ".join(p for p in locked if p.split("==")[0] in NO_DEPS)
    body = "".join(f"      - {p}\n" for p in kept)
    (root / "environment.yml").write_text(HEADER.format(no_deps=no_deps) + body)


if __name__ == "__main__":
    main()
