"""A full-size SYNTHETIC federated EMNIST, for timing only: the shipped FEMNIST sample's digit writers replicated
(new ids, each a copy of one real writer) to the sizes of TFF's digits-only EMNIST, written as a TFF-format cache.

    .venv/bin/python benchmarks/full_size.py [--cache-dir DIR]

Sizes are TFF's `emnist.load_data(only_digits=True)`: 3,383 writers, 341,873 train and 40,832 test examples
(each writer in both splits). Its `all_*` splits (62 classes) hold only the sample's own writers, so that the file is
a complete cache; the benchmarks read the digits. The examples repeat the sample's: an accuracy on this data means
nothing, only timings do. It is written once under `outputs/` (never `data/`) and reused; the cache's
`fedkit_provenance` table says it is synthetic.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import fedkit  # noqa: F401  (its ENV_DEFAULTS, before any TF import)

WRITERS = 3_383
EXAMPLES = {"train": 341_873, "test": 40_832}  # TFF's digits-only EMNIST
SOURCE = "fedkit-synthetic-full-size (benchmark only: replicated FEMNIST sample writers)"
LABEL = "SYNTHETIC full-size EMNIST (digits): the FEMNIST sample's writers replicated; timings only"


def default_dir() -> Path:
    """Where the synthetic cache lives: `outputs/full-size-emnist/`."""
    from fedkit.common import paths

    return paths.output_path("full-size-emnist", "x").parent


def _counts(base: list[int], total: int, minimum: int) -> list[int]:
    """Each writer's base count scaled so that they add up to `total` (largest remainders), at least `minimum`."""
    import numpy as np

    want = np.asarray(base, float) * total / sum(base)
    counts = np.maximum(np.floor(want).astype(int), minimum)
    remainder = total - int(counts.sum())
    order = np.argsort(-(want - np.floor(want)), kind="stable")
    step = 1 if remainder > 0 else -1
    i = 0
    while remainder:
        j = order[i % len(order)]
        if counts[j] + step >= minimum:
            counts[j] += step
            remainder -= step
        i += 1
    return counts.tolist()


def _plan(arrays: dict) -> dict[str, list[tuple[str, list[int]]]]:
    """Per split: (synthetic writer id, the sample rows it holds), writer k a copy of digit writer k mod 104."""
    import numpy as np

    digits = arrays["label"] < 10
    writers = sorted(set(arrays["client_id"][digits]))
    rows = {
        split: [np.flatnonzero(digits & (arrays["split"] == split) & (arrays["client_id"] == w)) for w in writers]
        for split in EXAMPLES
    }
    if any(len(r) == 0 for split in EXAMPLES for r in rows[split]):
        raise ValueError("every sample writer needs train and test digits to be replicated")
    base = [k % len(writers) for k in range(WRITERS)]
    ids = [f"syn{k:04d}_{writers[b]}" for k, b in enumerate(base)]
    plan = {}
    for split, total in EXAMPLES.items():
        counts = _counts([len(rows[split][b]) for b in base], total, minimum=1)
        plan[split] = [(i, np.resize(rows[split][b], n).tolist()) for i, b, n in zip(ids, base, counts, strict=True)]
    return plan


def _is_current(path: Path) -> bool:
    """Whether `path` is this script's cache at the sizes above."""
    if not path.is_file():
        return False
    from fedkit import data

    try:
        if data.check_cache(path) != SOURCE:
            return False
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
            sizes = dict(
                con.execute(
                    "SELECT split_name, COUNT(DISTINCT client_id) || '/' || SUM(num_examples) FROM client_metadata "
                    "WHERE split_name LIKE 'digits_only_%' GROUP BY split_name"
                )
            )
    except (data.DataError, sqlite3.DatabaseError):
        return False
    return sizes == {f"digits_only_{s}": f"{WRITERS}/{n}" for s, n in EXAMPLES.items()}


def build(cache_dir: str | os.PathLike | None = None, verbose: bool = True) -> Path:
    """The synthetic cache's folder, written (atomically) unless a current one is there already."""
    from fedkit import data
    from fedkit.data import emnist

    cache_dir = Path(cache_dir) if cache_dir else default_dir()
    target = cache_dir / data.CACHE_FILE
    if _is_current(target):
        return cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    try:
        # The sample's own splits (both families), as the kit writes them; the digits are then replaced.
        emnist.write_sample_sqlite(None, tmp / data.CACHE_FILE)
        arrays = data.read_sample()
        pixels = arrays["pixels"].astype("float32") / 255.0
        proto: dict[int, bytes] = {}
        with contextlib.closing(sqlite3.connect(tmp / data.CACHE_FILE)) as con, con:
            con.execute("DELETE FROM examples WHERE split_name LIKE 'digits_only_%'")
            con.execute("DELETE FROM client_metadata WHERE split_name LIKE 'digits_only_%'")
            for split, writers in _plan(arrays).items():
                name = f"digits_only_{split}"
                for writer, rows in writers:
                    for r in rows:
                        if r not in proto:
                            proto[r] = emnist._serialize(pixels[r], int(arrays["label"][r]))
                    con.executemany("INSERT INTO examples VALUES (?, ?, ?)", ((name, writer, proto[r]) for r in rows))
                con.executemany(
                    "INSERT INTO client_metadata VALUES (?, ?, ?)", ((w, name, len(rows)) for w, rows in writers)
                )
            con.execute("UPDATE fedkit_provenance SET value = ? WHERE key = 'source'", (SOURCE,))
            con.execute("INSERT INTO fedkit_provenance VALUES ('note', ?)", (LABEL,))
        os.replace(tmp / data.CACHE_FILE, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if verbose:
        print(f"Wrote {target} ({target.stat().st_size / 1e9:.2f} GB) in {time.perf_counter() - start:.0f} s.")
    return cache_dir


def load(cache_dir: str | os.PathLike | None = None, verbose: bool = True):
    """(train, test) `ClientData` of the synthetic digits, in memory (built first when missing)."""
    from fedkit import data

    cache_dir = build(cache_dir, verbose=verbose)
    # source="tff": the kit's loader over a cache that is not the sample (the sample's source would rewrite it).
    return data.load_emnist(only_digits=True, cache_dir=cache_dir, source="tff", verbose=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: outputs/full-size-emnist/")
    args = parser.parse_args()
    start = time.perf_counter()
    train, test = load(args.cache_dir)
    print(
        f"{LABEL}: train {len(train.client_ids)} writers, test {len(test.client_ids)} writers; "
        f"loaded in {time.perf_counter() - start:.0f} s."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
