"""fedkit.exercises.non_iid: notebook 07's checkers fail wrong answers with a hint and pass right ones."""

import numpy as np
import pytest

from fedkit.data import partition
from fedkit.exercises import non_iid as ex

LABELS = np.repeat(np.arange(10), 40)
SIZES = [10, 20, 30, 40] * 4  # 400 examples in 16 clients, each smaller than a label's 40


def _dirichlet(labels, num_clients, alpha, seed):
    rng = np.random.default_rng(seed)
    parts = [[] for _ in range(num_clients)]
    for label in range(10):
        rows = rng.permutation(np.flatnonzero(labels == label))
        cuts = (np.cumsum(rng.dirichlet([alpha] * num_clients))[:-1] * len(rows)).astype(int)
        for part, chunk in zip(parts, np.split(rows, cuts), strict=True):
            part.extend(chunk.tolist())
    return {f"c{i}": np.array(p, dtype=int) for i, p in enumerate(parts)}


def test_one_label_clients(capsys):
    split = partition.by_label(LABELS, SIZES, 0)
    held = (partition.label_counts(split, LABELS) > 0).sum(axis=1)
    ex.check_one_label_clients(split, LABELS, int((held == 1).sum()))
    assert capsys.readouterr().out.startswith("Right:")
    with pytest.raises(AssertionError, match="holding two labels"):
        ex.check_one_label_clients(split, LABELS, int((held == 2).sum()))
    with pytest.raises(AssertionError, match="whole number"):
        ex.check_one_label_clients(split, LABELS, 1.5)
    with pytest.raises(ValueError, match="pass a dict"):
        ex.check_one_label_clients([], LABELS, 3)


def test_median_distance(capsys):
    split = partition.by_label(LABELS, SIZES, 0)
    counts = partition.label_counts(split, LABELS)
    distances = 0.5 * np.abs(counts / counts.sum(1, keepdims=True) - 0.1).sum(axis=1)
    ex.check_median_distance(split, LABELS, float(np.median(distances)))
    assert "Right: the median client" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="half of it"):
        ex.check_median_distance(split, LABELS, 2 * float(np.median(distances)))
    with pytest.raises(AssertionError, match="is not it"):
        ex.check_median_distance(split, LABELS, 0.0)


def test_dirichlet_split(capsys):
    ex.check_dirichlet_split(_dirichlet, LABELS)
    assert "Right: median distance" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="small alpha must skew more"):
        ex.check_dirichlet_split(lambda labels, n, alpha, seed: partition.iid(len(labels), [20] * n, seed), LABELS)
    with pytest.raises(AssertionError, match="not 20"):
        ex.check_dirichlet_split(lambda labels, n, alpha, seed: partition.iid(len(labels), [200, 200], seed), LABELS)
    with pytest.raises(AssertionError, match="without repeats"):
        ex.check_dirichlet_split(lambda labels, n, alpha, seed: {i: np.arange(20) for i in range(n)}, LABELS)
    with pytest.raises(AssertionError, match="seed 0 differ"):
        ex.check_dirichlet_split(lambda labels, n, alpha, seed: _dirichlet(labels, n, alpha, None), LABELS)
