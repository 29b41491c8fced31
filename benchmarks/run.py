"""Benchmark: FedAvg CNN rounds in fedkit against a plain Keras loop on the same work, the sizing
tracker's overhead, import and build times, and each notebook's wall time.

    .venv/bin/python benchmarks/run.py [--clients 10 50] [--rounds 3] [--skip-notebooks]

Prints a table and writes it to outputs/benchmark.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]


def seconds(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def keras_round(global_weights, datasets, lr: float):
    """Plain Keras FedAvg round: train each client from the global weights, average by examples."""
    import numpy as np
    import tensorflow as tf

    from fedkit import models

    model = models.create_original_fedavg_cnn_model()
    model.compile(optimizer=tf.keras.optimizers.SGD(lr), loss=tf.keras.losses.SparseCategoricalCrossentropy())
    total, summed = 0, [np.zeros_like(w) for w in global_weights]
    for ds in datasets:
        model.set_weights(global_weights)
        n = sum(int(y.shape[0]) for _, y in ds)
        model.fit(ds, epochs=1, verbose=0)
        summed = [s + n * w for s, w in zip(summed, model.get_weights(), strict=False)]
        total += n
    return [s / total for s in summed]


def bench_rounds(clients_list: list[int], rounds: int, lr: float) -> list[dict]:
    """Seconds per round of original and compressed FedAvg and of the Keras loop, per client count."""
    import numpy as np

    from fedkit import data, paths, sizing, training

    train, _ = data.load_emnist(cache_dir=paths.data_dir(), verbose=False)
    rows = []
    for name, spec in (("original", None), ("uniform:8 both", "uniform:8")):
        build_s, process = seconds(training.build_fedavg, "cnn", client_lr=lr, broadcast=spec, aggregate=spec)
        cost_s, cost = seconds(sizing.communication_cost, process.next)
        for clients in clients_list:
            rng = np.random.default_rng(0)
            samples = [data.sample_clients(train, clients, rng) for _ in range(rounds + 1)]
            state = process.initialize()
            kit, keras_times = [], []
            weights = [np.asarray(w) for w in process.get_model_weights(state).trainable]
            for i, ids in enumerate(samples):
                datasets = data.federated_data(train, ids, seed=i)
                t, result = seconds(process.next, state, datasets)
                state = result.state
                tracker = sizing.SizeTracker(cost)
                t_track, _ = seconds(tracker.record_round, clients)
                k, weights = seconds(keras_round, weights, datasets, lr) if name == "original" else (None, weights)
                if i:  # the first round traces and compiles: a warm-up, not measured
                    kit.append(t + t_track)
                    keras_times.append(k)
            row = {
                "configuration": name, "clients": clients, "kit_s_per_round": float(np.median(kit)),
                "build_s": build_s, "sizing_s_once": cost_s,
                # The one-time count amortized over a 10-round run, plus the per-round bookkeeping.
                "tracker_overhead_pct": 100 * (cost_s / 10 + t_track) / float(np.median(kit)),
            }  # fmt: skip
            if name == "original":
                row["keras_s_per_round"] = float(np.median(keras_times))
                row["ratio"] = row["kit_s_per_round"] / row["keras_s_per_round"]
            rows.append(row)
            print(row, flush=True)
    return rows


def import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow_federated"], check=True, capture_output=True)
    return time.perf_counter() - start


def notebook_seconds() -> dict[str, float]:
    times = {}
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--stdout",
                        "--ExecutePreprocessor.kernel_name=fedkit", str(nb)],
                       check=True, capture_output=True, cwd=nb.parent)  # fmt: skip
        times[nb.name] = time.perf_counter() - start
        print(f"{nb.name}: {times[nb.name]:.0f} s", flush=True)
    return times


def markdown(rows: list[dict], import_s: float, notebooks: dict[str, float]) -> str:
    lines = [
        f"Measured {datetime.date.today()} on {platform.machine()} Linux, {os.cpu_count()} cores, CPU only, "
        "FEMNIST sample, 1 local epoch, batch 20; median of the measured rounds after one warm-up round.",
        "",
        "| configuration | clients/round | fedkit s/round | plain Keras s/round | ratio "
        "| tracker overhead (10-round run) | build s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        keras = f"{r['keras_s_per_round']:.2f}" if "keras_s_per_round" in r else "-"
        ratio = f"{r['ratio']:.2f}x" if "ratio" in r else "-"
        lines.append(f"| {r['configuration']} | {r['clients']} | {r['kit_s_per_round']:.2f} | {keras} | {ratio} | "
                     f"{r['tracker_overhead_pct']:.3f}% | {r['build_s']:.1f} |")  # fmt: skip
    lines += ["", f"`import tensorflow_federated`: {import_s:.1f} s."]
    if notebooks:
        lines += ["", "| notebook | wall time |", "|---|---|"]
        lines += [f"| {name} | {s:.0f} s |" for name, s in notebooks.items()]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds after one warm-up round")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--skip-notebooks", action="store_true")
    args = parser.parse_args()
    if args.rounds < 1 or min(args.clients) < 1:
        parser.error("--rounds and --clients must be at least 1")

    from fedkit import paths, runtime

    runtime.set_local_context()
    import_s = import_seconds()
    rows = bench_rounds(args.clients, args.rounds, args.lr)
    notebooks = {} if args.skip_notebooks else notebook_seconds()
    table = markdown(rows, import_s, notebooks)
    out = paths.output_path("benchmark.md")
    out.write_text(table)
    print(table)
    print(f"Wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
