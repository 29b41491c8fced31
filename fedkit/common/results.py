"""Results files: what the kit's long runs write (JSON, with the command and machine that made them) and
lessons and docs read back, so no number is copied by hand."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"  # fedkit/results/, data shipped in the package


class ResultsError(ValueError):
    """A results file that is missing or not one the kit wrote."""


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=RESULTS_DIR, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def provenance(command: str) -> dict:
    """Who made a result: the command, when (UTC), on what machine, with which code."""
    return {
        "command": command,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpu": _cpu_model(), "cores": os.cpu_count(), "system": platform.platform()},
        "python": platform.python_version(),
        "commit": _git_commit(),
    }


def path(name: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Where the results file `name` lives (`fedkit/results/<name>.json` unless another folder is given)."""
    return Path(results_dir or RESULTS_DIR) / f"{name}.json"


def write(name: str, data: dict, command: str, results_dir: str | os.PathLike | None = None) -> Path:
    """Write `data` with its provenance as `<name>.json`, atomically (a reader never sees half a file)."""
    target = path(name, results_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    record = {"name": name, **provenance(command), "data": data}
    text = json.dumps(record, indent=1, sort_keys=False, allow_nan=False) + "\n"
    with tempfile.NamedTemporaryFile("w", dir=target.parent, suffix=".part", delete=False) as f:
        f.write(text)
    os.chmod(f.name, 0o644)  # a temporary file is private; a results file is for every reader of the package
    os.replace(f.name, target)
    return target


def read(name: str, results_dir: str | os.PathLike | None = None) -> dict:
    """The record of results file `name`: its `data` and the `command` that regenerates it."""
    source = path(name, results_dir)
    try:
        record = json.loads(source.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{source}: no such results file; run `python -m fedkit reproduce {name}`.") from None
    except (OSError, json.JSONDecodeError) as e:
        raise ResultsError(f"{source}: unreadable ({e}); run `python -m fedkit reproduce {name}` again.") from None
    if not isinstance(record, dict) or "data" not in record or "command" not in record:
        raise ResultsError(f"{source}: not a fedkit results file; run `python -m fedkit reproduce {name}`.")
    return record


def interval95(values: Sequence[float]) -> float | None:
    """Half-width of the 95% Student t interval of the mean of `values`; None for fewer than 2."""
    if len(values) < 2:
        return None
    from scipy import stats

    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    return float(stats.t.ppf(0.975, len(values) - 1) * sd / math.sqrt(len(values)))


def summary(values: Sequence[float]) -> dict:
    """Mean, 95% interval half-width and the values themselves (one per seed)."""
    values = [float(v) for v in values]
    return {"mean": sum(values) / len(values), "ci95": interval95(values), "values": values}


def differs(a: dict, b: dict) -> bool:
    """Whether two summaries' means differ by more than both intervals allow (non-overlapping 95% intervals)."""
    if a["ci95"] is None or b["ci95"] is None:
        return False
    return abs(a["mean"] - b["mean"]) > a["ci95"] + b["ci95"]
