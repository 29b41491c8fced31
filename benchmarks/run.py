"""Benchmark: FedAvg CNN rounds in fedkit against a plain TF loop on the same work and against the
compute floor (the CNN's train steps alone), the sizing tracker's overhead, import and build times,
and each notebook's wall time and peak memory (kernel plus its worker_binary: resident, and its own anonymous pages).

    .venv/bin/python benchmarks/run.py [--clients 10 50] [--rounds 3] [--skip-rounds]
                                       [--skip-notebooks | --notebooks 01 03] [--store]

Prints tables and writes the results files `fedkit/results/benchmark-rounds.json` and
`fedkit/results/benchmark-lessons.json` (with the command, machine and date; the book renders them).
Not part of the test suite.
"""

from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import fedkit  # noqa: F401  (its ENV_DEFAULTS, for this process and the ones it starts, before any TF import)

ROOT = Path(__file__).resolve().parents[1]


def seconds(fn, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


class PlainLoop:
    """FedAvg in plain TF: one Keras CNN built once, a compiled train step, one pass over each client's data."""

    def __init__(self, lr: float) -> None:
        import tensorflow as tf

        from fedkit import models

        self.model = models.create_original_fedavg_cnn_model()
        optimizer = tf.keras.optimizers.SGD(lr)
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy()

        @tf.function
        def step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, self.model(x, training=True))
            optimizer.apply_gradients(
                zip(tape.gradient(loss, self.model.trainable_variables), self.model.trainable_variables, strict=True)
            )

        self.step = step

    def round(self, global_weights: list, datasets: list) -> list:
        """Train each client from the global weights; average the results weighted by examples."""
        import numpy as np

        total, summed = 0, [np.zeros_like(w) for w in global_weights]
        for ds in datasets:
            self.model.set_weights(global_weights)
            n = 0
            for x, y in ds:
                n += int(y.shape[0])  # a static shape: no extra pass over the data, no sync
                self.step(x, y)
            summed = [s + n * w for s, w in zip(summed, self.model.get_weights(), strict=True)]
            total += n
        return [s / total for s in summed]

    def train_steps(self, batches: list) -> None:
        """The compute floor: the train steps alone, over batches already in memory."""
        for client in batches:
            for x, y in client:
                self.step(x, y)
        self.model.trainable_variables[0].numpy()  # wait for the last step


def bench_rounds(clients_list: list[int], rounds: int, lr: float) -> list[dict]:
    """Seconds per round of original and compressed FedAvg, of the plain TF loop and of the floor, per client count."""
    import numpy as np

    from fedkit import algorithms, data
    from fedkit.common import paths
    from fedkit.compression import sizing

    train, _ = data.load_emnist(cache_dir=paths.data_dir(), verbose=False)
    rows = []
    for name, spec in (("original", None), ("uniform:8 both", "uniform:8")):
        build_s, process = seconds(algorithms.build_fedavg, "cnn", client_lr=lr, broadcast=spec, aggregate=spec)
        # Built after TFF's tracing: Keras models made before a graph-mode build are invalidated by it.
        loop = PlainLoop(lr) if name == "original" else None
        cost_s, cost = seconds(sizing.communication_cost, process.next)
        for clients in clients_list:
            rng = np.random.default_rng(0)
            samples = [data.sample_clients(train, clients, rng) for _ in range(rounds + 1)]
            state = process.initialize()
            kit, plain, floor = [], [], []
            weights = [np.asarray(w) for w in process.get_model_weights(state).trainable]
            for i, ids in enumerate(samples):
                datasets = data.federated_data(train, ids, seed=i)
                t, result = seconds(process.next, state, datasets)
                state = result.state
                tracker = sizing.SizeTracker(cost)
                t_track, _ = seconds(tracker.record_round, clients)
                if name == "original":
                    t_plain, weights = seconds(loop.round, weights, datasets)
                    batches = [list(ds) for ds in datasets]  # materialized outside the timing
                    t_floor, _ = seconds(loop.train_steps, batches)
                if i:  # the first round traces and compiles: a warm-up, not measured
                    kit.append(t + t_track)
                    if name == "original":
                        plain.append(t_plain)
                        floor.append(t_floor)
            row = {
                "configuration": name,
                "clients": clients,
                "kit_s_per_round": float(np.median(kit)),
                "build_s": build_s,
                "sizing_s_once": cost_s,
                # The one-time count amortized over a 10-round run, plus the per-round bookkeeping.
                "tracker_overhead_pct": 100 * (cost_s / 10 + t_track) / float(np.median(kit)),
            }
            if name == "original":
                row["plain_s_per_round"] = float(np.median(plain))
                row["floor_s_per_round"] = float(np.median(floor))
            rows.append(row)
            print(row, flush=True)
    return rows


