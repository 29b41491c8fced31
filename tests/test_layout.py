"""The package layout is the architecture: wings in layers, each importing only its own layer or lower ones, no
cycle among wings, a lazy face per wing, and the light parts free of TensorFlow."""

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from fedkit.common import lazy

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fedkit"
# From the bottom: a wing may import its own layer's wings and lower ones, never a higher one. `_compat` (fedkit's
# workarounds in TF and TFF) is at the bottom: it may import TensorFlow, but no fedkit wing above `common`.
LAYERS = (
    ("common", "_compat"),
    ("runtime",),
    ("data", "models", "compression"),
    ("algorithms",),
    ("experiments",),
    ("cli", "exercises"),
)
LAYER = {wing: level for level, wings in enumerate(LAYERS) for wing in wings}
FACES = [wing for wing in LAYER if wing not in ("cli", "exercises", "_compat")]  # a lazy face each
# Importing these must not import TensorFlow (the command line parses its arguments first).
LIGHT = [
    "fedkit",
    *(f"fedkit.{wing}" for wing in LAYER),
    "fedkit.common.paths",
    "fedkit.common.results",
    "fedkit.runtime.colab",
    "fedkit.data.partition",
    "fedkit.models.names",
    "fedkit.compression.specs",
    "fedkit.experiments.sweep",
    "fedkit.experiments.reproduce",
]


def module_name(path: Path) -> str:
    """`fedkit/compression/specs.py` -> 'fedkit.compression.specs'; a package's `__init__.py` -> the package."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_module(name: str) -> bool:
    """Whether `name` (dotted, under fedkit) is a module or package in the source tree."""
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """The fedkit modules `path` imports, anywhere in it (functions included), relative imports resolved."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # `from fedkit.compression import sizing` imports the submodule; `import make_encoder`, the package.
            found |= {f"{base}.{a.name}" if is_module(f"{base}.{a.name}") else base for a in node.names}
    return {name for name in found if name == "fedkit" or name.startswith("fedkit.")}


def wing(module: str) -> str | None:
    """The wing of a fedkit module ('fedkit.compression.specs' -> 'compression'); None for the package root."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else None


def sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def wing_edges() -> dict[tuple[str, str], list[str]]:
    """(importing wing, imported wing) -> the imports that make it, over every module of every wing."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in sources():
        source = wing(module_name(path))
        if source is None:  # the package root (`__init__`, `__main__`, private helpers) stands outside the layers
            continue
        for target in map(wing, imported_modules(path)):
            if target is not None and target != source:
                edges.setdefault((source, target), []).append(str(path.relative_to(ROOT)))
    return edges


def test_every_wing_is_in_a_layer_and_the_root_holds_no_public_module():
    wings = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    assert wings == set(LAYER)
    root_modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert {m for m in root_modules if not m.startswith("_")} == set(), "a module at fedkit/ belongs in a wing"


def test_no_wing_imports_a_higher_layer():
    upward = {
        f"{source} (layer {LAYER[source]}) imports {target} (layer {LAYER[target]}) in {', '.join(sorted(set(where)))}"
        for (source, target), where in wing_edges().items()
        if LAYER[target] > LAYER[source]
    }
    assert not upward, "\n".join(sorted(upward))


def test_wings_import_each_other_without_a_cycle():
    graph: dict[str, set[str]] = {w: set() for w in LAYER}
    for source, target in wing_edges():
        graph[source].add(target)
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = " -> ".join([*path[path.index(node) :], node])
            pytest.fail(f"import cycle among wings: {cycle}")
        if node not in done:
            for target in sorted(graph[node]):
                visit(target, [*path, node])
            done.add(node)

    for node in sorted(graph):
        visit(node, [])


def test_the_import_parser_sees_imports_inside_functions_and_finds_an_upward_one(tmp_path, monkeypatch):
    module = tmp_path / "fedkit" / "common" / "probe.py"
    module.parent.mkdir(parents=True)
    (module.parent / "__init__.py").write_text("")
    module.write_text("def f():\n    from fedkit import algorithms\n    from fedkit.experiments import sweep\n")
    for name in ("algorithms", "experiments"):
        (tmp_path / "fedkit" / name).mkdir()
        (tmp_path / "fedkit" / name / "__init__.py").write_text("")
    (tmp_path / "fedkit" / "experiments" / "sweep.py").write_text("")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert imported_modules(module) == {"fedkit.algorithms", "fedkit.experiments.sweep"}


@pytest.mark.parametrize("package", [f"fedkit.{w}" for w in FACES])
def test_each_face_names_its_exports_in_its_docstring_and_they_resolve(package):
    face = importlib.import_module(package)
    exported = lazy.exported(package)
    assert exported, f"{package} exports nothing"
    missing = [name for name in exported if f"`{name}`" not in (face.__doc__ or "")]
    assert not missing, f"{package}'s docstring does not name {missing}"
    for name, submodule in exported.items():
        assert getattr(face, name) is getattr(importlib.import_module(f"{package}.{submodule}"), name)
    assert set(exported) <= set(dir(face))


def test_a_face_refuses_an_unknown_name_and_reaches_its_submodules():
    import fedkit.compression as compression

    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        compression.no_such_name  # noqa: B018
    assert compression.specs.__name__ == "fedkit.compression.specs"
    with pytest.raises(ValueError, match="shadow a submodule"):
        lazy.exports("fedkit.compression", {"encoders": ["sizing"]})


def test_light_modules_and_names_import_no_tensorflow():
    code = (
        "import importlib, sys\n"
        f"for name in {LIGHT!r}:\n"
        "    importlib.import_module(name)\n"
        "    heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tensorflow_federated'))\n"
        "    assert not heavy, (name, heavy[:3])\n"
        "from fedkit.compression import DEFAULT_THRESHOLD, parse_encoder\n"
        "from fedkit.models import MODELS\n"
        "assert MODELS and parse_encoder('uniform:8').param == 8 and DEFAULT_THRESHOLD > 0\n"
        "assert not any(m.split('.')[0] == 'tensorflow' for m in sys.modules), 'a light name imported TensorFlow'\n"
        "print('ok')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
