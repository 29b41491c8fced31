"""The pure parts of lesson 05's experiment: the per-seed plan every algorithm shares."""

import numpy as np
import pytest

from fedkit.experiments.reproduce import algorithms

IDS = [f"w{i:03d}" for i in range(104)]


def test_uneven_epochs_in_range():
    epochs = algorithms.uneven_epochs(np.random.default_rng(0), 1000)
    assert len(epochs) == 1000 and set(epochs) == set(range(1, 11))
    with pytest.raises(ValueError, match="1 <= low <= high"):
        algorithms.uneven_epochs(np.random.default_rng(0), 3, low=0, high=2)


def test_plan_is_seeded_and_distinct_per_round():
    plan = algorithms.plan(0, IDS)
    assert plan == algorithms.plan(0, IDS) and plan != algorithms.plan(1, IDS)
    assert len(plan) == algorithms.ROUNDS
    for step in plan:
        assert len(set(step["clients"])) == algorithms.CLIENTS and set(step["clients"]) <= set(IDS)
        assert len(step["epochs"]) == algorithms.CLIENTS


def test_every_algorithm_has_a_setting():
    assert set(algorithms.EVAL_ROUNDS) <= set(range(1, algorithms.ROUNDS + 1))
    assert algorithms.ROUNDS in algorithms.EVAL_ROUNDS and len(algorithms.SEEDS) >= 3
