"""fedkit.data: the shipped sample in TFF's sqlite format, served from memory like TFF's loader; bad input."""

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff
from conftest import ROOT, write_npz

from fedkit.data import emnist as data  # the module; `emnist` is the loaded-data fixture


def test_sample_cache_is_tff_format(sample_cache):
    with sqlite3.connect(sample_cache / data.CACHE_FILE) as con:
        columns = {r[1] for r in con.execute("PRAGMA table_info(examples)")}
        splits = {r[0] for r in con.execute("SELECT DISTINCT split_name FROM examples")}
    assert {"split_name", "client_id", "serialized_example_proto"} <= columns
    assert splits == {"digits_only_train", "digits_only_test", "all_train", "all_test"}
    assert data.check_cache(sample_cache / data.CACHE_FILE) == "femnist-leaf-sample"


def test_tff_loader_reads_the_sample_like_the_npz(emnist):
    train, test = emnist
    arrays = data.read_sample()
    digits = arrays["label"] < 10
    writers, counts = np.unique(arrays["client_id"][digits], return_counts=True)
    kept = digits & np.isin(arrays["client_id"], writers[counts >= 2])
    assert train.client_ids == sorted(set(arrays["client_id"][kept & (arrays["split"] == "train")]))
    client = train.client_ids[0]
    rows = np.flatnonzero(kept & (arrays["split"] == "train") & (arrays["client_id"] == client))
    examples = list(train.create_tf_dataset_for_client(client))
    assert len(examples) == len(rows)
    assert examples[0]["label"].dtype == tf.int32 and examples[0]["pixels"].shape == (28, 28)
    np.testing.assert_array_equal(examples[0]["pixels"].numpy(), arrays["pixels"][rows[0]] / np.float32(255))
    assert int(examples[0]["label"]) == arrays["label"][rows[0]]
    assert len(test.client_ids) > 0


def test_all_classes_and_writers_with_one_example_left_out(tmp_path):
    npz = write_npz(tmp_path / "s.npz")
    train, test = data.load_emnist(only_digits=False, cache_dir=tmp_path / "c", sample=npz, verbose=False)
    assert train.client_ids == ["w1", "w2"]  # w3 has a single example
    labels = [int(e["label"]) for e in train.create_tf_dataset_for_client("w1")]
    assert labels == [0, 1, 11]
    digits_train, digits_test = data.load_emnist(cache_dir=tmp_path / "c", sample=npz, verbose=False)
    assert [int(e["label"]) for e in digits_train.create_tf_dataset_for_client("w1")] == [0, 1]
    assert digits_test.client_ids == ["w1", "w2"]


def test_load_says_what_it_loaded_the_same_with_or_without_cache(tmp_path, capsys):
    npz = write_npz(tmp_path / "s.npz")
    outputs = []
    for _ in range(2):  # first call writes the cache, second reads it: notebooks must print the same
        data.load_emnist(cache_dir=tmp_path / "c", sample=npz)
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert outputs[0].startswith("Loaded FEMNIST sample") and "train 2 clients / 4 examples" in outputs[0]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"label": np.zeros(11, np.int64)}, "array 'label'"),
        ({"pixels": np.zeros((11, 28, 27), np.uint8)}, "pixels must be"),
        ({"split": np.array(["train"] * 10 + ["dev"])}, "split must be"),
    ],
)
def test_bad_sample_is_rejected_and_leaves_no_cache(tmp_path, overrides, message):
    npz = write_npz(tmp_path / "bad.npz", **overrides)
    cache = tmp_path / "c"
    with pytest.raises(data.DataError, match=message):
        data.load_emnist(cache_dir=cache, sample=npz, source="sample", verbose=False)
    assert list(cache.glob("*")) == []


