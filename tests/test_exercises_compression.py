"""fedkit.exercises.compression: notebook 07's and 08's checkers fail wrong answers and pass right ones."""

import pytest

from fedkit.exercises import compression as ex

DENSE = 3136 * 512


def test_uniform_bits(capsys):
    ex.check_uniform_bits(4, DENSE, 229_376 * 32 + 64)  # 28 bits per int32: 7 four-bit values each
    assert "Right" in capsys.readouterr().out
    for wrong, hint in [(DENSE * 4, "28 of the 32"), (229_376 * 32, "min and max"), (123, "not what")]:
        with pytest.raises(AssertionError, match=hint):
            ex.check_uniform_bits(4, DENSE, wrong)


def test_threshold(capsys):
    ex.check_threshold(51_200)
    assert "only the dense kernel" in capsys.readouterr().out
    for wrong in (10_000, DENSE, -1):
        with pytest.raises(AssertionError):
            ex.check_threshold(wrong)


def test_hadamard_bits(capsys):
    uniform = 28_572 * 32 + 64  # 100,000 x 8 bits in 28-bit int32s, plus min and max
    hadamard = 37_450 * 32 + 64  # the same after padding to 131,072
    ex.check_hadamard_bits(100_000, hadamard, uniform)
    assert "131,072" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="power of two"):
        ex.check_hadamard_bits(100_000, uniform, uniform)
    with pytest.raises(AssertionError, match="uniform_bits"):
        ex.check_hadamard_bits(100_000, hadamard, 800_064)


def row(name, down, up, accuracy):
    return {"configuration": name, "downlink_bits_per_client_round": down, "uplink_bits_per_client_round": up,
            "test_accuracy": accuracy, "rounds": 20}  # fmt: skip


ROWS = [row("a", 100, 100, 0.9), row("b", 30, 30, 0.89), row("c", 30, 40, 0.85), row("d", 10, 10, 0.5)]


def test_pareto_front(capsys):
    assert ex.pareto_names(ROWS) == ["a", "b", "d"]
    ex.check_pareto_front(["a", "b", "d"], ROWS)
    assert "Right" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="dominated"):
        ex.check_pareto_front(["a", "b", "c", "d"], ROWS)
    with pytest.raises(AssertionError, match="on the front too"):
        ex.check_pareto_front(["a", "b"], ROWS)
    with pytest.raises(AssertionError, match="not configurations"):
        ex.check_pareto_front(["z"], ROWS)


def test_shipped_sweep_rows_and_its_front(capsys):
    rows = ex.shipped_sweep_rows()
    assert len(rows) == 15 and rows[0]["configuration"] == "identity"
    assert rows[0]["downlink_bits_per_client_round"] == round(50.76 * 2**20)
    front = ex.pareto_names(rows)
    assert "identity" in front and "hadamard:8 both" not in front  # most accurate; dominated by uniform:8 both
    ex.check_pareto_front(front, rows)
    with pytest.raises(AssertionError, match="dominated"):
        ex.check_pareto_front([*front, "kashin:8 both"], rows)
