"""Matplotlib figures of training runs: metrics per round and cumulative communication."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from fedkit.paths import output_path
from fedkit.training import History

_TITLES = {
    "loss": "training loss",
    "accuracy": "training accuracy",
    "cumulative_broadcast_bits": "cumulative broadcast (Mibit)",
    "cumulative_aggregate_bits": "cumulative aggregate (Mibit)",
}


def plot_runs(
    runs: Mapping[str, History], keys: Sequence[str] = ("loss", "accuracy"), save_as: str | None = None
) -> None:
    """One panel per key, one line per run, on shared axes; optionally saved under outputs/figures.

    Returns nothing: in a notebook the figure shows once, below the cell.
    """
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        scale = 2**20 if key.endswith("_bits") else 1
        for label, history in runs.items():
            ax.plot(history.column("round"), [v / scale for v in history.column(key)], marker="o", label=label)
        ax.set(xlabel="round", title=_TITLES.get(key, key))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)
