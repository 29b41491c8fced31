"""Low bits: FedAvg with 1-bit quantization of both directions, without and with a random rotation, and DRIVE.

The dense 784->10 model, client SGD 0.1 for 5 local epochs, 10 clients a round, 10 rounds; every
configuration is trained once per seed and scored on the held-out test writers. `uniform:B` quantizes
each large tensor (the 7,840-value kernel; `THRESHOLD`) between its min and max; `hadamard:B` rotates
it by a random Hadamard matrix first; `drive` (Vargaftik et al. 2021) rotates and sends signs with one
scale that makes the estimate unbiased. The baseline encodes nothing. Lesson 11 reads the results file.
"""

from __future__ import annotations

import time

HELP = "FedAvg with uniform:1, hadamard:1 and drive on both directions, and no compression (lesson 11)"
SEEDS = (0, 1, 2, 3, 4)  # five: three leave intervals too wide to separate rotation from plain 1-bit
ENCODERS = (None, "uniform:1", "hadamard:1", "drive")  # the same spec down and up
MODEL, ROUNDS, CLIENTS_PER_ROUND, EPOCHS, CLIENT_LR, SERVER_LR, THRESHOLD = "dense", 10, 10, 5, 0.1, 1.0, 1000


def config_name(spec: str | None) -> str:
    """'no compression' or e.g. 'uniform:1 both ways'."""
    return "no compression" if spec is None else f"{spec} both ways"


def run(seeds: tuple[int, ...]) -> dict:
    """Train every configuration once per seed; return bits per client and test accuracy per seed."""
    from fedkit import algorithms, data

    train, test = data.load_emnist(verbose=False)
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids]
    evaluation = algorithms.build_evaluation(MODEL)
    rows = [train_config(spec, seeds, train, test_data, evaluation) for spec in ENCODERS]
    return {
        "settings": {
            "model": MODEL,
            "rounds": ROUNDS,
            "clients_per_round": CLIENTS_PER_ROUND,
            "epochs": EPOCHS,
            "client_lr": CLIENT_LR,
            "server_lr": SERVER_LR,
            "threshold": THRESHOLD,
            "seeds": list(seeds),
            "train_writers": len(train.client_ids),
            "test_writers": len(test.client_ids),
        },
        "configurations": rows,
    }


def train_config(spec: str | None, seeds: tuple[int, ...], train, test_data: list, evaluation) -> dict:
    """Train with `spec` both ways (None: no compression) once per seed; its bits and test accuracy per seed."""
    from fedkit import algorithms
    from fedkit.common import results
    from fedkit.compression import sizing
    from fedkit.experiments import rounds

    start = time.perf_counter()
    process = algorithms.build_fedavg(MODEL, CLIENT_LR, SERVER_LR, broadcast=spec, aggregate=spec, threshold=THRESHOLD)
    cost = sizing.communication_cost(process.next)
    accuracies = []
    for seed in seeds:
        run_config = rounds.RoundsConfig(ROUNDS, CLIENTS_PER_ROUND, seed, flat=True, epochs=EPOCHS, track_size=False)
        state, _ = rounds.train(process, train, run_config)
        accuracies.append(rounds.evaluate(evaluation, process.get_model_weights(state), test_data)["accuracy"])
        print(f"{config_name(spec)}, seed {seed}: test accuracy {accuracies[-1]:.4f}", flush=True)
    return {
        "name": config_name(spec),
        "encoder": spec,
        "down_bits": cost.broadcast_bits,
        "up_bits": cost.aggregate_bits,
        "test_accuracy": results.summary(accuracies),
        "seconds": round(time.perf_counter() - start, 1),
    }
