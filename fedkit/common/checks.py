"""Checks of values that users hand to fedkit, one place each: whole numbers, positive numbers and learning rates,
and folders to write into. Each caller words its own error around the answer (a CLI flag, a parameter name)."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path


def whole_number(text: str) -> int | None:
    """`text` as a whole number when it is ASCII digits only ('12' -> 12), else None ('-1', '1e3', '²', ' 1')."""
    # str.isdigit() accepts '²' and other non-ASCII digits that int() then refuses.
    return int(text) if text.isascii() and text.isdigit() else None


def positive_number(value: str | float) -> float | None:
    """`value` as a float when it is a finite number above 0 ('0.1' -> 0.1), else None ('0', 'inf', 'nan', 'x')."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def learning_rate(value: float, name: str) -> float:
    """`value` as a float when it is a positive finite number; else a ValueError naming the parameter `name`."""
    number = positive_number(value)
    if number is None:
        raise ValueError(f"{name}={value}: a learning rate must be a positive finite number, e.g. 0.1.")
    return number


def folder_problem(path: str | os.PathLike) -> str | None:
    """Why nothing could be written into the folder `path` (made if missing), or None when something could.

    Leaves nothing behind: it makes and removes a temporary folder in `path` or in its first existing parent,
    since permission bits say yes to root even where nothing can be made (e.g. under /proc).
    """
    path = Path(path)
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return "is a file, not a folder" if existing == path else f"cannot be written ({existing} is a file)"
    try:
        tempfile.TemporaryDirectory(dir=existing, prefix=".fedkit-probe-").cleanup()
    except OSError as e:
        return f"cannot be written ({e.strerror or e})"
    return None
