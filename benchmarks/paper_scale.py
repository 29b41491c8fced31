"""Benchmark at paper scale, on a full-size SYNTHETIC EMNIST (`benchmarks/full_size.py`: TFF's digits sizes, the
FEMNIST sample's writers replicated; its accuracies mean nothing, only its timings do). In one process, side by side:

- evaluation over all 3,383 test writers: TFF's federated evaluation (`experiments.evaluate`), one compiled forward
  pass of the same Keras CNN over the same 40,832 examples, and the pooled evaluation (`experiments.PooledEvaluation`);
- one FedAvg CNN round of 10 and of 50 clients: through TFF (`build_fedavg`, one `next`), through a plain TF loop
  (the same local SGD steps per client, then the weighted mean; `run.PlainLoop`) and the compute floor (the train
  steps alone over batches already in memory);
- a Caldas-scale run (10 clients a round, 2,000 rounds, an evaluation every 100) estimated from those times.

    .venv/bin/python benchmarks/paper_scale.py [--clients 10 50] [--repeats 3] [--cache-dir DIR]

One warm-up of each measurement is excluded; the median of `--repeats` measurements is kept. Writes
`fedkit/results/paper-scale.json`. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import full_size
from run import PlainLoop, seconds

# The targets ("Paper scale").
TARGETS = {"pooled_over_forward_pass": 2.0, "round_over_plain_loop": 1.0, "round_over_floor": 1.3}
CALDAS = {"rounds": 2_000, "clients_per_round": 10, "evaluate_every": 100}


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def forward_pass(model, batches: list) -> None:
    """One compiled forward pass of `model` over batches already in memory, waited for."""
    for x in batches:
        out = model(x)
    out.numpy()


def bench_evaluation(train_weights, test, repeats: int) -> dict:
    """Seconds of TFF's federated evaluation, a compiled forward pass and the pooled evaluation, interleaved."""
    import tensorflow as tf

    from fedkit import algorithms, data, experiments, models

    evaluation = algorithms.build_evaluation("cnn")
    prepare_s, test_data = seconds(
        lambda: [data.preprocess_test(test.create_tf_dataset_for_client(c)) for c in test.client_ids]
    )
    # Keras models are built after TFF's tracing (a graph-mode build invalidates those made before it).
    pooled_build_s, pooled = seconds(experiments.PooledEvaluation, "cnn", test)
    uncached = experiments.PooledEvaluation(pooled.model, test, cache=False)  # reads the writers' data each call
    keras_model = models.create_keras_model("cnn")
    train_weights.assign_weights_to(keras_model)
    forward = tf.function(keras_model)
    batches = [x for x, _ in data.preprocess_test(test.create_tf_dataset_from_all_clients(seed=0))]
    examples = sum(int(x.shape[0]) for x in batches)
    times: dict[str, list[float]] = {"tff": [], "forward": [], "pooled": [], "pooled_uncached": []}
    for i in range(repeats + 1):  # the first of each: tracing, the pooled cache filled; a warm-up
        t_forward, _ = seconds(forward_pass, forward, batches)
        t_pooled, pooled_metrics = seconds(pooled, train_weights)
        t_uncached, _ = seconds(uncached, train_weights)
        t_tff, tff_metrics = seconds(experiments.evaluate, evaluation, train_weights, test_data)
        print(
            f"evaluation {i}: tff {t_tff:.1f} s, forward pass {t_forward:.1f} s, pooled {t_pooled:.1f} s "
            f"(uncached {t_uncached:.1f} s)",
            flush=True,
        )
        if i == 0:
            pooled_first_s = t_pooled
        else:
            for key, t in (
                ("tff", t_tff),
                ("forward", t_forward),
                ("pooled", t_pooled),
                ("pooled_uncached", t_uncached),
            ):
                times[key].append(t)
    tff_s, forward_s, pooled_s, uncached_s = (median(times[k]) for k in ("tff", "forward", "pooled", "pooled_uncached"))
    return {
        "test_writers": len(test.client_ids),
        "test_examples": examples,
        "tff_federated_s": tff_s,
        "forward_pass_s": forward_s,
        "pooled_s": pooled_s,
        "tff_over_forward_pass": tff_s / forward_s,
        "pooled_over_forward_pass": pooled_s / forward_s,
        "pooled_within_target": pooled_s / forward_s <= TARGETS["pooled_over_forward_pass"],
        # cache=False: every call reads the writers' examples again (the first call of a cached one does too).
        "pooled_uncached_s": uncached_s,
        "pooled_uncached_over_forward_pass": uncached_s / forward_s,
        "tff_build_test_datasets_s_once": prepare_s,
        "pooled_build_s_once": pooled_build_s,
        "pooled_first_call_s": pooled_first_s,
        "accuracy_tff": tff_metrics["accuracy"],
        "accuracy_pooled": pooled_metrics["accuracy"],
        "loss_tff": tff_metrics["loss"],
        "loss_pooled": pooled_metrics["loss"],
        "measured_s": times,
    }


