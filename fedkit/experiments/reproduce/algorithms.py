"""Lesson 05's comparison of TFF's builders: weighted and unweighted FedAvg, FedSGD and FedProx on the dense
784 -> 10 model, over several seeds, with the test accuracy on the held-out writers after each of a few rounds.

Two settings. "even": every client does the same local work (5 epochs), as in the lesson. "uneven": each
client draws its own number of local epochs (1 to 10) every round, the heterogeneous local work that FedProx
was proposed for; FedAvg and FedProx at two proximal strengths see the same draws.

FedProx is `fedkit.algorithms.fedavg.build_process(..., proximal_strength=mu)`: TFF 0.87's `build_weighted_fed_prox`
adds the proximal gradient with the wrong sign (it pushes clients away from the broadcast model).
"""

from __future__ import annotations

import time

import numpy as np
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import algorithms, data, models, runtime
from fedkit.algorithms import fedavg
from fedkit.common import paths
from fedkit.experiments import rounds

HELP = "lesson 05: weighted/unweighted FedAvg, FedSGD and FedProx (dense model, even and uneven local work)"
SEEDS = (0, 1, 2)

ROUNDS = 10
CLIENTS = 10
CLIENT_LR = 0.1
SERVER_LR = 1.0
EPOCHS = 5
UNEVEN_EPOCHS = (1, 10)  # each client's local epochs, drawn uniformly from this range (both ends included)
EVAL_ROUNDS = (1, 2, 4, 6, 8, 10)
FEDSGD_LRS = (0.1, 1.0)
PROX_MUS = (0.1, 1.0)


def uneven_epochs(rng: np.random.Generator, clients: int, low: int = UNEVEN_EPOCHS[0], high: int = UNEVEN_EPOCHS[1]):
    """Local epochs for each of `clients` clients, drawn uniformly from low..high (both included)."""
    if not 1 <= low <= high:
        raise ValueError(f"low={low}, high={high}: need 1 <= low <= high.")
    return [int(e) for e in rng.integers(low, high + 1, size=clients)]


def plan(seed: int, client_ids: list[str], rounds: int = ROUNDS, clients: int = CLIENTS) -> list[dict]:
    """Each round's clients, shuffle seed and uneven epochs, drawn from `seed` once for every algorithm."""
    rng = np.random.default_rng(seed)
    rounds_plan = []
    for _ in range(rounds):
        chosen = sorted(rng.choice(client_ids, size=clients, replace=False).tolist())
        rounds_plan.append(
            {"clients": chosen, "shuffle": int(rng.integers(2**31)), "epochs": uneven_epochs(rng, clients)}
        )
    return rounds_plan


def builders(model: tff.learning.models.FunctionalModel) -> dict[str, tuple[str, tff.templates.IterativeProcess]]:
    """Name -> (setting, process) for every run of one seed."""
    sgd = tff.learning.optimizers.build_sgdm
    built = {
        "weighted FedAvg": (
            "even",
            tff.learning.algorithms.build_weighted_fed_avg(
                model, client_optimizer_fn=sgd(CLIENT_LR), server_optimizer_fn=sgd(SERVER_LR)
            ),
        ),
        "unweighted FedAvg": (
            "even",
            tff.learning.algorithms.build_unweighted_fed_avg(
                model, client_optimizer_fn=sgd(CLIENT_LR), server_optimizer_fn=sgd(SERVER_LR)
            ),
        ),
    }
    for mu in PROX_MUS:
        built[f"FedProx mu={mu:g}"] = ("even", fedavg.build_process(model, CLIENT_LR, SERVER_LR, proximal_strength=mu))
    for lr in FEDSGD_LRS:
        built[f"FedSGD lr={lr:g}"] = (
            "fedsgd",
            tff.learning.algorithms.build_fed_sgd(model, server_optimizer_fn=sgd(lr)),
        )
    built["uneven: weighted FedAvg"] = ("uneven", built["weighted FedAvg"][1])
    for mu in PROX_MUS:
        built[f"uneven: FedProx mu={mu:g}"] = ("uneven", built[f"FedProx mu={mu:g}"][1])
    return built


def _next(process, state, datasets):
    """The next state of a TFF learning process or of `fedkit.algorithms.fedavg`'s process."""
    result = process.next(state, datasets)
    return result if isinstance(result, fedavg.ServerState) else result.state


def _weights(process, state) -> tff.learning.models.ModelWeights:
    return state.model_weights if isinstance(state, fedavg.ServerState) else process.get_model_weights(state)


def _datasets(train, step: dict, setting: str) -> list[tf.data.Dataset]:
    # FedSGD takes one gradient of each client's loss over its data: one pass holds all of it.
    epochs = {"even": [EPOCHS] * CLIENTS, "fedsgd": [1] * CLIENTS, "uneven": step["epochs"]}[setting]
    return [
        data.preprocess(train.create_tf_dataset_for_client(c), epochs=e, flat=True, seed=step["shuffle"])
        for c, e in zip(step["clients"], epochs, strict=True)
    ]


def run(seeds: tuple[int, ...] = SEEDS) -> dict:
    """Test accuracy after each of `EVAL_ROUNDS` for every algorithm and seed, with each setting's parameters."""
    runtime.set_local_context()
    try:
        train, test = data.load_emnist(only_digits=True, cache_dir=paths.data_dir(), verbose=False)
        test_data = [data.preprocess_test(test.create_tf_dataset_for_client(c), flat=True) for c in test.client_ids]
        model = models.functional_model("dense")
        evaluation = algorithms.build_evaluation(model)
        runs = builders(model)
        accuracy: dict[str, dict[str, list[float]]] = {name: {str(r): [] for r in EVAL_ROUNDS} for name in runs}
        for seed in seeds:
            steps = plan(seed, train.client_ids)
            for name, (setting, process) in runs.items():
                start = time.perf_counter()
                tf.keras.utils.set_random_seed(seed)
                state = process.initialize()  # the dense model starts at zeros: the seed picks clients and order
                for r, step in enumerate(steps, start=1):
                    state = _next(process, state, _datasets(train, step, setting))
                    if r in EVAL_ROUNDS:
                        weights = _weights(process, state)
                        accuracy[name][str(r)].append(rounds.evaluate(evaluation, weights, test_data)["accuracy"])
                final = accuracy[name][str(EVAL_ROUNDS[-1])][-1]
                print(
                    f"seed {seed} {name:<26} test accuracy {final:.4f} ({time.perf_counter() - start:.0f} s)",
                    flush=True,
                )
    finally:
        runtime.shutdown()
    return {
        "model": "dense",
        "rounds": ROUNDS,
        "clients_per_round": CLIENTS,
        "client_lr": CLIENT_LR,
        "server_lr": SERVER_LR,
        "epochs": EPOCHS,
        "uneven_epochs": list(UNEVEN_EPOCHS),
        "eval_rounds": list(EVAL_ROUNDS),
        "seeds": list(seeds),
        "settings": {name: setting for name, (setting, _) in runs.items()},
        "test_accuracy": accuracy,
    }
