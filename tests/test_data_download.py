"""fedkit.data's `source="tff"` path, offline: TFF's own download code fetching from a local HTTP server."""

import contextlib
import http.server
import lzma
import sqlite3
import threading

import numpy as np
import pytest
from conftest import write_npz
from tensorflow_federated.python.simulation.datasets import download as tff_download

from fedkit.data import emnist

TFF_URL = f"https://storage.googleapis.com/tff-datasets-public/{emnist.TFF_ARCHIVE}"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> bytes:
    """A small `emnist_all.sqlite.lzma` in TFF's format (no fedkit provenance, as in TFF's own file)."""
    folder = tmp_path_factory.mktemp("archive")
    sqlite = emnist.write_sample_sqlite(write_npz(folder / "s.npz"), folder / emnist.CACHE_FILE)
    with contextlib.closing(sqlite3.connect(sqlite)) as con:
        con.execute("DROP TABLE fedkit_provenance")
        con.commit()
        con.execute("VACUUM")
    return lzma.compress(sqlite.read_bytes())


@pytest.fixture
def server(monkeypatch):
    """A loopback HTTP server for TFF's download; `server.body` and `server.cut` say what it sends."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            httpd.hits.append(self.path)
            body = httpd.body
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if httpd.cut else body)  # a cut closes the connection early

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads, httpd.timeout = True, 10
    httpd.body, httpd.cut, httpd.origins, httpd.hits = b"", False, set(), []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    stopper = threading.Timer(120, httpd.shutdown)  # stops by itself even if the test hangs
    stopper.start()
    fetch = tff_download.get_compressed_file

    def local(origin, cache_dir=None):
        httpd.origins.add(origin)
        return fetch(f"http://127.0.0.1:{httpd.server_port}/{emnist.TFF_ARCHIVE}", cache_dir)

    monkeypatch.setattr(tff_download, "get_compressed_file", local)
    yield httpd
    stopper.cancel()
    httpd.shutdown()
    httpd.server_close()
    thread.join(10)


def test_download_loads_through_tffs_loader(server, archive, tmp_path, capsys):
    server.body = archive
    train, test = emnist.load_emnist(cache_dir=tmp_path, source="tff")
    assert server.origins == {TFF_URL} and server.hits == [f"/{emnist.TFF_ARCHIVE}"]  # TFF's URL, served locally
    assert capsys.readouterr().out.startswith("Loaded TFF federated EMNIST, digits: train 2 clients / 4 examples")
    assert sorted(p.name for p in tmp_path.iterdir()) == [emnist.CACHE_FILE]
    assert emnist.check_cache(tmp_path / emnist.CACHE_FILE) == "tff-download"
    assert [int(e["label"]) for e in train.create_tf_dataset_for_client("w1")] == [0, 1]
    pixels = next(iter(test.create_tf_dataset_for_client("w2")))["pixels"].numpy()
    assert pixels.dtype == np.float32 and pixels.shape == (28, 28)
    emnist.load_emnist(cache_dir=tmp_path)  # auto: the cached download, not the sample, and no second request
    assert len(server.hits) == 1 and "TFF federated EMNIST" in capsys.readouterr().out


@pytest.mark.parametrize("failure", ["interrupted", "corrupt"])
def test_failed_download_is_named_and_not_trusted_later(server, archive, tmp_path, capsys, failure):
    server.body = archive if failure == "interrupted" else archive[:64] + b"\x00" * 512 + archive[64:]
    server.cut = failure == "interrupted"
    with pytest.raises(emnist.DataError, match=f"downloading {emnist.TFF_ARCHIVE} .*into {tmp_path} failed"):
        emnist.load_emnist(cache_dir=tmp_path, source="tff", verbose=False)
    assert list(tmp_path.iterdir()) == []
    emnist.load_emnist(cache_dir=tmp_path, sample=write_npz(tmp_path.parent / f"{failure}.npz"))
    assert capsys.readouterr().out.startswith("Loaded FEMNIST sample")  # auto: nothing broken was kept to trust
    assert emnist.check_cache(tmp_path / emnist.CACHE_FILE) == "femnist-leaf-sample"