def trace_every_batch_size(loop: PlainLoop, batch_size: int = 20) -> None:
    """Trace the loop's train step for each size a client's last batch can have, before any timing.

    Its `tf.function` traces once per new input shape: left to the measured rounds, the sizes they meet first
    would each add a trace to the plain loop's time (the weights it moves are reset at each client's start).
    """
    import tensorflow as tf

    for n in range(1, batch_size + 1):
        loop.step(tf.zeros([n, 28, 28, 1]), tf.zeros([n, 1], tf.int32))


def bench_rounds(process, train, clients_list: list[int], repeats: int, lr: float) -> list[dict]:
    """Seconds per FedAvg round through TFF, a plain TF loop and the floor, on the same clients, per client count."""
    import numpy as np

    from fedkit import data

    loop = PlainLoop(lr)  # built after TFF's tracing, as in run.py
    trace_every_batch_size(loop)
    rows = []
    for clients in clients_list:
        rng = np.random.default_rng(clients)
        state = process.initialize()
        weights = [np.asarray(w) for w in process.get_model_weights(state).trainable]
        times: dict[str, list[float]] = {"kit": [], "plain": [], "floor": [], "datasets": []}
        for i in range(repeats + 1):
            ids = data.sample_clients(train, clients, rng)
            t_data, datasets = seconds(data.federated_data, train, ids, seed=i)
            t_kit, result = seconds(process.next, state, datasets)
            state = result.state
            t_plain, weights = seconds(loop.round, weights, datasets)
            batches = [list(ds) for ds in datasets]  # materialized outside the timing
            t_floor, _ = seconds(loop.train_steps, batches)
            examples = sum(int(y.shape[0]) for client in batches for _, y in client)
            print(
                f"{clients} clients, round {i}: tff {t_kit:.2f} s, plain loop {t_plain:.2f} s, floor {t_floor:.2f} s "
                f"({examples} examples)",
                flush=True,
            )
            if i:  # the first round traces and compiles: a warm-up
                for key, t in (("kit", t_kit), ("plain", t_plain), ("floor", t_floor), ("datasets", t_data)):
                    times[key].append(t)
        kit, plain, floor = (median(times[k]) for k in ("kit", "plain", "floor"))
        rows.append(
            {
                "clients": clients,
                "tff_s_per_round": kit,
                "plain_s_per_round": plain,
                "floor_s_per_round": floor,
                "tff_over_plain": kit / plain,
                "tff_over_floor": kit / floor,
                "plain_over_floor": plain / floor,
                "within_targets": kit / plain <= TARGETS["round_over_plain_loop"]
                and kit / floor <= TARGETS["round_over_floor"],
                "build_datasets_s": median(times["datasets"]),
            }
        )
    return rows


