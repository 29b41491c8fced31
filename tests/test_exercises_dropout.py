"""fedkit.exercises.dropout: lesson 13's checkers fail wrong answers and pass the worked solutions."""

import numpy as np
import pytest

from fedkit.algorithms import dropout
from fedkit.exercises import dropout as ex


def test_parameters_match_the_sub_models_shapes():
    rng = np.random.default_rng(0)
    shapes = [(5, 5, 1, 32), (32,), (5, 5, 32, 64), (64,), (3136, 512), (512,), (512, 10), (10,)]
    weights = [rng.normal(size=s).astype(np.float32) for s in shapes]
    assert ex.parameters(1.0) == 1_663_370
    for keep in (0.75, 0.5):
        kept = [np.arange(w) for w in dropout.kept_widths(keep)]
        assert ex.parameters(keep) == sum(int(np.prod(t.shape)) for t in dropout.select(weights, kept))


def test_sub_model_size_right_answer_passes(capsys):
    ex.check_sub_model_size(417_482)
    assert capsys.readouterr().out.startswith("Right: 417,482")


@pytest.mark.parametrize(
    "answer, hint",
    [
        (1_663_370 // 2, "one factor"),  # half the full model
        (round(1_663_370 / 4), "one factor"),  # keep squared everywhere
        (401_408, "is not it"),  # the dense kernel alone
    ],
)
def test_sub_model_size_wrong_answers_fail(answer, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_sub_model_size(answer)


@pytest.mark.parametrize("answer", [417_482.0, "417482", True])
def test_sub_model_size_bad_input_says_what_to_give(answer):
    with pytest.raises(TypeError, match="give a whole number"):
        ex.check_sub_model_size(answer)


def right_keep_filters(kernel, bias, next_kernel, kept):
    return kernel[..., kept], bias[kept], next_kernel[:, :, kept, :]


def test_keep_filters_right_answer_passes(capsys):
    ex.check_keep_filters(right_keep_filters)
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize(
    "keep_filters",
    [
        lambda k, b, n, kept: (k[..., kept], b[kept], n[..., kept]),  # the next layer's filters, not its inputs
        lambda k, b, n, kept: (k[:, :, kept], b[kept], n[:, :, kept, :]),  # the input axis of a 1-channel kernel
        lambda k, b, n, kept: (k[..., kept], b, n[:, :, kept, :]),  # the bias left whole
    ],
)
def test_keep_filters_wrong_answers_fail(keep_filters):
    with pytest.raises((AssertionError, IndexError), match="a filter is|out of bounds"):
        ex.check_keep_filters(keep_filters)


def test_keep_filters_bad_return_says_what_to_return():
    with pytest.raises(TypeError, match="return three arrays"):
        ex.check_keep_filters(lambda k, b, n, kept: k[..., kept])


def right_forward_macs(keep):
    c1, c2, units = dropout.kept_widths(keep)
    return 28 * 28 * 25 * c1 + 14 * 14 * 25 * c1 * c2 + 49 * c2 * units + units * 10


def test_forward_multiply_adds_right_answer_passes(capsys):
    ex.check_forward_multiply_adds(right_forward_macs)
    assert "1.75x" in capsys.readouterr().out


@pytest.mark.parametrize(
    "forward_macs, hint",
    [
        (lambda keep: round(right_forward_macs(1.0) * keep), "keep x keep"),  # linear in keep
        (lambda keep: right_forward_macs(keep) - 10 * dropout.kept_widths(keep)[2], "want"),  # output layer left out
    ],
)
def test_forward_multiply_adds_wrong_answers_fail(forward_macs, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_forward_multiply_adds(forward_macs)
