"""Lossless coding, measured: FedAvg CNN rounds with `uniform-eg:B` (uniform quantization, then Elias
gamma) on both directions, its measured bits per round against its static upper bound and against
plain `uniform:B`, and the test accuracy of both after the last round.

    .venv/bin/python benchmarks/lossless.py [--rounds 5] [--clients 10] [--epochs 2] [--bits 8] [--seed 0]

Prints a Markdown table (the README's "Lossless coding: measured bits"). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import datetime
import time

from fedkit.common.env import apply_defaults

apply_defaults()  # fedkit's environment defaults (TF's C++ logging silenced), before TensorFlow starts


def run(spec: str, args: argparse.Namespace, train, test) -> tuple[list[dict], dict, float]:
    """Train with `spec` on both directions; return the history rows, the test metrics and the wall time."""
    from fedkit import algorithms, experiments

    start = time.perf_counter()
    process = algorithms.build_fedavg("cnn", client_lr=0.1, server_lr=1.0, broadcast=spec, aggregate=spec)
    state, history = experiments.run_rounds(
        process, train, args.rounds, args.clients, seed=args.seed, epochs=args.epochs, verbose=False
    )
    from fedkit import data

    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids]  # as the sweep
    metrics = experiments.evaluate(algorithms.build_evaluation("cnn"), process.get_model_weights(state), test_data)
    return history.rows, metrics, time.perf_counter() - start


def per_round(rows: list[dict], key: str) -> list[int]:
    """One round's bits from a cumulative column."""
    totals = [0, *(row[key] for row in rows)]
    return [b - a for a, b in zip(totals[:-1], totals[1:], strict=True)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--clients", type=int, default=10)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--bits", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    from fedkit import data
    from fedkit.compression.sizing import format_size

    train, test = data.load_emnist(source="sample", verbose=False)
    plain, plain_metrics, plain_time = run(f"uniform:{args.bits}", args, train, test)
    coded, coded_metrics, coded_time = run(f"uniform-eg:{args.bits}", args, train, test)
    eg = f"uniform-eg:{args.bits}"
    columns = {
        f"uniform:{args.bits} down (static, exact)": per_round(plain, "cumulative_broadcast_bits"),
        f"uniform:{args.bits} up (static, exact)": per_round(plain, "cumulative_aggregate_bits"),
        f"{eg} down, static bound": per_round(coded, "cumulative_broadcast_bits"),
        f"{eg} up, static bound": per_round(coded, "cumulative_aggregate_bits"),
        f"{eg} down, measured": per_round(coded, "measured_cumulative_broadcast_bits"),
        f"{eg} up, measured": per_round(coded, "measured_cumulative_aggregate_bits"),
    }
    print(
        f"{datetime.date.today()}: FedAvg cnn, FEMNIST sample, {args.rounds} rounds of {args.clients} clients, "
        f"{args.epochs} epochs, client SGD 0.1, server SGD 1.0, seed {args.seed}; bits per round"
    )
    print()
    print("| round | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    for i, row in enumerate(coded):
        print(f"| {row['round']} | " + " | ".join(format_size(c[i]) for c in columns.values()) + " |")
    for name, values in columns.items():
        print(f"total {name}: {format_size(sum(values))} ({sum(values)} bits)")
    print(
        f"uniform:{args.bits}: test accuracy {plain_metrics['accuracy']:.3f}, {plain_time:.0f} s; "
        f"uniform-eg:{args.bits}: test accuracy {coded_metrics['accuracy']:.3f}, {coded_time:.0f} s"
    )


if __name__ == "__main__":
    main()