def import_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import tensorflow_federated"], check=True, capture_output=True)
    return time.perf_counter() - start


def _children() -> dict[int, list[int]]:
    """Each running process's children, from the parent ids in /proc/<pid>/stat."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])  # the command name may hold spaces
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _memory_bytes(pid: int) -> tuple[int, int]:
    """Resident and anonymous bytes of a process, from /proc/<pid>/status (counters: cheap to read).

    Anonymous pages (heap, tensors) are what each more learner adds. The other resident pages are
    files' (TensorFlow's libraries, the worker binary), held once in the page cache however many
    learners map them; smaps' Private_* counts them as private while one learner alone maps them,
    and reading smaps walks the page tables under the process's memory lock, slowing the lesson.
    """
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    kib = {
        line.split(":")[0]: int(line.split()[1])
        for line in status.splitlines()
        if line.startswith(("VmRSS:", "RssAnon:", "RssShmem:"))
    }
    return kib.get("VmRSS", 0) * 1024, (kib.get("RssAnon", 0) + kib.get("RssShmem", 0)) * 1024


def descendants(pid: int) -> dict[int, str]:
    """The command name of each descendant of `pid` (nbconvert: the kernel, its worker_binary)."""
    tree, found = _children(), {}
    stack = list(tree.get(pid, []))
    while stack:
        child = stack.pop()
        try:
            found[child] = Path(f"/proc/{child}/comm").read_text().strip()
        except OSError:
            continue
        stack += tree.get(child, [])
    return found


NotebookRun = tuple[float, dict[str, int], int]  # wall seconds, peak resident bytes by process, peak anonymous bytes


def notebook_runs(prefixes: list[str] | None = None, store: bool = False) -> dict[str, NotebookRun]:
    """Wall seconds, peak resident bytes by process (kernel, worker_binary) and peak anonymous bytes per notebook.

    The processes and their memory are polled every 0.2 s (see `_memory_bytes`). With `store`, each
    executed notebook replaces the stored one (the outputs nbval compares against).
    """
    runs = {}
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if prefixes and not nb.name.startswith(tuple(prefixes)):
            continue
        start, peak, peak_anonymous = time.perf_counter(), {}, 0
        with tempfile.TemporaryFile() as log:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jupyter",
                    "nbconvert",
                    "--to",
                    "notebook",
                    "--execute",
                    "--inplace" if store else "--stdout",
                    "--ExecutePreprocessor.kernel_name=fedkit",
                    str(nb),
                ],
                cwd=nb.parent,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            while proc.poll() is None:
                resident, anonymous = collections.Counter(), 0
                for pid, name in descendants(proc.pid).items():
                    rss, anon = _memory_bytes(pid)
                    resident[name] += rss
                    anonymous += anon
                peak = dict(resident) if sum(resident.values()) > sum(peak.values()) else peak
                peak_anonymous = max(peak_anonymous, anonymous)
                time.sleep(0.2)
            if proc.returncode:
                log.seek(0)
                raise RuntimeError(f"{nb.name} failed:\n{log.read().decode()[-2000:]}")
        runs[nb.name] = (time.perf_counter() - start, peak, peak_anonymous)
        print(
            f"{nb.name}: {runs[nb.name][0]:.0f} s, peak {_memory(peak)}, anonymous {peak_anonymous / 1e9:.2f} GB",
            flush=True,
        )
    return runs


def _memory(peak: dict[str, int]) -> str:
    parts = ", ".join(f"{name} {rss / 1e9:.2f}" for name, rss in sorted(peak.items(), key=lambda kv: -kv[1]))
    return f"{sum(peak.values()) / 1e9:.2f} GB ({parts})"


def markdown(rows: list[dict], import_s: float, notebooks: dict[str, NotebookRun]) -> str:
    lines = (
        []
        if not rows
        else [
            "CPU only, "
            "FEMNIST sample (client data in memory), 1 local epoch, batch 20; median of the measured rounds after "
            "one warm-up round. Plain TF loop: one CNN built once, a `tf.function` train step, one pass over each "
            "client's data, weights averaged by examples. Floor: the same train steps alone over batches already "
            "in memory. Targets: fedkit at most 1.0x the loop and 1.3x the floor.",
            "",
            "| configuration | clients/round | fedkit s/round | plain TF loop s/round | fedkit / loop "
            "| floor s/round | fedkit / floor | tracker overhead (10-round run) | build s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
    )
    for r in rows:
        kit, plain, floor = r["kit_s_per_round"], r.get("plain_s_per_round"), r.get("floor_s_per_round")
        cells = [f"{plain:.2f}", f"{kit / plain:.2f}x", f"{floor:.2f}", f"{kit / floor:.2f}x"] if plain else ["-"] * 4
        lines.append(
            f"| {r['configuration']} | {r['clients']} | {kit:.2f} | {' | '.join(cells)} | "
            f"{r['tracker_overhead_pct']:.3f}% | {r['build_s']:.1f} |"
        )
    lines += ["", f"`import tensorflow_federated`: {import_s:.1f} s."]
    if notebooks:
        lines += [
            "",
            "| notebook | wall time | peak resident memory, kernel + worker_binary (by process) "
            "| peak anonymous memory |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {name} | {s:.0f} s | {_memory(peak)} | {anonymous / 1e9:.2f} GB |"
            for name, (s, peak, anonymous) in notebooks.items()
        ]
        total = sum(s for s, _, _ in notebooks.values())
        lines += [
            "",
            f"Series: {total:.0f} s. Anonymous memory is what each more learner adds: the other resident "
            "pages are files' (libraries, the worker binary), held once for all learners. "
            "Target: at most 1.5 GB per learner.",
        ]
    return "\n".join(lines) + "\n"


# The lessons' budget on a 2-core machine (issue "Lessons that learn"): each lesson and the whole series.
LESSON_BUDGET = {"lesson_seconds": 120.0, "series_seconds": 600.0, "lesson_anonymous_gb": 1.5}


def within_lesson_budget(seconds: float, anonymous_bytes: int) -> bool:
    """Whether one lesson's wall time and memory are within its budget."""
    return seconds <= LESSON_BUDGET["lesson_seconds"] and anonymous_bytes / 1e9 <= LESSON_BUDGET["lesson_anonymous_gb"]


