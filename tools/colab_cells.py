"""Put the "Open in Colab" badge and the Colab setup cell right after every notebook's title cell.

    python tools/colab_cells.py [--check] [NOTEBOOK...]    (default: notebooks/**/*.ipynb)

Idempotent: the two cells are found by their ids and rewritten from `fedkit.runtime.colab`, without outputs.
With --check nothing is written; the exit status is 1 if any notebook's cells differ from what
fedkit.runtime.colab generates (e.g. after REPO_URL or the cell's text changed).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from fedkit.runtime.colab import badge_markdown, setup_cell_source  # noqa: E402

BADGE_ID, SETUP_ID = "colab-badge", "colab-setup"


def expected_cells(repo_path: str) -> list[nbformat.NotebookNode]:
    """The badge and setup cells for the notebook at `repo_path` (relative to the repository root)."""
    badge = nbformat.v4.new_markdown_cell(badge_markdown(repo_path), id=BADGE_ID)
    setup = nbformat.v4.new_code_cell(setup_cell_source(), id=SETUP_ID, metadata={"cellView": "form"})
    return [badge, setup]


def with_colab_cells(nb: nbformat.NotebookNode, repo_path: str) -> nbformat.NotebookNode:
    """`nb` with the two cells (re)placed right after its first cell, the title."""
    ours = {BADGE_ID, SETUP_ID}
    others = [cell for cell in nb.cells if cell.get("id") not in ours]
    if not others or others[0].cell_type != "markdown":
        raise ValueError(f"{repo_path}: the first cell must be the title (markdown) cell.")
    nb.cells = others[:1] + expected_cells(repo_path) + others[1:]
    return nb


def repo_path(path: Path) -> str:
    """`path` relative to the repository root, with / separators (as the badge's URL wants)."""
    return path.resolve().relative_to(ROOT).as_posix()


def differs(path: Path, name: str | None = None) -> bool:
    """Whether the notebook at `path` lacks the cells `fedkit.runtime.colab` makes for `name` (default: its path)."""
    nb = nbformat.read(path, as_version=4)
    current = [cell for cell in nb.cells if cell.get("id") in {BADGE_ID, SETUP_ID}]
    want = expected_cells(name or repo_path(path))
    # Execution counts and timing metadata (added when a notebook is run in place) do not count.
    same = [(c.cell_type, c.source, c.metadata.get("cellView"), c.get("outputs", [])) for c in current] == [
        (c.cell_type, c.source, c.metadata.get("cellView"), c.get("outputs", [])) for c in want
    ]
    return not same or nb.cells[1:3] != current


def update(path: Path, name: str | None = None) -> bool:
    """Insert or refresh the cells in `path`; True if the file changed."""
    if not differs(path, name):
        return False
    nb = nbformat.read(path, as_version=4)
    nbformat.write(with_colab_cells(nb, name or repo_path(path)), path)
    return True


def main(argv: list[str]) -> int:
    if "-h" in argv or "--help" in argv:
        print("usage: tools/colab_cells.py [--check] [NOTEBOOK ...]  (default: every notebook under notebooks/)")
        return 0
    check = "--check" in argv
    paths = [Path(a) for a in argv if a != "--check"] or sorted((ROOT / "notebooks").rglob("*.ipynb"))
    missing = [str(p) for p in paths if p.suffix != ".ipynb" or not p.is_file()]
    if missing:
        print(
            f"colab_cells: no notebook at {', '.join(missing)}; give .ipynb files (or none for all).", file=sys.stderr
        )
        return 2
    paths = [p for p in paths if ".ipynb_checkpoints" not in p.parts]
    stale = [p for p in paths if differs(p)] if check else [p for p in paths if update(p)]
    for p in stale:
        print(f"{repo_path(p)}: Colab cells {'out of date: run `python tools/colab_cells.py`' if check else 'updated'}")
    return 1 if check and stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
