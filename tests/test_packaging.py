"""Packaging: declared dependencies are exactly what fedkit imports, the license and notices ship."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

from fedkit.runtime import colab

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(package: Path) -> set[str]:
    """Top-level names of every absolute import in `package`'s sources."""
    names = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def third_party_distributions() -> set[str]:
    """The distributions that provide fedkit's third-party imports."""
    provided = importlib.metadata.packages_distributions()
    modules = imported_top_level_modules(ROOT / "fedkit") - set(sys.stdlib_module_names) - {"fedkit"}
    return {_normalize(provided[m][0]) for m in modules}


def declared_distributions() -> set[str]:
    return {_normalize(re.split(r"[\s=<>!~;\[]", dep, maxsplit=1)[0]) for dep in PROJECT["dependencies"]}


def test_declared_dependencies_are_what_fedkit_imports():
    assert declared_distributions() == third_party_distributions()


def test_the_import_scan_sees_a_third_party_import(tmp_path):
    (tmp_path / "m.py").write_text("import os\nfrom scipy import stats\nimport numpy.linalg as la\nfrom . import x\n")
    assert imported_top_level_modules(tmp_path) == {"os", "scipy", "numpy"}


def test_project_urls_are_the_published_repository():
    assert {url.split("#")[0].removesuffix("/issues") for url in PROJECT["urls"].values()} == {colab.REPO_URL}


def test_license_and_notices_ship():
    assert "Apache License" in (ROOT / "LICENSE").read_text() and "Version 2.0" in (ROOT / "LICENSE").read_text()
    for notice in (ROOT / "NOTICE", ROOT / "fedkit" / "data" / "sample" / "NOTICE"):
        text = " ".join(notice.read_text().split())
        assert "LEAF" in text and "NIST Special Database 19" in text and "BSD 2-Clause" in text
