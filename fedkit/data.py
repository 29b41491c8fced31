"""Federated EMNIST: TFF's own loader over a cache that is TFF's download or the offline FEMNIST sample.

The sample (`../shared/data/femnist-leaf-sample/`) is written into `<cache_dir>/emnist_all.sqlite`
in TFF's own format, so `tff.simulation.datasets.emnist.load_data` reads it exactly as it reads
the real download.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

CACHE_FILE = "emnist_all.sqlite"
SAMPLE_ENV = "FEDKIT_SAMPLE"
SAMPLE_FILE = "femnist_leaf_sample.npz"
SOURCES = ("auto", "sample", "tff")
SHUFFLE_BUFFER = 418
BATCH_SIZE = 20
TEST_BATCH_SIZE = 500
_SAMPLE_KEYS = {"pixels": ("u", 3), "label": ("u", 1), "client_id": ("U", 1), "split": ("U", 1)}
_SQLITE_MAGIC = b"SQLite format 3\x00"


class DataError(ValueError):
    """A data file that is missing, truncated or not in the expected format."""


def default_sample_path() -> Path:
    """Where the FEMNIST sample is looked for: `$FEDKIT_SAMPLE`, else `../shared` beside the checkout."""
    if os.environ.get(SAMPLE_ENV):
        return Path(os.environ[SAMPLE_ENV])
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "femnist-leaf-sample" / SAMPLE_FILE


def _sample_file(path: str | os.PathLike | None) -> Path:
    path = Path(path) if path is not None else default_sample_path()
    if path.is_dir():
        path = path / SAMPLE_FILE
    if not path.is_file():
        raise DataError(
            f"FEMNIST sample not found at {path}: put ../shared beside the checkout, or pass "
            f"sample=PATH or set {SAMPLE_ENV}=PATH to {SAMPLE_FILE}."
        )
    return path


def read_sample(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The FEMNIST sample's arrays, checked against its documented schema."""
    path = _sample_file(path)
    try:
        with np.load(path) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as e:  # np.load raises many kinds on a bad archive
        raise DataError(f"{path} is not a readable .npz archive ({e}); restore it from ../shared.") from e
    missing = sorted(set(_SAMPLE_KEYS) - set(arrays))
    if missing:
        raise DataError(f"{path} lacks the arrays {missing}: it is not the FEMNIST sample.")
    n = len(arrays["label"])
    for key, (kind, ndim) in _SAMPLE_KEYS.items():
        a = arrays[key]
        if a.dtype.kind != kind or a.ndim != ndim or len(a) != n:
            raise DataError(f"{path}: array {key!r} has dtype {a.dtype} and shape {a.shape}, not the sample's.")
    if arrays["pixels"].shape[1:] != (28, 28) or arrays["label"].max(initial=0) > 61:
        raise DataError(f"{path}: pixels must be [N, 28, 28] and labels 0-61.")
    if not set(np.unique(arrays["split"])) <= {"train", "test"}:
        raise DataError(f"{path}: split must be 'train' or 'test'.")
    return arrays


