"""A compression sweep: FedAvg CNN runs over a grid of encoders, with a results table and figures.

Each configuration trains once per seed (the process is built once and reused across seeds; one
evaluation computation serves every configuration). Its test accuracy is the mean over seeds with
a 95% Student t interval (mean ± t(0.975, n-1) s / sqrt(n)); one seed gives no interval. Bits are
exact and the same for every seed. A configuration is on the Pareto front when no other one is both
at most as expensive in total bits and at least as accurate (and better in one of the two).
"""

from __future__ import annotations

import csv
import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from fedkit.common import checks
from fedkit.common.results import interval95
from fedkit.compression.specs import CompressionSpec, parse_keep_fraction

# TensorFlow is imported only by the functions that train: the CLI reads the grid and defaults without it.

DEFAULT_SEEDS = (0, 1, 2)  # `reproduce sweep`'s default: enough for an interval


@dataclasses.dataclass(frozen=True)
class SweepConfig:
    """One point of the sweep: encoders for each direction, the size threshold and, for Federated
    Dropout (`fedkit.algorithms.dropout`), the keep fraction (None: `build_weighted_fed_avg`, no dropout).

    The spec strings stay as given, for the results files; they are parsed once, on creation, into `compression`,
    which is what the processes are built from (a bad spec fails here, before any training).
    """

    name: str
    broadcast: str = "identity"
    aggregate: str = "identity"
    threshold: int = 10_000
    dropout: float | None = None
    compression: CompressionSpec = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compression", CompressionSpec.parse(self.broadcast, self.aggregate, self.threshold))
        if self.dropout is not None:
            object.__setattr__(self, "dropout", parse_keep_fraction(self.dropout))


def default_grid() -> list[SweepConfig]:
    """The full grid: identity; uniform 8/4/2 bits down, up and both; 1 bit up; hadamard; kashin;
    everything quantized (threshold 0); TFF's `compression_aggregator`; EDEN at 2 bits and DRIVE's 1 bit up."""
    grid = [SweepConfig("identity")]
    for bits in (8, 4, 2):
        spec = f"uniform:{bits}"
        grid += [
            SweepConfig(f"{spec} down", broadcast=spec),
            SweepConfig(f"{spec} up", aggregate=spec),
            SweepConfig(f"{spec} both", broadcast=spec, aggregate=spec),
        ]
    grid += [
        SweepConfig("uniform:2 down, uniform:1 up", broadcast="uniform:2", aggregate="uniform:1"),
        SweepConfig("hadamard:8 both", broadcast="hadamard:8", aggregate="hadamard:8"),
        SweepConfig("kashin:8 both", broadcast="kashin:8", aggregate="kashin:8"),
        SweepConfig("uniform:8 both, threshold 0", broadcast="uniform:8", aggregate="uniform:8", threshold=0),
        SweepConfig("tff compression_aggregator up", aggregate="tff-compression"),
        SweepConfig("eden:2 both", broadcast="eden:2", aggregate="eden:2"),
        SweepConfig("uniform:2 down, drive up", broadcast="uniform:2", aggregate="drive"),
    ]
    return grid


# Caldas et al. combine Kashin's representation with quantization down and quantize up; the kit's Kashin
# pads to a power of two, so plain 4-bit uniform quantization down is swept beside it.
DROPOUT_ENCODERS = (("uniform:4", "uniform:2"), ("kashin:4", "uniform:2"))


def dropout_grid(keeps: Sequence[float], encoders: Sequence[tuple[str, str]] = DROPOUT_ENCODERS) -> list[SweepConfig]:
    """Federated Dropout at each keep fraction, without encoders and with each (down, up) pair of `encoders`."""
    grid = []
    for keep in keeps:
        grid.append(SweepConfig(f"dropout {keep:g}", dropout=keep))
        grid += [
            SweepConfig(f"dropout {keep:g}, {down} down, {up} up", broadcast=down, aggregate=up, dropout=keep)
            for down, up in encoders
        ]
    return grid


