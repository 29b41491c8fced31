"""Federated Dropout (Caldas et al. 2018) on the digits CNN: test accuracy against bits and client compute.

The baseline keeps every unit and encodes nothing; keep 0.75 trains without encoders and with the paper's
pairing (Kashin's representation with 4-bit quantization down, 2-bit quantization up), `ROUNDS` rounds per
seed. Lesson 13 reads the results file this writes.
"""

from __future__ import annotations

import time

HELP = "Federated Dropout: keep 1.0 and 0.75, and 0.75 with Kashin + quantization (lesson 13)"
SEEDS = (0, 1, 2)
PAPER = ("kashin:4", "uniform:2")  # (down, up): the paper's pairing of Kashin + 4-bit down, 2-bit up
GRID = ((1.0, None, None), (0.75, None, None), (0.75, *PAPER))  # (keep, down, up), the baseline first
ROUNDS, CLIENTS_PER_ROUND, EPOCHS, CLIENT_LR, SERVER_LR = 25, 10, 1, 0.1, 1.0


def config_name(keep: float, down: str | None, up: str | None) -> str:
    """'keep 0.75' or 'keep 0.75, kashin:4 down, uniform:2 up'."""
    return f"keep {keep:g}" + (f", {down} down, {up} up" if down else "")


def configurations() -> list[dict]:
    """Every (keep, down, up) the experiment trains, the baseline (keep 1.0, no encoders) first."""
    return [{"name": config_name(k, d, u), "keep": k, "broadcast": d, "aggregate": u} for k, d, u in GRID]


def run(seeds: tuple[int, ...]) -> dict:
    """Train every configuration once per seed; return bits, client compute and test accuracy per seed."""
    from fedkit import algorithms, data

    train, test = data.load_emnist()
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids]
    evaluation = algorithms.build_evaluation("cnn")
    rows = [train_config(config, seeds, train, test_data, evaluation) for config in configurations()]
    return {
        "settings": {
            "rounds": ROUNDS,
            "clients_per_round": CLIENTS_PER_ROUND,
            "epochs": EPOCHS,
            "client_lr": CLIENT_LR,
            "server_lr": SERVER_LR,
            "seeds": list(seeds),
            "train_writers": len(train.client_ids),
            "test_writers": len(test.client_ids),
        },
        "configurations": rows,
    }


def train_config(config: dict, seeds: tuple[int, ...], train, test_data: list, evaluation) -> dict:
    """Train one configuration (from `configurations`) once per seed; its bits, client compute and test accuracy."""
    from fedkit.algorithms import dropout
    from fedkit.common import results
    from fedkit.compression import sizing
    from fedkit.experiments import rounds

    start = time.perf_counter()
    process = dropout.build_process(config["keep"], CLIENT_LR, SERVER_LR, config["broadcast"], config["aggregate"])
    cost = sizing.communication_cost(process.next)
    accuracies = []
    for seed in seeds:
        run_config = rounds.RoundsConfig(ROUNDS, CLIENTS_PER_ROUND, seed, epochs=EPOCHS, track_size=False)
        state, _ = rounds.train(process, train, run_config)
        accuracies.append(rounds.evaluate(evaluation, process.get_model_weights(state), test_data)["accuracy"])
        print(
            f"{config['name']}, seed {seed}: test accuracy {accuracies[-1]:.4f} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )
    return {
        **config,
        "down_bits": cost.broadcast_bits,
        "up_bits": cost.aggregate_bits,
        "forward_multiply_adds": dropout.forward_multiply_adds(dropout.kept_widths(config["keep"])),
        "test_accuracy": results.summary(accuracies),
        "seconds": round(time.perf_counter() - start, 1),
    }
