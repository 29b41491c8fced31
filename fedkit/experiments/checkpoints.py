"""Resumable training: the round loop's program state, saved with TFF's `FileProgramStateManager`.

Program state = the learning process state (model, optimizer and encoder state), the number of
rounds done, the client-sampling RNG state and the history. Beside it, `fedkit-checkpoint.json`
records each saved version's fingerprint, configuration and rounds, so a checkpoint written by
another model, encoder (kind or bit width), threshold or learning rate is refused in one line,
before TFF reads any array.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import json
import os
from collections.abc import Coroutine
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.common import checks

META = "fedkit-checkpoint.json"
CONFIG_ATTRIBUTE = "fedkit_config"  # where `fedkit.algorithms.build_fedavg` leaves the configuration


class CheckpointError(ValueError):
    """A checkpoint that is corrupt, unusable, or was written by a different learning process."""


def _run(coroutine: Coroutine):
    # TFF's program state manager is async; a notebook already runs an event loop, so run the
    # coroutine on its own loop in a helper thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def fingerprint(process: tff.templates.IterativeProcess) -> str:
    """A short hash of the process's `next` type signature (model, optimizer, encoders' shapes)."""
    return hashlib.sha256(str(process.next.type_signature).encode()).hexdigest()[:16]


def process_config(process: tff.templates.IterativeProcess) -> dict:
    """The configuration a process was built with (encoders, threshold, learning rates, model), if known."""
    return dict(getattr(process, CONFIG_ATTRIBUTE, None) or {})


def _jsonable(config: dict) -> dict:
    return json.loads(json.dumps(config, sort_keys=True, default=lambda v: getattr(v, "__name__", str(v))))


def _one_line(error: BaseException, limit: int = 160) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


class Checkpointer:
    """Saves and restores a training run's program state under `root`.

    `config` (e.g. {"model": "cnn", "broadcast": "uniform:8", "client_lr": 0.1, ...}) is compared
    on resume; by default it is the process's `fedkit_config` attribute.
    """

    def __init__(
        self, root: str | Path, process: tff.templates.IterativeProcess, keep: int = 3, config: dict | None = None
    ) -> None:
        self.root = Path(root)
        self.process = process
        self.config = _jsonable(process_config(process) if config is None else config)
        self._check_folder()
        try:
            self.manager = tff.program.FileProgramStateManager(str(self.root), keep_total=keep, keep_first=False)
        except Exception as e:  # e.g. TF's NotFoundError on an odd path
            raise self._error(f"cannot be used ({_one_line(e)})", fix="give a writable folder") from None

    def _check_folder(self) -> None:
        """Refuse a checkpoint_dir that is a file or cannot be written, before any training; make it."""
        problem = checks.folder_problem(self.root)
        if problem:
            raise self._error(problem, fix="give a writable folder as checkpoint_dir")
        self.root.mkdir(parents=True, exist_ok=True)

    def save(self, state, rounds_done: int, rng: np.random.Generator, history_rows: list[dict]) -> None:
        """Save the program state after `rounds_done` rounds."""
        # A flat list: TF 2.14's SavedModel cannot track the dicts inside a learning state.
        header = [
            fingerprint(self.process),
            np.int64(rounds_done),
            json.dumps(rng.bit_generator.state),
            json.dumps(history_rows),
        ]
        try:
            _run(self.manager.save(header + tf.nest.flatten(state), rounds_done))
        except Exception as e:
            why = f"saving round {rounds_done} failed ({_one_line(e)})"
            raise self._error(why, fix="give a writable folder") from None
        meta = self._meta()
        versions = {v: meta.get(str(v)) for v in self._versions()}
        versions[rounds_done] = {"fingerprint": fingerprint(self.process), "config": self.config, "rounds": rounds_done}
        self._write_meta({str(v): m for v, m in versions.items() if m})

    def rounds_done(self) -> int:
        """Rounds held by the latest checkpoint (0 if there is none), without reading its arrays."""
        versions = self._versions()
        return versions[-1] if versions else 0

    def load_latest(self, rounds: int | None = None) -> tuple[object, int, np.random.Generator, list[dict]] | None:
        """(state, rounds_done, rng, history rows) of the latest checkpoint, or None if there is none.

        With `rounds`, a checkpoint holding more rounds than that is refused (a shorter run was asked for).
        """
        versions = self._versions()
        if not versions:
            return None
        latest = versions[-1]
        if rounds is not None and latest > rounds:
            raise self._error(
                f"holds {latest} rounds, more than the rounds={rounds} asked for", fix=f"ask for rounds >= {latest}"
            )
        self._check_meta(latest)
        template = self.process.initialize()
        flat_template = tf.nest.flatten(template)
        try:
            saved = _run(self.manager.load(latest, ["", 0, "", "", *flat_template]))
        except Exception as e:
            raise self._error(f"version {latest} cannot be read ({_one_line(e)})") from None
        if len(saved) != 4 + len(flat_template) or _text(saved[0]) != fingerprint(self.process):
            raise self._error("it was written by a different learning process (model, optimizer or encoders)")
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(_text(saved[2]))
        state = tf.nest.pack_sequence_as(template, list(saved[4:]))
        return state, int(saved[1]), rng, json.loads(_text(saved[3]))

    def _versions(self) -> list[int]:
        try:
            return _run(self.manager.get_versions()) or []
        except Exception as e:
            raise self._error(f"its folder cannot be listed ({_one_line(e)})") from None

    def _check_meta(self, version: int) -> None:
        """Compare the saved configuration and fingerprint with this run's; name what differs."""
        saved = self._meta().get(str(version))
        if not saved:
            return  # written before fedkit kept a configuration: the fingerprint check below still runs
        differs = [
            f"{k}={saved['config'].get(k)!r} there, {self.config.get(k)!r} here"
            for k in sorted(set(saved["config"]) | set(self.config))
            if k in saved["config"] and k in self.config and saved["config"][k] != self.config[k]
        ]
        if differs:
            raise self._error(f"it was written by another configuration ({'; '.join(differs)})")
        if saved["fingerprint"] != fingerprint(self.process):
            raise self._error("it was written by a different learning process (model, optimizer or encoders)")

    def _meta(self) -> dict:
        path = self.root / META
        try:
            return json.loads(path.read_text()) if path.exists() else {}
        except (OSError, ValueError) as e:
            raise self._error(f"{META} cannot be read ({_one_line(e)})") from None

    def _write_meta(self, meta: dict) -> None:
        tmp = self.root / f".{META}.tmp"
        tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
        os.replace(tmp, self.root / META)

    def _error(self, why: str, fix: str = "delete that folder or use another checkpoint_dir") -> CheckpointError:
        return CheckpointError(f"checkpoint_dir {self.root}: {why}; {fix}.")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