def select(grid: Sequence[SweepConfig], names: Sequence[str] | None) -> list[SweepConfig]:
    """The configurations named in `names` (all when None); unknown names are an error."""
    if not names:
        return list(grid)
    by_name = {c.name: c for c in grid}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ValueError(f"unknown configurations {unknown}: choose from {list(by_name)}.")
    return [by_name[n] for n in names]


@dataclasses.dataclass(frozen=True)
class SweepSettings:
    """Training settings shared by every configuration of a sweep."""

    rounds: int = 20
    clients_per_round: int = 10
    epochs: int = 2
    client_lr: float = 0.1
    server_lr: float = 1.0
    seeds: tuple[int, ...] = DEFAULT_SEEDS


def format_accuracy(mean: float, half_width: float | None, seeds: int) -> str:
    """'0.923 ± 0.004 (3 seeds)', or '0.923 (1 seed)' with no interval."""
    if half_width is None:
        return f"{mean:.3f} ({seeds} seed{'s' if seeds != 1 else ''})"
    return f"{mean:.3f} ± {half_width:.3f} ({seeds} seeds)"


def total_bits(row: dict) -> int:
    """Bits per client, both directions, over the whole run."""
    return (row["downlink_bits_per_client_round"] + row["uplink_bits_per_client_round"]) * row["rounds"]


def pareto_front(rows: Sequence[dict]) -> list[bool]:
    """Per row: True when no other row is at most as costly in total bits and at least as accurate, and
    strictly better in one of the two."""
    points = [(total_bits(r), r["test_accuracy"]) for r in rows]
    return [not any(b <= bits and a >= acc and (b < bits or a > acc) for b, a in points) for bits, acc in points]


def _check_folder(path: Path, what: str, option: str) -> None:
    """A folder that is, or can be made, and is writable; else one ValueError line with the fix."""
    problem = checks.folder_problem(path)
    if problem:
        raise ValueError(f"{what} {path} {problem}: give a writable folder with {option}.")


def check_settings(
    settings: SweepSettings, out_dir: str | Path, cache_dir: str | Path, train_clients: int | None = None
) -> None:
    """Refuse bad settings before any work: unusable output or cache folder, too many clients, no seeds."""
    if not settings.seeds:
        raise ValueError("seeds=(): give at least one seed, e.g. --seeds 0 1 2.")
    if min(settings.rounds, settings.clients_per_round, settings.epochs) < 1:
        raise ValueError(
            f"rounds={settings.rounds}, clients_per_round={settings.clients_per_round}, "
            f"epochs={settings.epochs}: each must be at least 1."
        )
    _check_folder(Path(out_dir), "output folder", "--out")
    cache = Path(cache_dir)
    if not (cache / "emnist_all.sqlite").is_file():  # a cache that holds the data may be read-only
        _check_folder(cache, "cache folder", "--cache-dir")
    if train_clients is not None and settings.clients_per_round > train_clients:
        n = settings.clients_per_round
        raise ValueError(
            f"clients_per_round={n} but the training data has only {train_clients} clients: "
            f"ask for at most {train_clients} (--clients {n} is too many)."
        )


def build_process(config: SweepConfig, settings: SweepSettings):
    """The learning process of one configuration: FedAvg of the CNN, or Federated Dropout at `config.dropout`."""
    from fedkit import algorithms

    lrs, c = (settings.client_lr, settings.server_lr), config.compression
    if config.dropout is None:
        return algorithms.build_fedavg("cnn", *lrs, c.broadcast, c.aggregate, c.threshold)
    from fedkit.algorithms import dropout

    return dropout.build_process(config.dropout, *lrs, c.broadcast, c.aggregate, c.threshold)


