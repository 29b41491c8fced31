"""Layer 3, the clients' data: federated EMNIST (TFF's download or the FEMNIST sample shipped in
`fedkit/data/sample/`) and ways to split examples among clients.

Public names (from `emnist`, which imports TensorFlow on first use):
- `load_emnist`: (train, test) `ClientData` from the cache, written from the sample or TFF's download;
- `preprocess`, `preprocess_test`: a client's dataset as training or test batches;
- `sample_clients`, `federated_data`: one round's clients and their datasets;
- `read_sample`, `write_sample_sqlite`, `check_cache`, `in_memory_client_data`, `shipped_sample`,
  `default_sample_path`, `DataError`, `CACHE_FILE`, `SAMPLE_FILE`, `SOURCES`.

Submodules: `emnist`, and `partition` (by writer, IID and by label splits of one pool of examples).
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.data.emnist import (
        CACHE_FILE as CACHE_FILE,
        SAMPLE_FILE as SAMPLE_FILE,
        SOURCES as SOURCES,
        DataError as DataError,
        check_cache as check_cache,
        default_sample_path as default_sample_path,
        federated_data as federated_data,
        in_memory_client_data as in_memory_client_data,
        load_emnist as load_emnist,
        preprocess as preprocess,
        preprocess_test as preprocess_test,
        read_sample as read_sample,
        sample_clients as sample_clients,
        shipped_sample as shipped_sample,
        write_sample_sqlite as write_sample_sqlite,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
