"""The versions fedkit's workarounds were written for, and the guard that applies one only on those versions."""

from __future__ import annotations

import importlib.metadata
import os
import warnings

# The locked versions (requirements.txt); `.*` accepts any patch release. tests/test_compat.py checks they agree.
WRITTEN_FOR = {
    "tensorflow": "2.14.*",
    "tensorflow-federated": "0.87.0",
    "tensorflow-model-optimization": "0.7.5",
    "grpcio": "1.85.1",
}
# Names of workarounds not to apply, comma-separated: to see whether one is still needed, or to rule one out.
SKIP_ENV = "FEDKIT_COMPAT_SKIP"
_warned: set[str] = set()


class CompatWarning(RuntimeWarning):
    """A fedkit workaround was not applied: the installed TF/TFF is not the version it was written for."""


def installed(distribution: str) -> str | None:
    """The installed version of `distribution`, or None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def matches(found: str | None, pinned: str) -> bool:
    """Whether version `found` is `pinned` (`2.14.*`: any 2.14 release)."""
    if found is None:
        return False
    if pinned.endswith(".*"):
        return found.startswith(pinned[:-1])
    return found == pinned


def skipped() -> set[str]:
    """The workarounds `$FEDKIT_COMPAT_SKIP` names."""
    return {name.strip() for name in os.environ.get(SKIP_ENV, "").split(",") if name.strip()}


def applies(workaround: str, *distributions: str) -> bool:
    """Whether to apply `workaround`: not skipped, and each of `distributions` at the version it was written for.

    On other versions it warns once (`CompatWarning`) and returns False: a patch of another version's
    internals could break what it patches instead of fixing it.
    """
    if workaround in skipped():
        return False
    wrong = [(d, installed(d)) for d in distributions if not matches(installed(d), WRITTEN_FOR[d])]
    if not wrong:
        return True
    if workaround not in _warned:
        _warned.add(workaround)
        found = ", ".join(f"{d} {WRITTEN_FOR[d]}, found {v or 'none'}" for d, v in wrong)
        warnings.warn(f"fedkit: {workaround} written for {found}; not applied", CompatWarning, stacklevel=3)
    return False