def run_config(
    config: SweepConfig,
    settings: SweepSettings,
    train,
    test_data,
    log_dir: Path | None = None,
    verbose: bool = True,
    evaluation=None,
):
    """Train `config` once per seed (one process build); return its result row and the first seed's history."""
    from fedkit import algorithms
    from fedkit.compression import sizing
    from fedkit.experiments import rounds

    start = time.perf_counter()
    process = build_process(config, settings)
    cost = sizing.communication_cost(process.next)
    evaluation = evaluation or algorithms.build_evaluation("cnn")
    metrics, histories = [], []
    for seed in settings.seeds:
        run = rounds.RoundsConfig(settings.rounds, settings.clients_per_round, seed, epochs=settings.epochs)
        callbacks = [rounds.TensorBoard(log_dir / f"seed{seed}")] if log_dir else []
        state, history = rounds.train(process, train, run, callbacks + ([rounds.Progress()] if verbose else []))
        metrics.append(rounds.evaluate(evaluation, process.get_model_weights(state), test_data))
        histories.append(history)
    return _result_row(config, settings, cost, metrics, time.perf_counter() - start), histories[0]


def _result_row(config: SweepConfig, settings: SweepSettings, cost, metrics: list[dict], seconds: float) -> dict:
    """A configuration's row of results: its specs, exact bits, and test accuracy and loss over the seeds."""
    accuracies = [m["accuracy"] for m in metrics]
    return {
        "configuration": config.name,
        "broadcast": config.broadcast,
        "aggregate": config.aggregate,
        "threshold": config.threshold,
        "dropout": config.dropout,
        "downlink_bits_per_client_round": cost.broadcast_bits,
        "uplink_bits_per_client_round": cost.aggregate_bits,
        "not_static": "; ".join(cost.not_static),
        "test_accuracy": float(np.mean(accuracies)),
        "test_accuracy_ci95": interval95(accuracies),
        "test_accuracy_per_seed": " ".join(f"{a:.4f}" for a in accuracies),
        "test_loss": float(np.mean([m["loss"] for m in metrics])),
        "rounds": settings.rounds,
        "clients_per_round": settings.clients_per_round,
        "seeds": " ".join(map(str, settings.seeds)),
        "wall_seconds": round(seconds, 1),
    }


def add_ratios(rows: list[dict]) -> list[dict]:
    """Compression ratio of each direction against the 'identity' configuration (with dropout rows: the
    one that keeps everything), and with dropout the client computation ratio."""
    whole = (None, 1.0) if any(r.get("dropout") is None for r in rows) else (1.0,)
    base = next(
        (
            r
            for r in rows
            if r["broadcast"] == "identity" and r["aggregate"] == "identity" and r.get("dropout") in whole
        ),
        None,
    )
    for row in rows:
        for direction in ("downlink", "uplink"):
            key = f"{direction}_bits_per_client_round"
            row[f"{direction}_ratio"] = round(base[key] / row[key], 2) if base and row[key] else None
        if row.get("dropout") is not None:
            from fedkit.algorithms.dropout import forward_multiply_adds, kept_widths

            full, sub = forward_multiply_adds(kept_widths(1.0)), forward_multiply_adds(kept_widths(row["dropout"]))
            row["client_compute_ratio"] = round(full / sub, 2)
    return rows


