"""Matplotlib figures of training runs: metrics per round and cumulative communication."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

from fedkit.common.paths import output_path
from fedkit.experiments.rounds import History

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


def plot_label_distributions(
    counts: Mapping[str, Sequence[int]], title: str = "share of each label", save_as: str | None = None
) -> None:
    """Grouped bars, one group per label: each named count vector (a writer, or all writers) as shares of its total."""
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = 0.8 / len(counts)
    for i, (name, c) in enumerate(counts.items()):
        total = sum(int(v) for v in c)
        ax.bar(
            [label + (i - (len(counts) - 1) / 2) * width for label in range(len(c))],
            [int(v) / total for v in c],
            width,
            label=f"{name} ({total})",
        )
    first = next(iter(counts.values()))
    ax.set(xlabel="label", ylabel="share of the client's examples", title=title, xticks=range(len(first)))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)


def plot_mean_images(images: Mapping[str, object], save_as: str | None = None) -> None:
    """One panel per named image (e.g. each writer's mean digit), side by side on the same gray scale."""
    fig, axes = plt.subplots(1, len(images), figsize=(1.8 * len(images), 2.2), squeeze=False)
    for ax, (name, image) in zip(axes[0], images.items(), strict=True):
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)


def plot_client_sizes(sizes: Sequence[int], bins: int = 20, save_as: str | None = None) -> None:
    """Histogram of the number of examples per client."""
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.hist(sizes, bins=bins)
    ax.set(xlabel="examples", ylabel="clients", title=f"examples per client ({len(sizes)} clients)")
    locator = ax.yaxis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # the default AutoLocator is one
        locator.set_params(integer=True)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)


def plot_label_mix(
    counts: Mapping[str, Sequence[Sequence[int]]], clients: int = 30, save_as: str | None = None
) -> None:
    """One panel per split: for each of its first `clients` clients, the label shares of its examples, stacked."""
    fig, axes = plt.subplots(1, len(counts), figsize=(4.2 * len(counts), 3.4), squeeze=False, sharey=True)
    colors = plt.get_cmap("tab10")(range(10))  # its ten colors (RGBA)
    for ax, (name, rows) in zip(axes[0], counts.items(), strict=True):
        shown = [[int(v) for v in row] for row in list(rows)[:clients]]
        bottom = [0.0] * len(shown)
        for label in range(len(shown[0])):
            share = [row[label] / sum(row) for row in shown]
            ax.bar(range(len(shown)), share, 0.9, bottom=bottom, color=colors[label % 10], label=str(label))
            bottom = [b + s for b, s in zip(bottom, share, strict=True)]
        ax.set(xlabel="client", title=name, ylim=(0, 1))
    axes[0][0].set_ylabel("share of the client's examples")
    axes[0][-1].legend(title="label", fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)


def plot_summaries(summaries: Mapping[str, Mapping], ylabel: str = "test accuracy", save_as: str | None = None) -> None:
    """Each named summary (`fedkit.common.results.summary`) as its mean with its 95% interval, and one dot per seed."""
    fig, ax = plt.subplots(figsize=(1.9 * len(summaries) + 1.5, 3.4))
    for i, s in enumerate(summaries.values()):
        ax.errorbar([i], [s["mean"]], yerr=[s["ci95"] or 0.0], fmt="o", capsize=6, color="black", markersize=7)
        ax.plot([i + 0.15] * len(s["values"]), s["values"], ".", color="tab:blue", alpha=0.7)
    ax.set(xticks=range(len(summaries)), ylabel=ylabel, title="mean and 95% interval (dots: one per seed)")
    ax.set_xticklabels(list(summaries), fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    if save_as:
        fig.savefig(output_path("figures", save_as), dpi=120)
