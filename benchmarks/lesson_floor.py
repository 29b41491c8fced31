"""The compute floor of a lesson's training run: the same clients' batches as `experiments.run_rounds`
would train (same seed, rounds, clients and epochs), put through the CNN's train step alone.

    .venv/bin/python benchmarks/lesson_floor.py --rounds 10 --clients 10 --epochs 2 --seed 0 [--runs 1]

Prints the number of batches and the seconds the train steps alone take over them, which no
federated runtime can go below on this machine. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import time

from fedkit.common.env import apply_defaults

apply_defaults()  # fedkit's environment defaults (TF's C++ logging silenced), before TensorFlow starts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=1, help="how many such runs the lesson trains")
    args = parser.parse_args(argv)

    import numpy as np
    from run import PlainLoop

    from fedkit import data, experiments
    from fedkit.common import paths

    train, _ = data.load_emnist(cache_dir=paths.data_dir(), verbose=False)
    rng = np.random.default_rng(args.seed)
    rounds = [
        [list(ds) for ds in experiments.round_data(train, args.clients, rng, epochs=args.epochs)[1]]
        for _ in range(args.rounds)
    ]
    loop = PlainLoop(lr=0.1)
    loop.train_steps(rounds[0][:1])  # traces the step: a warm-up, not measured
    start = time.perf_counter()
    for batches in rounds:
        loop.train_steps(batches)
    seconds = time.perf_counter() - start
    count = sum(len(client) for batches in rounds for client in batches)
    print(
        f"{args.rounds} rounds x {args.clients} clients x {args.epochs} epoch(s), seed {args.seed}: "
        f"{count:,} batches, {seconds:.1f} s of train steps ({1000 * seconds / count:.1f} ms per batch)"
        + (f"; {args.runs} runs: {args.runs * seconds:.1f} s" if args.runs > 1 else "")
    )


if __name__ == "__main__":
    main()