def lessons_data(notebooks: dict[str, NotebookRun]) -> dict:
    """The lessons' figures as a results file holds them, with the budget and whether each is within it."""
    rows = [
        {
            "notebook": name,
            "seconds": round(s, 1),
            "anonymous_gb": round(anon / 1e9, 3),
            "resident_gb_by_process": {k: round(v / 1e9, 3) for k, v in peak.items()},
            "within_budget": within_lesson_budget(s, anon),
        }
        for name, (s, peak, anon) in notebooks.items()
    ]
    series = sum(r["seconds"] for r in rows)
    return {
        "budget": LESSON_BUDGET,
        "lessons": rows,
        "series_seconds": round(series, 1),
        "series_within_budget": series <= LESSON_BUDGET["series_seconds"],
    }


def merged_lessons(notebooks: dict[str, NotebookRun], command: str, partial: bool) -> dict:
    """The lessons' results: this run's, or with `partial` (some lessons rerun) the stored file's rows with
    these lessons' replaced; each row names the command that measured it."""
    from fedkit.common import results

    rows = {}
    if partial:
        try:
            stored = results.read("benchmark-lessons")
            rows = {r["notebook"]: {"measured_by": stored["command"], **r} for r in stored["data"]["lessons"]}
        except results.ResultsError:
            pass
    for row in lessons_data(notebooks)["lessons"]:
        rows[row["notebook"]] = {**row, "measured_by": command}
    ordered = [rows[name] for name in sorted(rows)]
    series = round(sum(r["seconds"] for r in ordered), 1)
    return {
        "budget": LESSON_BUDGET,
        "lessons": ordered,
        "series_seconds": series,
        "series_within_budget": series <= LESSON_BUDGET["series_seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds after one warm-up round")
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--skip-rounds", action="store_true", help="only the notebooks")
    parser.add_argument("--store", action="store_true", help="write the executed notebooks back in place")
    parser.add_argument("--notebooks", nargs="+", metavar="PREFIX", help="only the notebooks whose names start so")
    args = parser.parse_args()
    if args.rounds < 1 or min(args.clients) < 1:
        parser.error("--rounds and --clients must be at least 1")

    from fedkit import runtime
    from fedkit.common import results

    runtime.set_local_context()
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    import_s = import_seconds()
    rows = [] if args.skip_rounds else bench_rounds(args.clients, args.rounds, args.lr)
    notebooks = {} if args.skip_notebooks else notebook_runs(args.notebooks, args.store)
    print(markdown(rows, import_s, notebooks))
    if rows:
        print(
            "Wrote",
            results.write("benchmark-rounds", {"import_tff_seconds": round(import_s, 2), "rounds": rows}, command),
        )
    if notebooks:
        print(
            "Wrote",
            results.write("benchmark-lessons", merged_lessons(notebooks, command, bool(args.notebooks)), command),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