def test_sample_missing_keys_or_not_npz(tmp_path):
    np.savez(tmp_path / "k.npz", pixels=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(data.DataError, match="lacks the arrays"):
        data.read_sample(tmp_path / "k.npz")
    (tmp_path / "x.npz").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(data.DataError, match="not a readable .npz"):
        data.read_sample(tmp_path / "x.npz")
    with pytest.raises(data.DataError, match="FEMNIST sample not found.*FEDKIT_SAMPLE"):
        data.read_sample(tmp_path / "nowhere.npz")


def test_failure_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(data, "_serialize", broken)
    with pytest.raises(OSError, match="disk full"):
        data.write_sample_sqlite(write_npz(tmp_path / "s.npz"), tmp_path / data.CACHE_FILE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npz"]


def test_truncated_foreign_and_garbage_caches_are_named(tmp_path, sample_cache):
    good = (sample_cache / data.CACHE_FILE).read_bytes()
    cases = {
        "truncated": good[: len(good) // 2],
        "not an SQLite": b"hello" * 100,
    }
    for expected, content in cases.items():
        cache = tmp_path / expected.replace(" ", "_")
        cache.mkdir()
        (cache / data.CACHE_FILE).write_bytes(content)
        with pytest.raises(data.DataError, match=f"{data.CACHE_FILE}.*{expected}.*delete"):
            data.load_emnist(cache_dir=cache, verbose=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    with sqlite3.connect(foreign / data.CACHE_FILE) as con:
        con.execute("CREATE TABLE t (x)")
    with pytest.raises(data.DataError, match="lacks TFF's tables"):
        data.load_emnist(cache_dir=foreign, verbose=False)


def test_unwritable_cache_dir_and_bad_source(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(data.DataError, match="cannot be written"):
        data.load_emnist(cache_dir=blocker / "sub", source="sample", verbose=False)
    with pytest.raises(ValueError, match="source='kaggle'"):
        data.load_emnist(source="kaggle")


def test_sample_cache_is_not_mistaken_for_the_download(sample_cache):
    with pytest.raises(data.DataError, match="holds the FEMNIST sample"):
        data.load_emnist(cache_dir=sample_cache, source="tff", verbose=False)


def test_failed_download_keeps_nothing(tmp_path, monkeypatch):
    def partial_download(only_digits=True, cache_dir=None):
        (Path(cache_dir) / data.CACHE_FILE).write_bytes(b"SQLite format 3\x00 partial")
        raise ConnectionError("no network")

    monkeypatch.setattr(data.tff.simulation.datasets.emnist, "load_data", partial_download)
    with pytest.raises(data.DataError, match=f"downloading {data.TFF_ARCHIVE} \\(about 170 MB.*nothing was kept"):
        data.load_emnist(cache_dir=tmp_path, source="tff", verbose=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flat, shape", [(False, (20, 28, 28, 1)), (True, (20, 784))])
def test_preprocess_batches(emnist, flat, shape):
    train, _ = emnist
    ds = train.create_tf_dataset_for_client(train.client_ids[0])
    n = len(list(ds))
    batches = list(data.preprocess(ds, epochs=2, flat=flat, seed=1))
    assert batches[0][0].shape == shape and batches[0][1].shape == (20, 1)
    assert sum(int(b[1].shape[0]) for b in batches) == 2 * n
    test_batches = list(data.preprocess_test(ds, flat=flat))
    assert [int(b[1].shape[0]) for b in test_batches] == [n]  # one batch of up to 500


def test_client_sampling_is_seeded_and_checked(emnist):
    train, _ = emnist
    a = data.sample_clients(train, 10, np.random.default_rng(3))
    b = data.sample_clients(train, 10, np.random.default_rng(3))
    assert a == b and len(set(a)) == 10 and set(a) <= set(train.client_ids)
    with pytest.raises(ValueError, match=f"num_clients=1000: choose between 1 and the {len(train.client_ids)}"):
        data.sample_clients(train, 1000, np.random.default_rng(0))


def test_sample_ships_inside_the_package_and_is_checked(monkeypatch, tmp_path):
    shipped = data.shipped_sample()
    assert shipped.parent.parent == Path(data.__file__).parent
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == data.SAMPLE_SHA256
    monkeypatch.delenv(data.SAMPLE_ENV, raising=False)
    assert data.default_sample_path() == shipped
    monkeypatch.setenv(data.SAMPLE_ENV, str(tmp_path / "elsewhere.npz"))
    assert data.default_sample_path() == tmp_path / "elsewhere.npz"
    tampered = tmp_path / "fedkit" / "data" / "sample" / data.SAMPLE_FILE
    tampered.parent.mkdir(parents=True)
    raw = shipped.read_bytes()
    tampered.write_bytes(raw[:1000] + bytes([raw[1000] ^ 1]) + raw[1001:])  # one bit flipped
    monkeypatch.delenv(data.SAMPLE_ENV)
    monkeypatch.setattr(data, "shipped_sample", lambda: tampered)
    with pytest.raises(data.DataError, match=f"{tampered} has sha256 .*not the FEMNIST sample's.*reinstall fedkit"):
        data.read_sample()


def _examples(dataset: tf.data.Dataset) -> list[tuple[int, np.ndarray]]:
    return [(int(e["label"]), e["pixels"].numpy()) for e in dataset]


def test_in_memory_client_data_equals_tffs_sqlite_client_data(emnist, sample_cache):
    tff_train, tff_test = tff.simulation.datasets.emnist.load_data(cache_dir=str(sample_cache))
    for ours, theirs in ((emnist[0], tff_train), (emnist[1], tff_test)):
        assert ours.client_ids == theirs.client_ids
        assert ours.element_type_structure == theirs.element_type_structure
        for client in (ours.client_ids[0], ours.client_ids[len(ours.client_ids) // 2], ours.client_ids[-1]):
            a = _examples(ours.create_tf_dataset_for_client(client))
            b = _examples(theirs.create_tf_dataset_for_client(client))
            assert [label for label, _ in a] == [label for label, _ in b]
            np.testing.assert_array_equal(np.stack([p for _, p in a]), np.stack([p for _, p in b]))
    client = emnist[0].client_ids[3]
    for flat in (False, True):
        ours = list(data.preprocess(emnist[0].create_tf_dataset_for_client(client), epochs=2, flat=flat, seed=5))
        theirs = list(data.preprocess(tff_train.create_tf_dataset_for_client(client), epochs=2, flat=flat, seed=5))
        assert len(ours) == len(theirs)
        for (x, y), (tx, ty) in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(x.numpy(), tx.numpy())
            np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_in_memory_client_data_serves_tensor_client_ids(emnist):
    train, _ = emnist
    labels = [int(e["label"]) for e in train.create_tf_dataset_from_all_clients(seed=0)]
    arrays = data.read_sample()  # every digit of the training writers, from the shipped sample itself
    rows = (arrays["label"] < 10) & (arrays["split"] == "train") & np.isin(arrays["client_id"], train.client_ids)
    assert sorted(labels) == sorted(arrays["label"][rows].tolist())
    client = train.client_ids[1]
    from_tensor = _examples(train.serializable_dataset_fn(tf.constant(client)))
    from_str = _examples(train.create_tf_dataset_for_client(client))
    assert [label for label, _ in from_tensor] == [label for label, _ in from_str]
    np.testing.assert_array_equal(np.stack([p for _, p in from_tensor]), np.stack([p for _, p in from_str]))


def test_cache_path_that_is_a_directory(tmp_path):
    (tmp_path / data.CACHE_FILE).mkdir()
    with pytest.raises(data.DataError, match=f"{data.CACHE_FILE} is a directory.*remove it, or pass another cache_dir"):
        data.load_emnist(cache_dir=tmp_path, verbose=False)


def test_cache_corrupted_mid_file_is_named(tmp_path, sample_cache):
    good = bytearray((sample_cache / data.CACHE_FILE).read_bytes())
    middle = len(good) // 2
    good[middle : middle + 65536] = b"\xff" * 65536  # whole pages of garbage, header and length intact
    (tmp_path / data.CACHE_FILE).write_bytes(bytes(good))
    with pytest.raises(data.DataError, match=f"{tmp_path / data.CACHE_FILE} cannot be read .*delete it and load again"):
        data.load_emnist(cache_dir=tmp_path, verbose=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"split": np.array(["train"] * 11)}, "has no 'test' rows"),
        ({"label": np.array([0, 1, 12, 11, 13, 40, 5, 6, 17, 18, 9], np.uint8)}, "has no digits in its 'test' split"),
    ],
)
def test_sample_without_test_rows_is_named_and_writes_nothing(tmp_path, overrides, message):
    npz = write_npz(tmp_path / "s.npz", **overrides)
    cache = tmp_path / "c"
    with pytest.raises(data.DataError, match=f"{npz}.*{message}"):
        data.load_emnist(cache_dir=cache, sample=npz, verbose=False)
    assert list(cache.glob("*")) == []


def test_failed_write_leaves_no_cache_that_the_next_call_misreads(tmp_path, monkeypatch, capsys):
    npz = write_npz(tmp_path / "s.npz")
    cache = tmp_path / "c"
    with monkeypatch.context() as patched:
        patched.setattr(data, "_serialize", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
        with pytest.raises(OSError, match="disk full"):
            data.load_emnist(cache_dir=cache, sample=npz, verbose=False)
    assert list(cache.iterdir()) == []
    train, _ = data.load_emnist(cache_dir=cache, sample=npz)
    assert "train 2 clients / 4 examples" in capsys.readouterr().out
    assert [int(e["label"]) for e in train.create_tf_dataset_for_client("w1")] == [0, 1]


def test_nothing_reads_beside_the_checkout():
    needle = "../" + "shared"
    files = [ROOT / "Makefile", *(p for d in ("fedkit", "notebooks", "tests") for p in (ROOT / d).rglob("*"))]
    offenders = [
        str(p.relative_to(ROOT))
        for p in files
        if p.is_file()
        and p != Path(__file__).resolve()
        and "__pycache__" not in p.parts
        and needle.encode() in p.read_bytes()
    ]
    assert offenders == [], f"{offenders} mention {needle}: the kit must run from a clone with nothing beside it"
