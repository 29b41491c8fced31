"""Workaround `quiet_bitpacking_warning`: drop tensor_encoding's warning at every trace of bitpacking.

Symptom: tfmot's `tensor_encoding` (`utils/tf_utils.py`, `pack_into_int` and `unpack_from_int`) logs "This code
path can temporarily allocate extra memory ..." on the root logger each time it traces bitpacking for a bit
width without a special case (all but 6, 7, 8 and 12 bits): a low-bits run or notebook printed it for every
encoder and every trace (fedkit's earlier note: in a notebook, AutoGraph then also tried to trace the kernel's
output stream and printed more warnings on top). The filter is on the root logger, where that module logs
(`logging.warning`), and drops only this message. No private API: a logging filter.
Written for: tfmot 0.7.5.
"""

from __future__ import annotations

import logging

from fedkit._compat.versions import applies

NAME = "quiet_bitpacking_warning"
MESSAGE = "can temporarily allocate extra memory"


class QuietBitpackingWarning(logging.Filter):
    """Drops tensor_encoding's bitpacking memory warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return MESSAGE not in record.getMessage()


def quiet_bitpacking_warning() -> None:
    """Install `QuietBitpackingWarning` on the root logger (idempotent)."""
    root = logging.getLogger()
    if any(isinstance(f, QuietBitpackingWarning) for f in root.filters):
        return
    if applies(NAME, "tensorflow-model-optimization"):
        root.addFilter(QuietBitpackingWarning())
