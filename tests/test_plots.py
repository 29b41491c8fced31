"""Figures of runs: what `fedkit.experiments.plots` draws."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from fedkit.experiments import History, plots  # noqa: E402


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


def test_label_distributions_draw_each_count_vector_as_shares(tmp_path, monkeypatch):
    monkeypatch.setenv("FEDKIT_HOME", str(tmp_path))
    plt.close("all")
    plots.plot_label_distributions({"w": [1, 3, 0], "all": [5, 5, 10]}, save_as="labels.png")
    ax = plt.gcf().axes[0]
    heights = [p.get_height() for p in ax.patches]
    assert heights == [0.25, 0.75, 0.0, 0.25, 0.25, 0.5]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["w (4)", "all (20)"]
    assert (tmp_path / "outputs" / "figures" / "labels.png").stat().st_size > 0
    plt.close("all")


def test_mean_images_and_client_sizes(tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.setenv("FEDKIT_HOME", str(tmp_path))
    plt.close("all")
    plots.plot_mean_images({"a": np.zeros((28, 28)), "b": np.ones((28, 28))}, save_as="means.png")
    assert [ax.get_title() for ax in plt.gcf().axes] == ["a", "b"]
    plots.plot_client_sizes([4, 100, 100, 119], bins=5, save_as="sizes.png")
    ax = plt.gcf().axes[0]
    assert sum(p.get_height() for p in ax.patches) == 4
    assert "4 clients" in ax.get_title()
    for name in ("means.png", "sizes.png"):
        assert (tmp_path / "outputs" / "figures" / name).stat().st_size > 0
    plt.close("all")
