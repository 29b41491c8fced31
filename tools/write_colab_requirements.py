"""Write requirements-colab.txt from the lock: what fedkit needs at run time, for Colab's Python 3.11 runtime.

The lock's `# via` annotations give its dependency graph. Starting from fedkit's own dependencies
(pyproject.toml), every locked package that one of them needs is kept, at the lock's version, except
Colab's Jupyter side (`fedkit.runtime.colab.JUPYTER_SIDE`), which Colab's kernel needs at its own versions.
Installed with --no-deps over Colab's packages, these pins win (TF 2.14 over 2.18, numpy 1.25 over 2.0, ...).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fedkit.runtime.colab import JUPYTER_SIDE, REQUIREMENTS, normalize  # noqa: E402

LINE = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)\s*(?:#\s*via (.*))?$")
HEADER = """\
# Generated from requirements.txt by `make lock` (tools/write_colab_requirements.py); do not edit.
# fedkit's run-time stack for a Colab runtime on Python 3.11 (Runtime version 2025.07), installed by the
# notebooks' setup cell with `pip install --no-deps -r requirements-colab.txt` so that these pins replace
# Colab's versions, while Colab's Jupyter side (ipykernel, ipython, tornado, ...) is left as it is.
"""


def lock_graph(text: str) -> dict[str, tuple[str, set[str]]]:
    """{package: (pinned line, the packages that need it)} from the lock's `name==version  # via ...` lines."""
    graph = {}
    for line in text.splitlines():
        if m := LINE.match(line):
            parents = {normalize(p.strip()) for p in (m.group(3) or "").split(",") if not p.strip().startswith("-")}
            graph[normalize(m.group(1))] = (f"{m.group(1)}=={m.group(2)}", parents)
    return graph


def roots() -> set[str]:
    """fedkit's direct run-time dependencies: pyproject.toml's."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {normalize(re.split(r"[\s=<>!~;\[]", dep, maxsplit=1)[0]) for dep in project["dependencies"]}


def colab_pins(lock_text: str) -> list[str]:
    """The pinned lines of the lock that fedkit needs at run time, minus Colab's Jupyter side."""
    graph = lock_graph(lock_text)
    needed = roots() - JUPYTER_SIDE
    missing = needed - graph.keys()
    if missing:
        raise ValueError(f"pyproject.toml needs {sorted(missing)}, which requirements.txt lacks: run `make lock`.")
    grew = True
    while grew:
        more = {name for name, (_, parents) in graph.items() if parents & needed} - JUPYTER_SIDE - needed
        needed |= more
        grew = bool(more)
    return sorted((graph[name][0] for name in needed), key=str.lower)


def main() -> None:
    pins = colab_pins((ROOT / "requirements.txt").read_text())
    (ROOT / REQUIREMENTS).write_text(HEADER + "".join(f"{pin}\n" for pin in pins))
    print(f"Wrote {REQUIREMENTS}: {len(pins)} pins")


if __name__ == "__main__":
    main()