def run_sweep(
    configs: Sequence[SweepConfig],
    settings: SweepSettings,
    out_dir: str | Path,
    cache_dir: str | Path,
    source: str = "auto",
    verbose: bool = True,
    on_row=None,
) -> tuple[list[dict], dict]:
    """Run every configuration, print progress (per round with `verbose`), write results.csv/.md and
    figures into `out_dir`; `on_row(rows)`, when given, is called with the rows so far after each one."""
    from fedkit import algorithms, data, runtime
    from fedkit.compression import sizing

    out_dir = Path(out_dir)
    check_settings(settings, out_dir, cache_dir)
    train, test = data.load_emnist(cache_dir=cache_dir, source=source)
    check_settings(settings, out_dir, cache_dir, train_clients=len(train.client_ids))
    out_dir.mkdir(parents=True, exist_ok=True)
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids]
    evaluation = algorithms.build_evaluation("cnn")  # one evaluation computation for every configuration
    rows, histories = [], {}
    for i, config in enumerate(configs, 1):
        if i > 1:
            runtime.release_worker()  # the last configuration's computations would stay in the worker's memory
        print(
            f"[{i}/{len(configs)}] {config.name}: {settings.rounds} rounds x {len(settings.seeds)} seed(s) ...",
            flush=True,
        )
        log_dir = out_dir / "tensorboard" / config.name.replace(" ", "_").replace(",", "")
        row, histories[config.name] = run_config(config, settings, train, test_data, log_dir, verbose, evaluation)
        rows.append(row)
        if on_row:
            on_row(rows)
        down, up = (sizing.format_size(row[f"{d}_bits_per_client_round"]) for d in ("downlink", "uplink"))
        accuracy = format_accuracy(row["test_accuracy"], row["test_accuracy_ci95"], len(settings.seeds))
        took = f" ({row['wall_seconds']:.0f} s)" if verbose else ""
        print(f"    test accuracy {accuracy}, {down} down / {up} up per client per round{took}", flush=True)
    add_ratios(rows)
    for row, on_front in zip(rows, pareto_front(rows), strict=True):
        row["pareto"] = on_front
    write_tables(rows, out_dir)
    plot_sweep(rows, histories, out_dir)
    return rows, histories


def results_data(rows: Sequence[dict], settings: SweepSettings) -> dict:
    """The sweep as `fedkit.common.results` data: the settings and one row per configuration with its per-seed test
    accuracies, their mean and 95% interval half-width (None for one seed), exact bits and the Pareto mark."""
    front = pareto_front(rows)
    keys = (
        "configuration",
        "broadcast",
        "aggregate",
        "threshold",
        "dropout",
        "downlink_bits_per_client_round",
        "uplink_bits_per_client_round",
        "downlink_ratio",
        "uplink_ratio",
        "not_static",
        "rounds",
        "test_accuracy",
        "test_accuracy_ci95",
        "test_loss",
        "wall_seconds",
    )
    return {
        "settings": dataclasses.asdict(settings),
        "rows": [
            {k: row.get(k) for k in keys}
            | {
                "test_accuracy_per_seed": [float(a) for a in row["test_accuracy_per_seed"].split()],
                "total_bits": total_bits(row),
                "pareto": on_front,
            }
            for row, on_front in zip(rows, front, strict=True)
        ],
    }


def merge_results(datas: Sequence[dict]) -> dict:
    """One sweep's results data from several runs' (same settings, different configurations): the rows in
    order, with the ratios and the Pareto front recomputed over all of them."""
    settings = datas[0]["settings"]
    if any(d["settings"] != settings for d in datas):
        raise ValueError(f"settings differ: {[d['settings'] for d in datas]}; merge only runs of one sweep.")
    rows = add_ratios([dict(r) for d in datas for r in d["rows"]])
    names = [r["configuration"] for r in rows]
    if len(set(names)) < len(names):
        raise ValueError(f"configurations {sorted({n for n in names if names.count(n) > 1})} appear twice.")
    for row, on_front in zip(rows, pareto_front(rows), strict=True):
        row["pareto"] = on_front
    return {"settings": settings, "rows": rows}


def command_line(
    configs: Sequence[SweepConfig],
    settings: SweepSettings,
    only: Sequence[str] | None = None,
    dropout: Sequence[float] | None = None,
) -> str:
    """The `python -m fedkit reproduce sweep ...` command that reruns this sweep, every setting spelled out."""
    s = settings
    parts = [
        f"python -m fedkit reproduce sweep --rounds {s.rounds} --clients {s.clients_per_round} --epochs "
        f"{s.epochs} --client-lr {s.client_lr:g} --server-lr {s.server_lr:g} --seeds " + " ".join(map(str, s.seeds))
    ]
    if dropout:
        parts.append("--dropout " + " ".join(f"{p:g}" for p in dropout))
    if only:
        parts.append("--only " + " ".join(repr(c.name) if " " in c.name else c.name for c in configs))
    return " ".join(parts)


