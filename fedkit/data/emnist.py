"""Federated EMNIST: TFF's own loader over a cache holding TFF's download or the FEMNIST sample, served from memory.

`load_emnist` keeps `<cache_dir>/emnist_all.sqlite` in TFF's own format: either TFF's download
(`source="tff"`) or the real FEMNIST sample that ships inside fedkit (`fedkit/data/sample/`), written
the way TFF writes it. TFF's loader opens the file; the examples are then parsed once into memory,
so a round reads no file and parses no `tf.train.Example`.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import importlib.resources
import io
import os
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.common import checks

CACHE_FILE = "emnist_all.sqlite"
TFF_ARCHIVE = "emnist_all.sqlite.lzma"
TFF_ARCHIVE_SIZE = "about 170 MB, 4.7 GB once decompressed"
SAMPLE_ENV = "FEDKIT_SAMPLE"
SAMPLE_FILE = "femnist_leaf_sample.npz"
SAMPLE_SHA256 = "6f93cc469697b11c710a59ad7ea04825e298903b509542d0ce1091eb6c0eaa3e"
SOURCES = ("auto", "sample", "tff")
SHUFFLE_BUFFER = 418
BATCH_SIZE = 20
TEST_BATCH_SIZE = 500
_SAMPLE_KEYS = {"pixels": ("u", 3), "label": ("u", 1), "client_id": ("U", 1), "split": ("U", 1)}
_SQLITE_MAGIC = b"SQLite format 3\x00"
# TFF's own parsing of EMNIST's tf.train.Example protos (tff.simulation.datasets.emnist).
_EXAMPLE_SPEC = {
    "pixels": tf.io.FixedLenFeature(shape=(28, 28), dtype=tf.float32),
    "label": tf.io.FixedLenFeature(shape=(), dtype=tf.int64),
}
_PARSE_CHUNK = 1_000  # small chunks: parsing 10,000 at a time left ~0.1 GB more resident
_SqlFormatError = tff.simulation.datasets.sql_client_data.DatabaseFormatError
_READ_ERRORS = (sqlite3.DatabaseError, tf.errors.OpError, OSError, _SqlFormatError)


class DataError(ValueError):
    """A data file that is missing, truncated or not in the expected format."""


def shipped_sample() -> Path:
    """The FEMNIST sample that ships inside the fedkit package."""
    return Path(str(importlib.resources.files("fedkit.data").joinpath("sample", SAMPLE_FILE)))


def default_sample_path() -> Path:
    """Where the FEMNIST sample is read from: `$FEDKIT_SAMPLE`, else the copy shipped in fedkit."""
    return Path(os.environ[SAMPLE_ENV]) if os.environ.get(SAMPLE_ENV) else shipped_sample()


def _sample_file(path: str | os.PathLike | None) -> Path:
    path = Path(path) if path is not None else default_sample_path()
    if path.is_dir():
        path = path / SAMPLE_FILE
    if not path.is_file():
        fix = (
            "reinstall fedkit"
            if path == shipped_sample()
            else f"pass sample=PATH or set {SAMPLE_ENV}=PATH to {SAMPLE_FILE}, or neither for the copy in fedkit"
        )
        raise DataError(f"FEMNIST sample not found at {path}: {fix}.")
    return path


@functools.cache
def _shipped_sample_bytes(path: Path) -> bytes:
    """The shipped sample's bytes, checked against its published sha256 (once per process)."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SAMPLE_SHA256:
        raise DataError(f"{path} has sha256 {digest}, not the FEMNIST sample's {SAMPLE_SHA256}: reinstall fedkit.")
    return raw


def _sample_bytes(path: Path) -> bytes:
    return _shipped_sample_bytes(path) if path == shipped_sample() else path.read_bytes()


