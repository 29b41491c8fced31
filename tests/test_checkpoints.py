"""Resumable training: an interrupted and resumed run equals an uninterrupted one; bad checkpoints and
checkpoint folders are refused in one line that names the folder."""

import os

import numpy as np
import pytest

from fedkit import algorithms, experiments
from fedkit.experiments import checkpoints

RUN = dict(clients_per_round=3, seed=7, flat=True)
CONFIG = {
    "model": "dense",
    "broadcast": "uniform:8",
    "aggregate": "hadamard:8",
    "threshold": 100,
    "client_lr": 0.1,
    "server_lr": 1.0,
}


class Interrupted(Exception):
    pass


class InterruptAt(experiments.RoundCallback):
    def __init__(self, round_num):
        self.round_num = round_num

    def on_round(self, done):
        if done.row["round"] == self.round_num:
            raise Interrupted


def run(process, train, folder, rounds=4, every=1, also=()):
    """`rounds` rounds of `process` saved in `folder` every `every` rounds, with the callbacks `also` after."""
    callbacks = [experiments.Checkpoints(folder, every), *also]
    return experiments.train(process, train, experiments.RoundsConfig(rounds, **RUN), callbacks)


@pytest.fixture(scope="module")
def dense():
    return algorithms.build_fedavg("dense", client_lr=0.1)


def without_time(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.rows]


def assert_one_short_line(error: Exception, folder) -> None:
    message = str(error)
    assert "\n" not in message and len(message) < 400 and str(folder) in message, message


def test_resumed_run_equals_uninterrupted(emnist, dense, tmp_path, capsys):
    train, _ = emnist
    full_state, full_history = experiments.run_rounds(dense, train, 4, **RUN, verbose=False)
    with pytest.raises(Interrupted):
        run(dense, train, tmp_path, every=2, also=[InterruptAt(3)])
    state, history = run(dense, train, tmp_path, every=2, also=[experiments.Progress()])
    assert f"Resuming after round 2 from {tmp_path}" in capsys.readouterr().out
    assert without_time(history) == without_time(full_history)
    for a, b in zip(
        dense.get_model_weights(state).trainable, dense.get_model_weights(full_state).trainable, strict=False
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_foreign_checkpoint_is_refused(emnist, dense, tmp_path):
    train, _ = emnist
    run(dense, train, tmp_path, rounds=1)
    other = algorithms.build_fedavg("dense", client_lr=0.1, aggregate="uniform:8", threshold=100)
    refused = f"{tmp_path}.*(another configuration|different learning process).*delete"
    with pytest.raises(checkpoints.CheckpointError, match=refused) as e:
        run(other, train, tmp_path)
    assert_one_short_line(e.value, tmp_path)
    # A checkpoint without fedkit's record (older, or copied without it): TFF's own refusal, in one line.
    (tmp_path / checkpoints.META).unlink()
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read|different learning process") as e:
        run(other, train, tmp_path)
    assert_one_short_line(e.value, tmp_path)


@pytest.mark.parametrize(
    "change, named",
    [
        ({"broadcast": "uniform:4"}, "broadcast='uniform:8' there, 'uniform:4' here"),
        ({"aggregate": "kashin:8"}, "aggregate='hadamard:8' there, 'kashin:8' here"),
        ({"client_lr": 0.02, "server_lr": 0.5}, "client_lr=0.1 there, 0.02 here; server_lr=1.0 there, 0.5 here"),
        ({"threshold": 0}, "threshold=100 there, 0 here"),
        ({"model": "cnn"}, "model='dense' there"),
    ],
)
def test_checkpoint_of_another_configuration_is_refused(dense, tmp_path, change, named):
    state = dense.initialize()
    checkpoints.Checkpointer(tmp_path, dense, config=CONFIG).save(state, 1, np.random.default_rng(0), [])
    assert checkpoints.Checkpointer(tmp_path, dense, config=CONFIG).load_latest() is not None
    with pytest.raises(checkpoints.CheckpointError, match="another configuration") as e:
        checkpoints.Checkpointer(tmp_path, dense, config={**CONFIG, **change}).load_latest()
    assert named in str(e.value)
    assert_one_short_line(e.value, tmp_path)


def test_training_compares_the_process_configuration(emnist, dense, tmp_path, monkeypatch):
    train, _ = emnist
    monkeypatch.setattr(dense, checkpoints.CONFIG_ATTRIBUTE, CONFIG, raising=False)
    run(dense, train, tmp_path, rounds=1)
    monkeypatch.setattr(dense, checkpoints.CONFIG_ATTRIBUTE, {**CONFIG, "client_lr": 0.5})
    with pytest.raises(checkpoints.CheckpointError, match="client_lr=0.1 there, 0.5 here"):
        run(dense, train, tmp_path)


def test_corrupt_checkpoint_is_refused(emnist, dense, tmp_path):
    train, _ = emnist
    run(dense, train, tmp_path, rounds=1)
    for f in tmp_path.rglob("*"):
        if f.is_file() and f.name != checkpoints.META:
            f.write_bytes(b"\x00garbage")
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read") as e:
        run(dense, train, tmp_path)
    assert_one_short_line(e.value, tmp_path)


def test_checkpoint_holding_more_rounds_than_asked_is_refused(dense, tmp_path):
    saver = checkpoints.Checkpointer(tmp_path, dense)
    assert saver.rounds_done() == 0 and saver.load_latest(rounds=1) is None
    saver.save(dense.initialize(), 3, np.random.default_rng(0), [])
    assert saver.rounds_done() == 3 and saver.load_latest(rounds=3)[1] == 3
    with pytest.raises(checkpoints.CheckpointError, match=r"holds 3 rounds, more than the rounds=2 asked for") as e:
        saver.load_latest(rounds=2)
    assert_one_short_line(e.value, tmp_path)


def test_unusable_checkpoint_dir(dense, tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    with pytest.raises(checkpoints.CheckpointError, match="is a file, not a folder") as e:
        checkpoints.Checkpointer(a_file, dense)
    assert_one_short_line(e.value, a_file)
    with pytest.raises(checkpoints.CheckpointError, match="cannot be written") as e:
        checkpoints.Checkpointer(a_file / "ckpt", dense)
    assert_one_short_line(e.value, a_file / "ckpt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_checkpoint_dir(dense, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(checkpoints.CheckpointError, match="cannot be written"):
            checkpoints.Checkpointer(folder, dense)
    finally:
        folder.chmod(0o700)