def write_results(
    rows: Sequence[dict],
    settings: SweepSettings,
    command: str,
    name: str = "sweep",
    results_dir: str | Path | None = None,
) -> Path:
    """Write the sweep as the results file `<name>.json` (`fedkit/results/` unless another folder is given)."""
    from fedkit.common import results

    return results.write(name, results_data(rows, settings), command, results_dir)


def markdown_table(rows: list[dict]) -> str:
    """The results as a Markdown table (bits in format_size units, ratios as 3.47x)."""
    from fedkit.compression import sizing

    compute = any(r.get("client_compute_ratio") for r in rows)
    head = [
        "configuration",
        "down / client / round",
        "up / client / round",
        "down ratio",
        "up ratio",
        *(["client compute ratio"] if compute else []),
        "test accuracy (95% interval)",
        "test loss",
        "Pareto",
        "rounds",
        "seeds used",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        keys = ("downlink_ratio", "uplink_ratio", *(["client_compute_ratio"] if compute else []))
        ratio = [f"{r[k]:.2f}x" if r.get(k) else "n/a" for k in keys]
        lines.append(
            "| "
            + " | ".join(
                [
                    r["configuration"],
                    sizing.format_size(r["downlink_bits_per_client_round"]),
                    sizing.format_size(r["uplink_bits_per_client_round"]),
                    *ratio,
                    format_accuracy(r["test_accuracy"], r["test_accuracy_ci95"], len(r["seeds"].split())),
                    f"{r['test_loss']:.3f}",
                    "yes" if r.get("pareto") else "",
                    str(r["rounds"]),
                    r["seeds"],
                ]
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


def write_tables(rows: list[dict], out_dir: Path) -> None:
    """results.csv (every field, bits as integers) and results.md."""
    with open(out_dir / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out_dir / "results.md").write_text(markdown_table(rows))


def plot_sweep(rows: list[dict], histories: dict, out_dir: Path) -> None:
    """Write pareto.png (accuracy against total bits, 95% intervals, the Pareto front as a step line) and
    accuracy_per_round.png."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    front = pareto_front(rows)
    for r, on_front in zip(rows, front, strict=True):
        x = total_bits(r) / 2**20
        ax.errorbar(
            x,
            r["test_accuracy"],
            yerr=r["test_accuracy_ci95"],
            fmt="o",
            capsize=3,
            markerfacecolor="C3" if on_front else "white",
            color="C3" if on_front else "C0",
        )
        ax.annotate(r["configuration"], (x, r["test_accuracy"]), fontsize=7, xytext=(3, 3), textcoords="offset points")
    steps = sorted((total_bits(r) / 2**20, r["test_accuracy"]) for r, f in zip(rows, front, strict=True) if f)
    ax.step(*zip(*steps, strict=True), where="post", color="C3", linestyle="--", label="Pareto front")
    ax.legend(fontsize=8, loc="lower right")
    ax.set(
        xscale="log",
        xlabel="Mibit per client, both directions, whole run",
        ylabel="federated test accuracy",
        title="accuracy against communication",
    )
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "pareto.png", dpi=120)
    fig2, ax2 = plt.subplots(figsize=(7, 4.5))
    for name, h in histories.items():
        ax2.plot(h.column("round"), h.column("accuracy"), label=name)
    ax2.set(xlabel="round", ylabel="training accuracy", title="accuracy per round")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3)
    fig2.tight_layout()
    fig2.savefig(out_dir / "accuracy_per_round.png", dpi=120)
    plt.close(fig)
    plt.close(fig2)
