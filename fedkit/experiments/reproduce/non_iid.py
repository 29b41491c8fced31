"""Lesson 07: FedAvg of the dense model on the same examples split three ways (by writer, IID, by label),
and one remedy for the label split (more clients per round), over seeds."""

from __future__ import annotations

import time

HELP = "FedAvg (dense model) on the FEMNIST sample split by writer, IID and by label, and a remedy, over seeds"
SEEDS = (0, 1, 2, 3, 4)
ROUNDS = 10
EPOCHS = 5
CLIENT_LR = 0.1
# name -> (split, clients per round)
CONFIGS = {
    "by writer": ("writer", 10),
    "IID": ("iid", 10),
    "by label": ("label", 10),
    "by label, 30 clients a round": ("label", 30),
}


def settings() -> dict:
    """What every run shares (JSON-ready), stored beside the results."""
    return {
        "model": "dense",
        "rounds": ROUNDS,
        "local_epochs": EPOCHS,
        "client_lr": CLIENT_LR,
        "server_lr": 1.0,
        "configs": {name: {"split": s, "clients_per_round": k} for name, (s, k) in CONFIGS.items()},
    }


def run(seeds: tuple[int, ...]) -> dict:
    """Test accuracy after `ROUNDS` rounds for each configuration and seed (the split drawn from the seed too)."""
    from fedkit import algorithms, data
    from fedkit.common import paths, results
    from fedkit.data import partition
    from fedkit.experiments import rounds

    train, test = data.load_emnist(cache_dir=paths.data_dir(), verbose=False)
    owners, labels, pixels = partition.pool(train)
    writers = partition.by_writer(owners)
    sizes = [len(rows) for rows in writers.values()]
    evaluation = algorithms.build_evaluation("dense")
    test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids]
    accuracy: dict[str, list[float]] = {name: [] for name in CONFIGS}
    for seed in seeds:
        splits = {
            "writer": writers,
            "iid": partition.iid(len(labels), sizes, seed),
            "label": partition.by_label(labels, sizes, seed),
        }
        for name, (split, clients_per_round) in CONFIGS.items():
            start = time.perf_counter()
            process = algorithms.build_fedavg("dense", client_lr=CLIENT_LR)
            run_config = rounds.RoundsConfig(
                ROUNDS, clients_per_round, seed, flat=True, epochs=EPOCHS, track_size=False
            )
            state, _ = rounds.train(process, partition.client_data(splits[split], labels, pixels), run_config)
            acc = rounds.evaluate(evaluation, process.get_model_weights(state), test_data)["accuracy"]
            accuracy[name].append(acc)
            print(f"seed {seed} {name}: test accuracy {acc:.3f} ({time.perf_counter() - start:.0f} s)", flush=True)
    return {
        "settings": settings(),
        "seeds": list(seeds),
        "test_accuracy": {name: results.summary(values) for name, values in accuracy.items()},
    }
