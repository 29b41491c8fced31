"""Assemble the book's sources into outputs/docs/src and write the mkdocs config that builds them.

    python tools/docs_gen.py            (run by `make docs`, then `mkdocs build --strict -f outputs/docs/mkdocs.yml`)

Nothing here is typed by hand twice: the lessons are the notebooks as stored (outputs included, never
executed), the navigation lists whatever files exist when it runs, the results page renders every
`fedkit/results/*.json`, the API pages point mkdocstrings at each fedkit module, and the repository's
address comes from `fedkit/runtime/colab.py`'s `REPO_URL`. Needs only the standard library and PyYAML (no TensorFlow).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "outputs" / "docs"
SRC = BUILD / "src"
SITE = BUILD / "site"

# The user guide's reading order; any other page in docs/guide/ follows, alphabetically.
GUIDE_ORDER = [
    "installation.md",
    "colab.md",
    "teaching.md",
    "cli.md",
    "reproducing.md",
    "scale.md",
    "runtime.md",
    "data.md",
    "environment.md",
    "platforms.md",
    "migration.md",
    "publishing.md",
]
COLAB_SETUP_ID, REMOVE_TAG = "colab-setup", "docs-remove"  # the setup cell's id (tools/colab_cells.py); mkdocs.yml
NOTEBOOK = re.compile(r"^(\d\d)_[A-Za-z0-9_]+\.ipynb$")
LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")


def repo_url() -> str:
    """`REPO_URL` as `fedkit/runtime/colab.py` sets it, read without importing fedkit (the one place that names it)."""
    tree = ast.parse((ROOT / "fedkit" / "runtime" / "colab.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REPO_URL" for t in node.targets):
            return ast.literal_eval(node.value)
    raise SystemExit("tools/docs_gen.py: fedkit/runtime/colab.py defines no REPO_URL; set it there (one string).")


def markdown_title(text: str, fallback: str) -> str:
    """The first `# heading` of a Markdown text, else `fallback`."""
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return fallback


def notebook_cells(path: Path) -> list[dict]:
    """A notebook's cells; a file that is not a notebook stops the build with one line naming it."""
    try:
        return json.loads(path.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise SystemExit(f"tools/docs_gen.py: {path.relative_to(ROOT)} is not a readable notebook ({e}).") from None


def book_notebook(path: Path) -> str:
    """A notebook as the book shows it: the Colab setup cell (which does nothing outside Colab) tagged so
    mkdocs-jupyter leaves it out; every other cell and output as stored."""
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell.get("id") == COLAB_SETUP_ID:
            cell.setdefault("metadata", {}).setdefault("tags", []).append(REMOVE_TAG)
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def notebook_title(path: Path) -> str:
    """'NN · Title' from a notebook's file number and its title cell (whatever number the cell itself shows)."""
    cells = notebook_cells(path)
    source = "".join(cells[0]["source"]) if cells and cells[0]["cell_type"] == "markdown" else ""
    title = markdown_title(source, path.stem.split("_", 1)[1].replace("_", " ").capitalize())
    title = re.sub(r"^\d+\s*[·.:-]\s*", "", title)
    return f"{path.name[:2]} · {title}".replace("`", "")


def notebook_summary(path: Path) -> str:
    """The first paragraph after a notebook's title, on one line (for the lesson index)."""
    cells = notebook_cells(path)
    if not cells or cells[0]["cell_type"] != "markdown":
        return ""
    paragraphs = [p for p in "".join(cells[0]["source"]).split("\n\n") if p.strip() and not p.startswith("#")]
    return " ".join(paragraphs[0].split()) if paragraphs else ""


def rewrite_links(text: str, source: Path, dest: Path, placed: dict[Path, Path], url: str) -> str:
    """Point relative links of a Markdown file copied from `source` (in the repository) to `dest` (in SRC).

    A link to a file that is part of the book follows it there; any other repository file becomes its
    address on the repository's web page, so no link breaks when pages move into the book.
    """

    def fix(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
            return match.group(0)
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve()
        try:
            in_repo = resolved.relative_to(ROOT)
        except ValueError:
            return match.group(0)
        if resolved in placed:
            new = Path(_relpath(placed[resolved], dest.parent)).as_posix()
        else:
            kind = "tree" if resolved.is_dir() else "blob"
            new = f"{url}/{kind}/main/{in_repo.as_posix()}"
        return f"{match.group(1)}{new}{'#' + anchor if anchor else ''}{match.group(3)}"

    return LINK.sub(fix, text)


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


# ---- results files -------------------------------------------------------------------------------


def is_summary(value: object) -> bool:
    """Whether `value` is a `fedkit.common.results.summary` (mean, 95% half-width, values)."""
    return isinstance(value, dict) and {"mean", "ci95", "values"} <= set(value)


def is_scalar(value: object) -> bool:
    """A value that fits in one table cell."""
    return (
        value is None
        or isinstance(value, str | int | float | bool)
        or is_summary(value)
        or (isinstance(value, list) and all(isinstance(v, str | int | float | bool) for v in value))
    )


def is_keyed_rows(value: object) -> bool:
    """A dict of dicts of scalars (e.g. accuracy per method, per round): one table, a row per outer key."""
    return (
        isinstance(value, dict)
        and len(value) > 1
        and not is_summary(value)
        and all(isinstance(row, dict) and row and not is_summary(row) for row in value.values())
        and all(is_scalar(v) for row in value.values() for v in row.values())
    )


def cell(value: object) -> str:
    """One value as a Markdown table cell: numbers to 4 significant digits, summaries as mean ± interval."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    if is_summary(value):
        n = len(value["values"])
        if value["ci95"] is None:
            return f"{value['mean']:.4g} ({n} seed{'s' if n != 1 else ''})"
        return f"{value['mean']:.4g} ± {value['ci95']:.2g} ({n} seeds)"
    if isinstance(value, list) and all(is_scalar(v) and not isinstance(v, list | dict) for v in value):
        return ", ".join(cell(v) for v in value)
    if isinstance(value, str):
        return value.replace("|", "\\|").replace("\n", " ")
    if isinstance(value, dict) and all(is_scalar(v) and not isinstance(v, dict | list) for v in value.values()):
        return ", ".join(f"{cell(str(key))}: {cell(v)}" for key, v in value.items())
    return "`" + json.dumps(value, separators=(",", ":")).replace("|", "\\|") + "`"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines + [""]


def render_data(data: object, level: int = 3) -> list[str]:
    """Markdown for a results file's `data`: dicts of scalars as two-column tables, lists of dicts as
    one row per item, nested dicts as subsections; anything else as one cell."""
    heading = "#" * min(level, 6)
    if isinstance(data, list) and data and all(isinstance(item, dict) for item in data):
        columns: list[str] = []
        for item in data:
            columns += [key for key in item if key not in columns]
        return table(columns, [[cell(item.get(key)) for key in columns] for item in data])
    if is_keyed_rows(data):
        columns = []
        for row in data.values():
            columns += [key for key in row if key not in columns]
        rows = [[cell(str(name))] + [cell(row.get(c)) for c in columns] for name, row in data.items()]
        return table([""] + [str(c) for c in columns], rows)
    if isinstance(data, dict) and not is_summary(data):
        lines: list[str] = []
        scalars = {key: value for key, value in data.items() if is_scalar(value)}
        if scalars:
            lines += table(["setting", "value"], [[str(key), cell(value)] for key, value in scalars.items()])
        for key, value in data.items():
            if key not in scalars:
                lines += [f"{heading} {key}", ""] + render_data(value, level + 1)
        return lines
    return [cell(data), ""]


def experiment_help(name: str) -> str | None:
    """The `HELP` line of the experiment module that writes results file `name`, if there is one."""
    module = ROOT / "fedkit" / "experiments" / "reproduce" / f"{name.replace('-', '_')}.py"
    if not module.exists():
        return None
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "HELP" for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def render_record(record: dict, source: str) -> list[str]:
    """One results file as a section: what made it (command, machine, commit), then its data."""
    name = record.get("name") or Path(source).stem
    lines = [f"## {name}", ""]
    if help_line := experiment_help(name):
        lines += [help_line[0].upper() + help_line[1:] + ".", ""]
    lines += [f"Regenerate with `{record['command']}` (file `{source}`).", ""]
    machine = record.get("machine") or {}
    made = [f"{key}: {cell(value)}" for key, value in machine.items()] if isinstance(machine, dict) else [str(machine)]
    made += [f"{key}: {record[key]}" for key in ("python", "commit", "created") if record.get(key)]
    if made:
        lines += ["Made on " + "; ".join(made) + ".", ""]
    return lines + render_data(record["data"])


def results_page(results_dir: Path) -> str:
    """The results page: every JSON results file rendered, then the Markdown tables shipped beside them."""
    lines = [
        "# Results",
        "",
        "The kit's long runs (several seeds, many rounds) write results files, `fedkit/results/<name>.json`, with the",
        "command that regenerates them and the machine that ran them; the lessons read them back with",
        "`fedkit.common.results.read`. This page is generated from those files each time the book is built: every",
        "number on it is read from them. Summaries over seeds show the mean, the 95% interval's half-width and",
        "the number of seeds.",
        "",
    ]
    records = sorted(results_dir.glob("*.json"))
    if not records:
        lines += ["No results file has been written yet (`python -m fedkit reproduce NAME` writes one).", ""]
    for path in records:
        source = path.relative_to(ROOT).as_posix()
        try:
            record = json.loads(path.read_text())
            if not isinstance(record, dict) or "data" not in record or "command" not in record:
                raise ValueError("not a fedkit results file (no data or command)")
        except ValueError as e:
            print(f"tools/docs_gen.py: skipping {source}: {e}", file=sys.stderr)
            lines += [f"## {path.stem}", "", f"`{source}` could not be read: {e}.", ""]
            continue
        lines += render_record(record, source)
    tables = sorted(results_dir.glob("*.md"))
    if tables:
        lines += ["## Tables shipped as Markdown", ""]
        for path in tables:
            text = path.read_text()
            lines += [f"### {markdown_title(text, path.stem)}", "", f"From `{path.relative_to(ROOT).as_posix()}`.", ""]
            body = [line for line in text.splitlines() if not line.startswith("# ")]
            lines += [re.sub(r"^(#+) ", lambda m: "#" * min(len(m.group(1)) + 2, 6) + " ", line) for line in body]
            lines += [""]
    return "\n".join(lines).rstrip() + "\n"


# ---- API reference ---------------------------------------------------------------------------------


def api_modules() -> list[tuple[str, list[str]]]:
    """(page module, modules it documents): one page per public module at the top of the package, one per
    sub-package with every module under it (nested packages too)."""
    pages = []
    for path in sorted((ROOT / "fedkit").iterdir()):
        if path.suffix == ".py" and not path.stem.startswith("_"):
            pages.append((f"fedkit.{path.stem}", [f"fedkit.{path.stem}"]))
        elif path.is_dir() and (path / "__init__.py").exists():
            subs = sorted(dotted(p) for p in path.rglob("*.py") if p != path / "__init__.py" and is_source(p))
            pages.append((f"fedkit.{path.name}", [f"fedkit.{path.name}", *subs]))
    return pages


def is_source(path: Path) -> bool:
    """Whether `path` is a module of the package (not a cache or a data folder's file)."""
    return "__pycache__" not in path.parts and (path.parent / "__init__.py").exists()


def dotted(path: Path) -> str:
    """`fedkit/experiments/reproduce/__init__.py` -> 'fedkit.experiments.reproduce'; a module -> its dotted name."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_summary(module: str) -> str:
    """The first sentence of a fedkit module's docstring, on one line (read statically)."""
    path = ROOT.joinpath(*module.split("."))
    path = path.with_suffix(".py") if path.with_suffix(".py").exists() else path / "__init__.py"
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return re.split(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\.\s+(?=[A-Z`])", first)[0].rstrip(".")


def api_pages(dest: Path) -> list[dict]:
    """Write reference/*.md (mkdocstrings directives) and return their nav entries."""
    dest.mkdir(parents=True)
    index = [
        "# API reference",
        "",
        "Generated from the docstrings of the `fedkit` package (read statically, without",
        "importing TensorFlow). One page per module:",
        "",
    ]
    nav: list[dict] = [{"Overview": "reference/index.md"}]
    for page, modules in api_modules():
        lines = [f"# `{page}`", ""]
        for module in modules:
            if module == page:
                lines += [f"::: {module}", "    options:", "      show_root_heading: false", ""]
            else:
                lines += [f"::: {module}", "    options:", "      heading_level: 2", ""]
        (dest / f"{page}.md").write_text("\n".join(lines))
        summary = module_summary(page)
        index.append(f"- [`{page}`]({page}.md)" + (f": {summary}" if summary else ""))
        nav.append({page: f"reference/{page}.md"})
    (dest / "index.md").write_text("\n".join(index) + "\n")
    return nav


# ---- assembling -----------------------------------------------------------------------------------


def copy_markdown(source: Path, dest: Path, placed: dict[Path, Path], url: str) -> None:
    """Copy one Markdown file into the book with its links pointed at their places there."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(rewrite_links(source.read_text(), source, dest, placed, url))


def lessons_index(notebooks: list[Path], solutions: list[Path]) -> str:
    """The lessons' landing page: each lesson's title and opening paragraph, as the notebooks have them."""
    lines = [
        "# Lessons",
        "",
        "Each lesson is a notebook, shown here with the outputs it stores (the tests hold them",
        "still). Run it yourself with `make run`, in Jupyter, or in Colab (its badge).",
        "",
    ]
    for nb in notebooks:
        lines += [f"- [{notebook_title(nb)}]({nb.name}): {notebook_summary(nb)}"]
    if solutions:
        lines += ["", "Worked solutions to the exercises:", ""]
        lines += [f"- [{notebook_title(nb)}](../solutions/{nb.name})" for nb in solutions]
    return "\n".join(lines) + "\n"


def build_sources() -> list:
    """Fill SRC from the repository and return the navigation."""
    url = repo_url().removesuffix(".git").rstrip("/")
    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    docs = ROOT / "docs"
    notebooks = sorted(p for p in (ROOT / "notebooks").glob("*.ipynb") if NOTEBOOK.match(p.name))
    solutions = sorted(p for p in (ROOT / "notebooks" / "solutions").glob("*.ipynb") if p.name[:2].isdigit())

    # Where each repository file lands in the book, so links between them survive the move.
    placed: dict[Path, Path] = {}
    for path in docs.rglob("*"):
        if path.is_file():
            placed[path.resolve()] = SRC / path.relative_to(docs)
    for nb in notebooks:
        placed[nb.resolve()] = SRC / "lessons" / nb.name
    for nb in solutions:
        placed[nb.resolve()] = SRC / "solutions" / nb.name
    changelog = ROOT / "CHANGELOG.md"
    if changelog.exists():
        placed[changelog.resolve()] = SRC / "changelog.md"
    placed[(ROOT / "README.md").resolve()] = SRC / "index.md"

    for source, dest in placed.items():
        if source.suffix == ".md" and source.name != "README.md":
            copy_markdown(source, dest, placed, url)
        elif source.suffix == ".ipynb":
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(book_notebook(source))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, dest)
    (SRC / "lessons" / "index.md").write_text(lessons_index(notebooks, solutions))
    (SRC / "results.md").write_text(results_page(ROOT / "fedkit" / "results"))
    reference = api_pages(SRC / "reference")

    guide_files = sorted(
        (SRC / "guide").glob("*.md"),
        key=lambda p: (p.name not in GUIDE_ORDER, GUIDE_ORDER.index(p.name) if p.name in GUIDE_ORDER else 0, p.name),
    )
    notes = sorted((SRC / "notes").glob("*.md"))
    nav: list = [{"Home": "index.md"}]
    nav.append({"Lessons": ["lessons/index.md"] + [{notebook_title(nb): f"lessons/{nb.name}"} for nb in notebooks]})
    if solutions:
        nav.append({"Worked solutions": [{notebook_title(nb): f"solutions/{nb.name}"} for nb in solutions]})
    if guide_files:
        nav.append({"User guide": [{markdown_title(p.read_text(), p.stem): f"guide/{p.name}"} for p in guide_files]})
    nav.append({"Results": "results.md"})
    nav.append({"API reference": reference})
    if notes:
        nav.append({"Engineering notes": [{markdown_title(p.read_text(), p.stem): f"notes/{p.name}"} for p in notes]})
    if changelog.exists():
        nav.append({"Changelog": "changelog.md"})
    if (SRC / "about.md").exists():
        nav.append({"About the book": "about.md"})
    return nav


def write_config(nav: list) -> Path:
    """outputs/docs/mkdocs.yml: the repository's mkdocs.yml with the generated paths and navigation."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["docs_dir"] = str(SRC)
    config["site_dir"] = str(SITE)
    config["repo_url"] = repo_url()
    config["nav"] = nav
    for plugin in config.get("plugins", []):
        if isinstance(plugin, dict) and "mkdocstrings" in plugin:
            plugin["mkdocstrings"]["handlers"]["python"]["paths"] = [str(ROOT)]
        if isinstance(plugin, dict) and "mkdocs-jupyter" in plugin:
            plugin["mkdocs-jupyter"]["cache_dir"] = str(BUILD / "cache")
    target = BUILD / "mkdocs.yml"
    target.write_text(
        "# Generated by tools/docs_gen.py from mkdocs.yml; edit that file, not this one.\n"
        + yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    )
    return target


def main() -> int:
    """Generate the sources and the config; print where they are."""
    nav = build_sources()
    config = write_config(nav)
    pages = sum(1 for p in SRC.rglob("*") if p.suffix in (".md", ".ipynb"))
    print(f"tools/docs_gen.py: {pages} pages in {SRC.relative_to(ROOT)}, config {config.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
