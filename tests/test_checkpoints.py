"""Resumable training: an interrupted and resumed run equals an uninterrupted one; bad checkpoints are refused."""

import numpy as np
import pytest

from fedkit import checkpoints, training

RUN = dict(rounds=4, clients_per_round=3, seed=7, flat=True, verbose=False)


class Interrupted(Exception):
    pass


def interrupt_at(round_num):
    def on_round(state, history):
        if history.rows[-1]["round"] == round_num:
            raise Interrupted

    return on_round


@pytest.fixture(scope="module")
def dense():
    return training.build_fedavg("dense", client_lr=0.1)


def without_time(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.rows]


def test_resumed_run_equals_uninterrupted(emnist, dense, tmp_path, capsys):
    train, _ = emnist
    full_state, full_history = training.run_rounds(dense, train, **RUN)
    with pytest.raises(Interrupted):
        training.run_rounds(dense, train, **RUN, checkpoint_dir=tmp_path, checkpoint_every=2,
                            on_round=interrupt_at(3))  # fmt: skip
    state, history = training.run_rounds(dense, train, **{**RUN, "verbose": True}, checkpoint_dir=tmp_path,
                                         checkpoint_every=2)  # fmt: skip
    assert "Resuming after round 2" in capsys.readouterr().out
    assert without_time(history) == without_time(full_history)
    for a, b in zip(
        dense.get_model_weights(state).trainable, dense.get_model_weights(full_state).trainable, strict=False
    ):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_foreign_checkpoint_is_refused(emnist, dense, tmp_path):
    train, _ = emnist
    training.run_rounds(dense, train, **{**RUN, "rounds": 1}, checkpoint_dir=tmp_path)
    other = training.build_fedavg("dense", client_lr=0.1, aggregate="uniform:8", threshold=100)
    with pytest.raises(checkpoints.CheckpointError, match=f"{tmp_path}.*different learning process.*delete"):
        training.run_rounds(other, train, **RUN, checkpoint_dir=tmp_path)


def test_corrupt_checkpoint_is_refused(emnist, dense, tmp_path):
    train, _ = emnist
    training.run_rounds(dense, train, **{**RUN, "rounds": 1}, checkpoint_dir=tmp_path)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            f.write_bytes(b"\x00garbage")
    with pytest.raises(checkpoints.CheckpointError, match="cannot be read"):
        training.run_rounds(dense, train, **RUN, checkpoint_dir=tmp_path)
