"""Figures of runs: what `fedkit.plots` draws."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from fedkit import plots  # noqa: E402
from fedkit.training import History  # noqa: E402


def _history(rounds: int) -> History:
    return History([{"round": r, "loss": 2.0 / r, "accuracy": 0.1 * r} for r in range(1, rounds + 1)])


def test_round_axis_has_whole_number_ticks_only():
    plt.close("all")
    plots.plot_runs({"a": _history(3), "b": _history(2)}, keys=("loss", "accuracy"))
    axes = plt.gcf().axes
    assert len(axes) == 2
    for ax in axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
        assert {line.get_label() for line in ax.get_lines()} == {"a", "b"}
    plt.close("all")
