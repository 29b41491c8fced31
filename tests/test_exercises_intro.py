"""fedkit.exercises.intro: lesson 00's checkers pass the right answers and fail wrong ones with a hint."""

import numpy as np
import pytest

from fedkit.exercises import intro


def _weighted_average(models, sizes):
    return sum(n * m for n, m in zip(sizes, models, strict=True)) / sum(sizes)


def test_weighted_average(capsys):
    intro.check_weighted_average(_weighted_average)
    assert capsys.readouterr().out.startswith("Right:")
    with pytest.raises(AssertionError, match="plain mean"):
        intro.check_weighted_average(lambda models, sizes: sum(models) / len(models))
    with pytest.raises(AssertionError, match="three"):
        intro.check_weighted_average(lambda models, sizes: _weighted_average(models[:2], sizes[:2]))


def test_bits_down(capsys):
    intro.check_bits_down(ten_rounds=30_720, five_hundred_rounds=1_536_000)
    assert "50 times" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="one client's share"):
        intro.check_bits_down(ten_rounds=7_680, five_hundred_rounds=1_536_000)
    with pytest.raises(AssertionError, match="counts floats"):
        intro.check_bits_down(ten_rounds=480, five_hundred_rounds=24_000)
    with pytest.raises(AssertionError, match="five_hundred_rounds=1"):
        intro.check_bits_down(ten_rounds=30_720, five_hundred_rounds=1)


def _train(w, x, y, steps, lr):
    return intro._train(w, x, y, steps, lr)


def _fedavg_sampled(clients, rounds, local_steps, lr, per_round, rng):
    w = np.zeros((3, 4))
    for _ in range(rounds):
        chosen = [clients[i] for i in rng.choice(len(clients), size=per_round, replace=False)]
        sizes = [len(y) for _, y in chosen]
        w = _weighted_average([_train(w, x, y, local_steps, lr) for x, y in chosen], sizes)
    return w


def test_fedavg_sampled(capsys):
    intro.check_fedavg_sampled(_fedavg_sampled)
    assert capsys.readouterr().out.startswith("Right: it matches fedavg")

    def everyone(clients, rounds, local_steps, lr, per_round, rng):
        return intro._fedavg(clients, rounds, local_steps, lr)

    with pytest.raises(AssertionError, match="one client's locally trained model"):
        intro.check_fedavg_sampled(everyone)

    def over_all_sizes(clients, rounds, local_steps, lr, per_round, rng):
        w, total = np.zeros((3, 4)), sum(len(y) for _, y in clients)
        for _ in range(rounds):
            chosen = [clients[i] for i in rng.choice(len(clients), size=per_round, replace=False)]
            w = sum(len(y) * _train(w, x, y, local_steps, lr) for x, y in chosen) / total
        return w

    with pytest.raises(AssertionError, match="one client's locally trained model"):
        intro.check_fedavg_sampled(over_all_sizes)
    with pytest.raises(AssertionError, match="its parameters"):
        intro.check_fedavg_sampled(lambda clients, rounds: None)
