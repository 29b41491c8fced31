"""fedkit.common.checks: the one check of each kind of user value (whole numbers, positive numbers, learning
rates, folders to write into) that the command line, the builders, the sweep, checkpoints and the data share."""

import math
import os

import pytest

from fedkit.common import checks


@pytest.mark.parametrize(
    "text, number",
    [("0", 0), ("12", 12), ("007", 7), ("-1", None), ("1e3", None), ("²", None), ("٣", None), ("", None)],
)
def test_whole_number_takes_ascii_digits_only(text, number):
    assert checks.whole_number(text) == number
    assert checks.whole_number(f" {text}") is None  # callers strip what they allow


@pytest.mark.parametrize("value, number", [("0.1", 0.1), (2, 2.0), ("1e-3", 0.001)])
def test_positive_number_accepts_finite_numbers_above_zero(value, number):
    assert checks.positive_number(value) == number


@pytest.mark.parametrize("value", ["0", 0.0, -0.1, "inf", math.inf, "nan", math.nan, "x", None])
def test_positive_number_refuses_the_rest(value):
    assert checks.positive_number(value) is None


def test_learning_rate_names_the_parameter():
    assert checks.learning_rate(0.5, "client_lr") == 0.5
    with pytest.raises(ValueError, match=r"^server_lr=nan: a learning rate must be a positive finite number"):
        checks.learning_rate(math.nan, "server_lr")


def test_folder_problem_of_usable_folders_is_none_and_leaves_nothing(tmp_path):
    assert checks.folder_problem(tmp_path) is None
    assert checks.folder_problem(tmp_path / "new" / "deeper") is None
    assert list(tmp_path.iterdir()) == []  # nothing made, nothing left behind


def test_folder_problem_names_the_file_in_the_way(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    assert checks.folder_problem(a_file) == "is a file, not a folder"
    assert checks.folder_problem(a_file / "sub") == f"cannot be written ({a_file} is a file)"


def test_folder_problem_of_a_folder_nothing_can_be_made_in():
    # /proc refuses new entries even to root, for whom permission bits would not.
    assert checks.folder_problem("/proc/fedkit-test/sub").startswith("cannot be written (")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_folder_problem_of_a_read_only_folder(tmp_path):
    tmp_path.chmod(0o500)
    try:
        assert checks.folder_problem(tmp_path / "sub").startswith("cannot be written (")
    finally:
        tmp_path.chmod(0o700)
