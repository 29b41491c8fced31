"""fedkit.exercises.low_bits: notebook 11's checkers pass the worked solutions and fail wrong answers."""

import numpy as np
import pytest
from scipy.linalg import hadamard

from fedkit.compression import stages
from fedkit.exercises import low_bits as ex


def max_variance(bits: int, value_range: float) -> float:
    return (value_range / (2**bits - 1)) ** 2 / 4


def unrotate(y: np.ndarray, signs: np.ndarray) -> np.ndarray:
    return signs * (hadamard(len(y)) @ y) / np.sqrt(len(y))


def simulate(vectors, compress, rounds, feedback):
    residuals, total = np.zeros_like(vectors), np.zeros(vectors.shape[1])
    for _ in range(rounds):
        sent = []
        for i, v in enumerate(vectors):
            if feedback:
                s, residuals[i] = stages.error_feedback_step(v, residuals[i], compress)
            else:
                s = compress(v)
            sent.append(s)
        total += np.mean(sent, axis=0)
    return total / rounds


def test_right_answers_pass(capsys):
    ex.check_max_variance(max_variance)
    ex.check_unrotate(unrotate)
    ex.check_simulate(simulate)
    assert capsys.readouterr().out.count("Right") == 3


def test_wrong_variance_fails():
    with pytest.raises(AssertionError, match="p = 1/2"):
        ex.check_max_variance(lambda b, r: (r / 2**b) ** 2 / 4)


def test_wrong_unrotate_fails():
    with pytest.raises(AssertionError, match="reverse order"):
        ex.check_unrotate(lambda y, s: hadamard(len(y)) @ (s * y) / np.sqrt(len(y)))


def test_wrong_simulate_fails():
    with pytest.raises(AssertionError, match="feedback=True"):
        ex.check_simulate(lambda v, c, r, f: simulate(v, c, r, False))
    with pytest.raises(AssertionError, match="feedback=False"):
        ex.check_simulate(lambda v, c, r, f: simulate(v, c, r, True))


def test_feedback_beats_none_on_biased_rounding():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 32)) + 0.5
    true = vectors.mean(0)
    compress = lambda v: np.abs(v).mean() * np.sign(v)  # noqa: E731
    errors = [np.linalg.norm(ex.simulate_reference(vectors, compress, 100, f) - true) for f in (False, True)]
    assert errors[1] < errors[0] / 5


def test_experiment_module_is_well_formed():
    from fedkit.experiments import reproduce
    from fedkit.experiments.reproduce import low_bits

    assert "low-bits" in reproduce.names()
    assert len(low_bits.SEEDS) >= 3 and low_bits.HELP
    assert low_bits.ENCODERS[0] is None  # the baseline first
    assert low_bits.config_name(None) == "no compression"
    assert low_bits.config_name("hadamard:1") == "hadamard:1 both ways"
