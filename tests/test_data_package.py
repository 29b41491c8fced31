"""The FEMNIST sample ships in fedkit's wheel and is found there, away from the checkout."""

import hashlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile

from conftest import ROOT

from fedkit.data import emnist


def test_wheel_ships_the_sample_and_finds_it_without_the_checkout(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "fedkit", source / "fedkit", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--wheel-dir",
            str(tmp_path / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("fedkit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        f"fedkit/data/sample/{emnist.SAMPLE_FILE}",
        "fedkit/data/sample/README.md",
        "fedkit/exercises/__init__.py",
    } <= names
    installed = tmp_path / "installed"
    zipfile.ZipFile(wheel).extractall(installed)
    # -S: no site processing, so the checkout's editable install cannot answer; only the unpacked wheel can.
    code = (
        f"import sys; sys.path[:0] = [{str(installed)!r}, {sysconfig.get_paths()['purelib']!r}]\n"
        "import hashlib, importlib.resources, fedkit\n"
        f"sample = importlib.resources.files('fedkit.data').joinpath('sample', {emnist.SAMPLE_FILE!r})\n"
        "print(fedkit.__file__); print(hashlib.sha256(sample.read_bytes()).hexdigest())\n"
    )
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert out == [str(installed / "fedkit" / "__init__.py"), emnist.SAMPLE_SHA256]
    assert hashlib.sha256(emnist.shipped_sample().read_bytes()).hexdigest() == emnist.SAMPLE_SHA256