def _serialize(pixels: np.ndarray, label: int) -> bytes:
    feature = {
        "pixels": tf.train.Feature(float_list=tf.train.FloatList(value=pixels.reshape(-1))),
        "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def _split_rows(arrays: dict[str, np.ndarray], family_mask: np.ndarray) -> dict[str, np.ndarray]:
    """Row indices per split of one family; writers with under 2 examples in it are left out."""
    writers, counts = np.unique(arrays["client_id"][family_mask], return_counts=True)
    kept = family_mask & np.isin(arrays["client_id"], writers[counts >= 2])
    return {s: np.flatnonzero(kept & (arrays["split"] == s)) for s in ("train", "test")}


def write_sample_sqlite(sample: str | os.PathLike | None, target: str | os.PathLike) -> Path:
    """Write the FEMNIST sample as TFF's `emnist_all.sqlite` (atomically: all or nothing)."""
    source = _sample_file(sample)
    arrays = read_sample(source)
    target = Path(target)
    pixels = arrays["pixels"].astype(np.float32) / 255.0
    families = {"digits_only": arrays["label"] < 10, "all": np.ones(len(arrays["label"]), bool)}
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".partial", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        with sqlite3.connect(tmp) as con:
            con.execute("CREATE TABLE examples (split_name TEXT NOT NULL, client_id TEXT NOT NULL, "
                        "serialized_example_proto BLOB NOT NULL)")  # fmt: skip
            con.execute("CREATE TABLE client_metadata (client_id TEXT NOT NULL, split_name TEXT NOT NULL, "
                        "num_examples INTEGER NOT NULL)")  # fmt: skip
            con.execute("CREATE TABLE fedkit_provenance (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            for family, mask in families.items():
                for split, rows in _split_rows(arrays, mask).items():
                    name = f"{family}_{split}"
                    con.executemany(
                        "INSERT INTO examples VALUES (?, ?, ?)",
                        ((name, str(arrays["client_id"][i]), _serialize(pixels[i], int(arrays["label"][i])))
                         for i in rows),
                    )  # fmt: skip
                    ids, counts = np.unique(arrays["client_id"][rows], return_counts=True)
                    con.executemany(
                        "INSERT INTO client_metadata VALUES (?, ?, ?)",
                        ((str(c), name, int(k)) for c, k in zip(ids, counts, strict=True)),
                    )
            con.execute("CREATE INDEX examples_client ON examples (client_id, split_name)")
            con.executemany(
                "INSERT INTO fedkit_provenance VALUES (?, ?)",
                [("source", "femnist-leaf-sample"), ("sample_sha256", _sha256(source))],
            )
        con.close()
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_cache(path: str | os.PathLike) -> str:
    """Check that `path` is a complete TFF-format EMNIST sqlite; return where it came from."""
    path = Path(path)
    fix = f"delete {path} and load again"
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or header[:16] != _SQLITE_MAGIC:
        raise DataError(f"{path} is not an SQLite database: {fix}.")
    page_size, pages = struct.unpack(">H", header[16:18])[0], struct.unpack(">I", header[28:32])[0]
    page_size = 65536 if page_size == 1 else page_size
    if path.stat().st_size < page_size * pages:
        raise DataError(f"{path} is truncated ({path.stat().st_size} of {page_size * pages} bytes): {fix}.")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not {"examples", "client_metadata"} <= tables:
                raise DataError(f"{path} lacks TFF's tables 'examples' and 'client_metadata': {fix}.")
            splits = {r[0] for r in con.execute("SELECT DISTINCT split_name FROM client_metadata")}
            wanted = {"digits_only_train", "digits_only_test", "all_train", "all_test"}
            if not wanted <= splits:
                raise DataError(f"{path} lacks the EMNIST splits {sorted(wanted - splits)}: {fix}.")
            if "fedkit_provenance" in tables:
                return dict(con.execute("SELECT key, value FROM fedkit_provenance"))["source"]
    except sqlite3.DatabaseError as e:
        raise DataError(f"{path} is not a readable SQLite database ({e}): {fix}.") from e
    return "tff-download"


def _describe(path: Path, split: str) -> tuple[int, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        clients, examples = con.execute(
            "SELECT COUNT(DISTINCT client_id), SUM(num_examples) FROM client_metadata WHERE split_name = ?",
            (split,),
        ).fetchone()
    return clients, examples or 0


def _ensure_writable(cache_dir: Path) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=cache_dir).close()
    except OSError as e:
        raise DataError(f"cache_dir {cache_dir} cannot be written ({e.strerror}): pass a writable cache_dir.") from e


def load_emnist(
    only_digits: bool = True,
    cache_dir: str | os.PathLike = "data",
    source: str = "auto",
    sample: str | os.PathLike | None = None,
    verbose: bool = True,
) -> tuple[tff.simulation.datasets.ClientData, tff.simulation.datasets.ClientData]:
    """Federated EMNIST (train, test) `ClientData` via TFF's own loader; see the module docstring."""
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: choose one of {', '.join(SOURCES)}.")
    cache_dir = Path(cache_dir)
    cached = cache_dir / CACHE_FILE
    origin = check_cache(cached) if cached.exists() else None
    if source == "auto":
        source = "tff" if origin == "tff-download" else "sample"
        if origin is None and not _sample_file_exists(sample):
            source = "tff"
    if source == "sample" and origin != "femnist-leaf-sample":
        if origin == "tff-download":
            raise DataError(f"{cached} holds TFF's full download; use another cache_dir for the sample.")
        _ensure_writable(cache_dir)
        # Silent (a few seconds): notebooks must print the same whether or not the cache existed.
        write_sample_sqlite(sample, cached)
    elif source == "tff" and origin == "femnist-leaf-sample":
        raise DataError(f"{cached} holds the FEMNIST sample, not TFF's download: use another cache_dir.")
    elif source == "tff" and origin is None:
        _ensure_writable(cache_dir)
        _download(cache_dir)
    train, test = tff.simulation.datasets.emnist.load_data(only_digits=only_digits, cache_dir=str(cache_dir))
    if verbose:
        family = "digits_only" if only_digits else "all"
        name = "FEMNIST sample (LEAF, real handwriting)" if source == "sample" else "TFF federated EMNIST"
        (a, b), (c, d) = _describe(cached, f"{family}_train"), _describe(cached, f"{family}_test")
        print(f"Loaded {name}, {'digits' if only_digits else '62 classes'}: "
              f"train {a} clients / {b:,} examples, test {c} clients / {d:,} examples.")  # fmt: skip
    return train, test


def _sample_file_exists(sample: str | os.PathLike | None) -> bool:
    try:
        _sample_file(sample)
    except DataError:
        return False
    return True


def _download(cache_dir: Path) -> None:
    """TFF's download, removing the partial file it leaves when it fails."""
    try:
        tff.simulation.datasets.emnist.load_data(cache_dir=str(cache_dir))
    except Exception as e:
        (cache_dir / CACHE_FILE).unlink(missing_ok=True)
        raise DataError(
            f"downloading EMNIST into {cache_dir} failed ({e}); offline, use source='sample' "
            f"with the FEMNIST sample (../shared/data/femnist-leaf-sample/)."
        ) from e


def preprocess(
    dataset: tf.data.Dataset,
    epochs: int = 1,
    batch_size: int = BATCH_SIZE,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    flat: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """The tutorial's client pipeline: repeat epochs, shuffle 418, batch 20, (x, y) batches."""
    shape = [-1, 784] if flat else [-1, 28, 28, 1]

    def to_xy(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
        return tf.reshape(batch["pixels"], shape), tf.reshape(batch["label"], [-1, 1])

    return (
        dataset.repeat(epochs).shuffle(shuffle_buffer, seed=seed).batch(batch_size).map(to_xy).prefetch(1)
    )


def preprocess_test(dataset: tf.data.Dataset, flat: bool = False) -> tf.data.Dataset:
    """Test batches of 500, no shuffling."""
    return preprocess(dataset, batch_size=TEST_BATCH_SIZE, shuffle_buffer=1, flat=flat)


def sample_clients(
    client_data: tff.simulation.datasets.ClientData, num_clients: int, rng: np.random.Generator
) -> list[str]:
    """`num_clients` distinct client ids drawn with `rng` (seeded sampling)."""
    available = len(client_data.client_ids)
    if not 0 < num_clients <= available:
        raise ValueError(f"num_clients={num_clients}: choose between 1 and the {available} clients available.")
    return sorted(rng.choice(client_data.client_ids, size=num_clients, replace=False).tolist())


def federated_data(
    client_data: tff.simulation.datasets.ClientData, client_ids: Sequence[str], **preprocess_kwargs
) -> list[tf.data.Dataset]:
    """Preprocessed datasets of the given clients, one per client, ready for a round."""
    return [preprocess(client_data.create_tf_dataset_for_client(c), **preprocess_kwargs) for c in client_ids]