def read_sample(path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """The FEMNIST sample's arrays, checked against its documented schema."""
    path = _sample_file(path)
    try:
        with np.load(io.BytesIO(_sample_bytes(path))) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except DataError:
        raise
    except Exception as e:  # np.load raises many kinds on a bad archive
        raise DataError(f"{path} is not a readable .npz archive ({e}): pass the FEMNIST sample's {SAMPLE_FILE}.") from e
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
    for split in ("train", "test"):
        if not (arrays["split"] == split).any():
            raise DataError(f"{path} has no {split!r} rows: a sample needs train and test examples for its writers.")
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
    families = {"digits_only": arrays["label"] < 10, "all": np.ones(len(arrays["label"]), bool)}
    splits = {family: _split_rows(arrays, mask) for family, mask in families.items()}
    _check_splits(source, splits)
    fd, tmp = tempfile.mkstemp(prefix=target.name + ".", suffix=".partial", dir=target.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)
    try:
        with contextlib.closing(sqlite3.connect(tmp)) as con, con:
            _create_tables(con)
            _insert_examples(con, arrays, splits)
            sha = hashlib.sha256(_sample_bytes(source)).hexdigest()
            con.executemany(
                "INSERT INTO fedkit_provenance VALUES (?, ?)",
                [("source", "femnist-leaf-sample"), ("sample_sha256", sha)],
            )
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def _check_splits(source: Path, splits: dict[str, dict[str, np.ndarray]]) -> None:
    """Refuse a sample that leaves a family (digits, all) without train or test rows."""
    for family, by_split in splits.items():
        for split in ("train", "test"):
            if not len(by_split[split]):
                what = "digits" if family == "digits_only" else "examples"
                raise DataError(
                    f"{source} has no {what} in its {split!r} split (writers with under 2 are left out): "
                    "a sample needs train and test digits."
                )


def _create_tables(con: sqlite3.Connection) -> None:
    """TFF's two tables, and fedkit's provenance table."""
    con.execute(
        "CREATE TABLE examples (split_name TEXT NOT NULL, client_id TEXT NOT NULL, "
        "serialized_example_proto BLOB NOT NULL)"
    )
    con.execute(
        "CREATE TABLE client_metadata (client_id TEXT NOT NULL, split_name TEXT NOT NULL, "
        "num_examples INTEGER NOT NULL)"
    )
    con.execute("CREATE TABLE fedkit_provenance (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _insert_examples(con: sqlite3.Connection, arrays: dict[str, np.ndarray], splits: dict) -> None:
    """Each family's split rows as TFF's serialized examples, with the per-writer counts, then the index."""
    pixels = arrays["pixels"].astype(np.float32) / 255.0
    for family, family_splits in splits.items():
        for split, rows in family_splits.items():
            name = f"{family}_{split}"
            con.executemany(
                "INSERT INTO examples VALUES (?, ?, ?)",
                ((name, str(arrays["client_id"][i]), _serialize(pixels[i], int(arrays["label"][i]))) for i in rows),
            )
            ids, counts = np.unique(arrays["client_id"][rows], return_counts=True)
            con.executemany(
                "INSERT INTO client_metadata VALUES (?, ?, ?)",
                ((str(c), name, int(k)) for c, k in zip(ids, counts, strict=True)),
            )
    con.execute("CREATE INDEX examples_client ON examples (client_id, split_name)")


def check_cache(path: str | os.PathLike, fix: str | None = None) -> str:
    """Check that `path` is a complete TFF-format EMNIST sqlite; return where it came from."""
    path = Path(path)
    fix = fix or f"delete {path} and load again"
    if path.is_dir():
        raise DataError(f"{path} is a directory, not TFF's {CACHE_FILE}: remove it, or pass another cache_dir.")
    with open(path, "rb") as f:
        header = f.read(100)
    if len(header) < 100 or header[:16] != _SQLITE_MAGIC:
        raise DataError(f"{path} is not an SQLite database: {fix}.")
    page_size, pages = struct.unpack(">H", header[16:18])[0], struct.unpack(">I", header[28:32])[0]
    page_size = 65536 if page_size == 1 else page_size
    # The header's page count is valid when its change counter matches "version-valid-for" (SQLite's file format).
    if header[24:28] == header[92:96] and path.stat().st_size < page_size * pages:
        raise DataError(f"{path} is truncated ({path.stat().st_size} of {page_size * pages} bytes): {fix}.")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
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
    """(clients, examples) of one split, from TFF's client_metadata table."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        clients, examples = con.execute(
            "SELECT COUNT(DISTINCT client_id), SUM(num_examples) FROM client_metadata WHERE split_name = ?",
            (split,),
        ).fetchone()
    return clients, examples or 0


def _compact(pixels: np.ndarray) -> np.ndarray:
    """uint8 when every value is exactly k/255 (so k / 255 in float32 gives it back), else the float32 as read."""
    scaled = np.rint(pixels * 255)
    if scaled.size and (scaled.min() < 0 or scaled.max() > 255):
        return pixels
    exact = scaled.astype(np.uint8)
    return exact if np.array_equal(exact.astype(np.float32) / np.float32(255), pixels) else pixels


def _parse_split(path: Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every example of one split, parsed once: (owner client ids, int32 labels, pixels) in the table's order."""
    owners: list[str] = []
    label_chunks: list[np.ndarray] = []
    pixel_chunks: list[np.ndarray] = []
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as con:
        rows = con.execute(
            "SELECT client_id, serialized_example_proto FROM examples WHERE split_name = ? ORDER BY rowid", (split,)
        )
        while chunk := rows.fetchmany(_PARSE_CHUNK):
            ids, protos = zip(*chunk, strict=True)
            parsed = tf.io.parse_example(tf.constant(protos, tf.string), _EXAMPLE_SPEC)
            owners.extend(ids)
            label_chunks.append(parsed["label"].numpy().astype(np.int32))
            pixel_chunks.append(_compact(parsed["pixels"].numpy()))
    if all(p.dtype == np.uint8 for p in pixel_chunks):
        pixels = np.concatenate(pixel_chunks) if pixel_chunks else np.zeros((0, 28, 28), np.uint8)
    else:
        pixels = np.concatenate(
            [p.astype(np.float32) / np.float32(255) if p.dtype == np.uint8 else p for p in pixel_chunks]
        )
    labels = np.concatenate(label_chunks) if label_chunks else np.zeros(0, np.int32)
    return np.asarray(owners, dtype=str), labels, pixels


def in_memory_client_data(
    client_ids: Sequence[str], owners: np.ndarray, labels: np.ndarray, pixels: np.ndarray
) -> tff.simulation.datasets.ClientData:
    """`ClientData` over parsed examples held in memory, with the elements of TFF's EMNIST loader.

    Each client's dataset is a slice of one array (`from_tensor_slices`), in the order TFF reads it.
    `serializable_dataset_fn` also takes a string tensor (`create_tf_dataset_from_all_clients`,
    `dataset_computation`); that path embeds the arrays in the graph it is traced into.
    """
    order = np.argsort(owners, kind="stable")
    owners, labels, pixels, ids = owners[order], labels[order], pixels[order], np.asarray(client_ids, dtype=str)
    bounds = np.stack([np.searchsorted(owners, ids, "left"), np.searchsorted(owners, ids, "right")], axis=1)
    index = {c: i for i, c in enumerate(client_ids)}

    def dataset_fn(client_id: str | tf.Tensor) -> tf.data.Dataset:
        if isinstance(client_id, str):
            start, end = bounds[index[client_id]]
            client_labels, client_pixels = labels[start:end], pixels[start:end]
        else:
            row = tf.reshape(tf.where(tf.equal(tf.constant(ids), client_id)), [-1])[0]
            start, end = tf.unstack(tf.gather(tf.constant(bounds), row))
            client_labels, client_pixels = tf.constant(labels)[start:end], tf.constant(pixels)[start:end]
        if client_pixels.dtype == np.uint8:
            client_pixels = tf.cast(client_pixels, tf.float32) / 255.0
        return tf.data.Dataset.from_tensor_slices(collections.OrderedDict(label=client_labels, pixels=client_pixels))

    return tff.simulation.datasets.ClientData.from_clients_and_tf_fn(list(client_ids), dataset_fn)


def _ensure_writable(cache_dir: Path) -> None:
    """Make `cache_dir`, or say in one line why nothing can be written there."""
    problem = checks.folder_problem(cache_dir)
    if problem:
        raise DataError(f"cache_dir {cache_dir} {problem}: pass a writable cache_dir.")
    cache_dir.mkdir(parents=True, exist_ok=True)


def _read_cache(
    cached: Path, only_digits: bool
) -> tuple[tff.simulation.datasets.ClientData, tff.simulation.datasets.ClientData]:
    """TFF's loader over the cache for its client ids, then every example parsed once into memory."""
    family = "digits_only" if only_digits else "all"
    try:
        tff_data = tff.simulation.datasets.emnist.load_data(only_digits=only_digits, cache_dir=str(cached.parent))
        return tuple(
            in_memory_client_data(client_data.client_ids, *_parse_split(cached, f"{family}_{split}"))
            for client_data, split in zip(tff_data, ("train", "test"), strict=True)
        )
    except _READ_ERRORS as e:
        raise DataError(f"{cached} cannot be read ({type(e).__name__}: {e}): delete it and load again.") from e


def load_emnist(
    only_digits: bool = True,
    cache_dir: str | os.PathLike = "data",
    source: str = "auto",
    sample: str | os.PathLike | None = None,
    verbose: bool = True,
) -> tuple[tff.simulation.datasets.ClientData, tff.simulation.datasets.ClientData]:
    """Federated EMNIST (train, test) `ClientData`, parsed once and served from memory.

    `source="auto"` reads `<cache_dir>/emnist_all.sqlite` if present, else writes it from the FEMNIST
    sample (the copy shipped in fedkit, or `sample=` / `$FEDKIT_SAMPLE`); `"sample"` insists on the sample;
    `"tff"` is TFF's full download, `emnist_all.sqlite.lzma` (about 170 MB, 4.7 GB once decompressed),
    which is only ever fetched when asked for. Elements and client ids are those of TFF's own loader.
    """
    if source not in SOURCES:
        raise ValueError(f"source={source!r}: choose one of {', '.join(SOURCES)}.")
    cache_dir = Path(cache_dir)
    cached = cache_dir / CACHE_FILE
    origin = check_cache(cached) if cached.exists() else None
    if source == "auto":
        source = "tff" if origin == "tff-download" else "sample"
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
    train, test = _read_cache(cached, only_digits)
    if verbose:
        family = "digits_only" if only_digits else "all"
        name = "FEMNIST sample (LEAF, real handwriting)" if source == "sample" else "TFF federated EMNIST"
        (a, b), (c, d) = _describe(cached, f"{family}_train"), _describe(cached, f"{family}_test")
        print(
            f"Loaded {name}, {'digits' if only_digits else '62 classes'}: "
            f"train {a} clients / {b:,} examples, test {c} clients / {d:,} examples."
        )
    return train, test


def _download(cache_dir: Path) -> None:
    """TFF's own download into a private folder, moved into the cache only once it is complete."""
    partial = Path(tempfile.mkdtemp(prefix=".download-", dir=cache_dir))
    try:
        tff.simulation.datasets.emnist.load_data(cache_dir=str(partial))
        # A connection cut mid-body ends TFF's stream without an error: the header's page count tells.
        check_cache(partial / CACHE_FILE, fix="the download ended early or is damaged")
        os.replace(partial / CACHE_FILE, cache_dir / CACHE_FILE)
    except Exception as e:
        raise DataError(
            f"downloading {TFF_ARCHIVE} ({TFF_ARCHIVE_SIZE}) into {cache_dir} failed ({type(e).__name__}: {e}); "
            "nothing was kept: retry, or use source='auto' for the FEMNIST sample shipped in fedkit."
        ) from e
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def preprocess(
    dataset: tf.data.Dataset,
    epochs: int = 1,
    batch_size: int = BATCH_SIZE,
    shuffle_buffer: int = SHUFFLE_BUFFER,
    flat: bool = False,
    seed: int | None = None,
    invert: bool = True,
) -> tf.data.Dataset:
    """The tutorial's client pipeline (repeat epochs, shuffle 418, batch 20, (x, y) batches), ink as 1.

    EMNIST's pixels are 1.0 for the white background and fall towards 0 in the ink; `invert` (the
    default) serves `1 - pixels`, so background inputs are 0 and add nothing to a layer's sums.
    `invert=False` gives the tutorial's pixels as TFF stores them.
    """
    shape = [-1, 784] if flat else [-1, 28, 28, 1]

    def to_xy(batch: dict) -> tuple[tf.Tensor, tf.Tensor]:
        pixels = 1.0 - batch["pixels"] if invert else batch["pixels"]
        return tf.reshape(pixels, shape), tf.reshape(batch["label"], [-1, 1])

    return dataset.repeat(epochs).shuffle(shuffle_buffer, seed=seed).batch(batch_size).map(to_xy).prefetch(1)


def preprocess_test(dataset: tf.data.Dataset, flat: bool = False, invert: bool = True) -> tf.data.Dataset:
    """Test batches of 500, no shuffling."""
    return preprocess(dataset, batch_size=TEST_BATCH_SIZE, shuffle_buffer=1, flat=flat, invert=invert)


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
