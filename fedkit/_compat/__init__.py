"""Every workaround fedkit applies to TensorFlow, TFF, AutoGraph and gRPC, in one place, each guarded by version.

One module per workaround, each with its symptom, why it is needed and the versions it was written for:

- `tff_import_hook` (`tff_import`): fedkit's runtime set-up runs right after TFF's import, whoever imports it;
- `tff_default_context` (`tff_context`): TFF's own local default context, whose worker outlives Python, is
  replaced by fedkit's `LocalContext`;
- `grpc_fail_fast` (`grpc_stub`): a worker that stopped answering is an error, not an endless retry;
- `autograph_sources_unlinked`, `autograph_calls_as_written`, `autograph_builtins_kept` (`autograph`);
- `quiet_bitpacking_warning` (`logs`): tensor_encoding's warning at every bitpacking trace is dropped.

Each applies only on the versions it was written for (`versions.WRITTEN_FOR`, the locked ones); on others it
warns once (`CompatWarning`) and does nothing. `FEDKIT_COMPAT_SKIP=name,...` leaves the named ones out (to check
whether one is still needed: tests/test_compat.py shows each symptom with it). Importing this package does not
import TensorFlow; nothing else in fedkit touches private attributes of TF, TFF, AutoGraph or gRPC.

Who calls what: `fedkit/__init__.py` calls `after_import("tensorflow_federated", ...)`, whose callback imports
`fedkit.runtime.workers`; that module's import calls `install(default_context=LocalContext)` (so importing TFF
next to fedkit, in either order, installs everything) and decorates its gRPC stub with `fail_fast_stub`.
"""

from __future__ import annotations

from collections.abc import Callable

from fedkit._compat import autograph, logs, tff_context
from fedkit._compat.autograph import AUTOGRAPH_AS_WRITTEN
from fedkit._compat.grpc_stub import fail_fast_stub
from fedkit._compat.tff_import import after_import
from fedkit._compat.versions import SKIP_ENV, WRITTEN_FOR, CompatWarning

__all__ = [
    "AUTOGRAPH_AS_WRITTEN",
    "SKIP_ENV",
    "WRITTEN_FOR",
    "CompatWarning",
    "after_import",
    "fail_fast_stub",
    "install",
]


def install(default_context: Callable[[], object] | None = None) -> None:
    """Apply every workaround that applies (idempotent); with `default_context`, it replaces TFF's own default."""
    autograph.sources_unlinked()
    autograph.calls_as_written(AUTOGRAPH_AS_WRITTEN)
    autograph.builtins_kept()
    logs.quiet_bitpacking_warning()
    if default_context is not None:
        tff_context.replace_tffs_default_context(default_context)
