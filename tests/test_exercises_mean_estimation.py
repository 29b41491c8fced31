"""fedkit.exercises.mean_estimation: lesson 14's checkers fail wrong answers and pass the worked solutions."""

import numpy as np
import pytest

from fedkit.exercises import mean_estimation as ex


def right_error(x):
    return float(np.sum((x.max() - x) * (x - x.min())))


def test_binary_error_right_answer_passes(capsys):
    ex.check_binary_error(right_error)
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize(
    "error",
    [
        lambda x: float((x.max() - x.min()) ** 2 / 4 * x.size),  # the worst coordinate's variance, d times
        lambda x: float(np.sum((x.max() - x) * (x - x.min())) / x.size),  # divided by d
        lambda x: float(np.var(x) * x.size),  # spread of the data, not of the rounding
    ],
)
def test_binary_error_wrong_answers_fail(error):
    with pytest.raises(AssertionError, match="variance is"):
        ex.check_binary_error(error)


def test_bits_right_answer_passes(capsys):
    ex.check_bits_per_dimension((32 * -(-1024 * 2 // 28) + 64 + 128) / 1000)  # 2560 bits, the seed included
    assert "2.560" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, hint",
    [
        ((32 * -(-1024 * 2 // 28) + 64) / 1000, "seed"),  # 2432: the encoded tensors without the seed
        ((32 * -(-1000 * 2 // 28) + 64) / 1000, "pads 1000"),  # unpadded: what k-level sends
        ((32 * -(-1000 * 2 // 28) + 64 + 128) / 1000, "pads 1000"),  # unpadded, with a seed
        (2.0, "is not it"),  # the paper's d log2 k, without min, max and packing
        (2560 / 1024, "is not it"),  # divided by the padded d
    ],
)
def test_bits_wrong_answers_fail(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_bits_per_dimension(answer)


@pytest.mark.parametrize("answer", ["2.56", None, True])
def test_bits_bad_input_says_what_to_give(answer):
    with pytest.raises(TypeError, match="give a number"):
        ex.check_bits_per_dimension(answer)


def test_worst_case_ratio_right_answer_passes(capsys):
    ex.check_worst_case_ratio(lambda d, bits: (d - 2) / 2)
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize(
    "ratio",
    [
        lambda d, bits: d / 2,  # forgets the two nonzero coordinates
        lambda d, bits: (d - 2) / 2 / (2**bits - 1) ** 2,  # the step kept on one side only
        lambda d, bits: (d - 2) / (2 * np.log(d) + 2),  # the ratio of the bounds, not of the exact errors
    ],
)
def test_worst_case_ratio_wrong_answers_fail(ratio):
    with pytest.raises(AssertionError, match="exact ratio"):
        ex.check_worst_case_ratio(ratio)
