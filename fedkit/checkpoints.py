"""Resumable training: the round loop's program state, saved with TFF's `FileProgramStateManager`.

Program state = the learning process state (model, optimizer and encoder state), the number of
rounds done, the client-sampling RNG state and the history, plus a fingerprint of the process's
type signature so that a checkpoint from another model or encoder is refused, not misread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
from collections.abc import Coroutine
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff


class CheckpointError(ValueError):
    """A checkpoint that is corrupt, or was written by a different learning process."""


def _run(coroutine: Coroutine):
    # TFF's program state manager is async; a notebook already runs an event loop, so run the
    # coroutine on its own loop in a helper thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fingerprint(process: tff.templates.IterativeProcess) -> str:
    """A short hash of the process's `next` type signature (model, optimizer, encoders)."""
    return hashlib.sha256(str(process.next.type_signature).encode()).hexdigest()[:16]


class Checkpointer:
    """Saves and restores a training run's program state under `root`."""

    def __init__(self, root: str | Path, process: tff.templates.IterativeProcess, keep: int = 3) -> None:
        self.root = Path(root)
        self.process = process
        self.manager = tff.program.FileProgramStateManager(str(self.root), keep_total=keep, keep_first=False)

    def save(self, state, rounds_done: int, rng: np.random.Generator, history_rows: list[dict]) -> None:
        """Save the program state after `rounds_done` rounds."""
        # A flat list: TF 2.14's SavedModel cannot track the dicts inside a learning state.
        header = [fingerprint(self.process), np.int64(rounds_done), json.dumps(rng.bit_generator.state),
                  json.dumps(history_rows)]  # fmt: skip
        _run(self.manager.save(header + tf.nest.flatten(state), rounds_done))

    def load_latest(self) -> tuple[object, int, np.random.Generator, list[dict]] | None:
        """(state, rounds_done, rng, history rows) of the latest checkpoint, or None if there is none."""
        try:
            versions = _run(self.manager.get_versions())
        except Exception as e:
            raise self._error(f"its folder cannot be listed ({e})") from e
        if not versions:
            return None
        template = self.process.initialize()
        flat_template = tf.nest.flatten(template)
        try:
            saved = _run(self.manager.load(versions[-1], ["", 0, "", "", *flat_template]))
        except Exception as e:
            raise self._error(f"version {versions[-1]} cannot be read ({type(e).__name__}: {e})") from e
        if _text(saved[0]) != fingerprint(self.process) or len(saved) != 4 + len(flat_template):
            raise self._error("it was written by a different learning process (model, optimizer or encoders)")
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(_text(saved[2]))
        state = tf.nest.pack_sequence_as(template, list(saved[4:]))
        return state, int(saved[1]), rng, json.loads(_text(saved[3]))

    def _error(self, why: str) -> CheckpointError:
        return CheckpointError(f"checkpoint in {self.root}: {why}; delete that folder or use another checkpoint_dir.")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