def caldas_estimate(rounds: list[dict], evaluation: dict, load_s: float) -> dict:
    """Hours of a Caldas-scale run, from the measured seconds per round (10 clients) and per evaluation."""
    row = next(r for r in rounds if r["clients"] == CALDAS["clients_per_round"])
    evaluations = CALDAS["rounds"] // CALDAS["evaluate_every"]
    train_s = CALDAS["rounds"] * (row["tff_s_per_round"] + row["build_datasets_s"])
    tff_eval_s = evaluations * evaluation["tff_federated_s"] + evaluation["tff_build_test_datasets_s_once"]
    pooled_eval_s = (
        (evaluations - 1) * evaluation["pooled_s"]
        + evaluation["pooled_first_call_s"]
        + evaluation["pooled_build_s_once"]
    )
    hours = 1 / 3600
    return {
        **CALDAS,
        "evaluations": evaluations,
        "load_s": load_s,
        "training_h": train_s * hours,
        "tff_evaluations_h": tff_eval_s * hours,
        "pooled_evaluations_h": pooled_eval_s * hours,
        "total_with_tff_evaluation_h": (load_s + train_s + tff_eval_s) * hours,
        "total_with_pooled_evaluation_h": (load_s + train_s + pooled_eval_s) * hours,
        "plain_loop_and_forward_pass_h": (
            load_s + CALDAS["rounds"] * row["plain_s_per_round"] + evaluations * evaluation["forward_pass_s"]
        )
        * hours,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--repeats", type=int, default=3, help="measurements after one warm-up")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--cache-dir", default=None, help="the synthetic cache (default: outputs/full-size-emnist/)")
    args = parser.parse_args()
    if args.repeats < 1 or min(args.clients) < 1:
        parser.error("--repeats and --clients must be at least 1")
    if CALDAS["clients_per_round"] not in args.clients:
        parser.error(f"--clients must include {CALDAS['clients_per_round']} (the Caldas estimate's round)")

    from fedkit import algorithms, experiments, runtime
    from fedkit.common import results

    runtime.set_local_context()
    command = " ".join(["python benchmarks/paper_scale.py", *sys.argv[1:]])
    full_size.build(args.cache_dir)  # written once, outside the timing
    load_s, (train, test) = seconds(full_size.load, args.cache_dir, verbose=False)
    print(f"{full_size.LABEL}: loaded in {load_s:.0f} s", flush=True)
    process = algorithms.build_fedavg("cnn", client_lr=args.lr)
    weights = process.get_model_weights(experiments.initial_state(process, 0))
    evaluation = bench_evaluation(weights, test, args.repeats)
    rounds = bench_rounds(process, train, args.clients, args.repeats, args.lr)
    record = {
        "data": full_size.LABEL,
        "writers": len(train.client_ids),
        "train_examples": full_size.EXAMPLES["train"],
        "test_examples": full_size.EXAMPLES["test"],
        "load_s": load_s,
        "repeats": args.repeats,
        "targets": TARGETS,
        "evaluation": evaluation,
        "rounds": rounds,
        "caldas_estimate": caldas_estimate(rounds, evaluation, load_s),
    }
    print(
        f"evaluation: tff {evaluation['tff_federated_s']:.1f} s, forward pass {evaluation['forward_pass_s']:.1f} s, "
        f"pooled {evaluation['pooled_s']:.1f} s: tff/forward {evaluation['tff_over_forward_pass']:.2f}x, "
        f"pooled/forward {evaluation['pooled_over_forward_pass']:.2f}x "
        f"(target {TARGETS['pooled_over_forward_pass']}x)"
    )
    for r in rounds:
        print(
            f"{r['clients']} clients: tff {r['tff_s_per_round']:.2f} s, plain loop {r['plain_s_per_round']:.2f} s, "
            f"floor {r['floor_s_per_round']:.2f} s: tff/plain {r['tff_over_plain']:.2f}x "
            f"(target {TARGETS['round_over_plain_loop']}x), tff/floor {r['tff_over_floor']:.2f}x "
            f"(target {TARGETS['round_over_floor']}x)"
        )
    caldas = record["caldas_estimate"]
    print(
        f"Caldas-scale estimate ({caldas['rounds']} rounds of {caldas['clients_per_round']} clients, "
        f"{caldas['evaluations']} evaluations): {caldas['total_with_tff_evaluation_h']:.2f} h with TFF's evaluation, "
        f"{caldas['total_with_pooled_evaluation_h']:.2f} h with the pooled one "
        f"(plain loop and forward pass: {caldas['plain_loop_and_forward_pass_h']:.2f} h)"
    )
    print("Wrote", results.write("paper-scale", record, command))
    return 0


if __name__ == "__main__":
    sys.exit(main())
