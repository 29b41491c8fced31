"""Layer 6, the command line, `python -m fedkit`: communication cost of a configuration (`cost`), the compression
sweep (`reproduce sweep`), and Suresh et al.'s distributed mean estimation tables (`reproduce dme`).

Public names: `main` (the entry point), `parser`, `cost_report`, `seeds_for`, `UsageError`, `PROG`.
Importing it imports no TensorFlow: the arguments are checked first.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

# TensorFlow takes seconds to import: this module imports it only once the arguments are checked.
from fedkit.common import checks
from fedkit.compression import specs
from fedkit.compression.specs import AggregateSpec, CompressionSpec, EncoderSpec
from fedkit.experiments import reproduce
from fedkit.models.names import MODELS

PROG = "python -m fedkit"
DESCRIPTION = """`python -m fedkit`: communication cost of a configuration (`cost`), the compression sweep
(`reproduce sweep`), and Suresh et al.'s distributed mean estimation tables (`reproduce dme`)."""
MAX_CLIENTS = 100_000
MAX_ROUNDS = 100_000
MAX_EPOCHS = 1_000
MAX_SEED = 2**32 - 1
MAX_THRESHOLD = 2**31 - 1


class UsageError(ValueError):
    """A command-line value that is wrong for the data or the file system (found after parsing)."""


def _encoder_arg(value: str) -> EncoderSpec:
    """An argparse type: an encoder spec, parsed once here ('uniform:8')."""
    try:
        return specs.parse_encoder(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _aggregate_arg(value: str) -> AggregateSpec:
    """An argparse type: an encoder spec or one of TFF's own aggregators ('tff-compression'), parsed once here."""
    try:
        return specs.parse_aggregate(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_float(value: str) -> float:
    """An argparse type: a finite number above 0 (a learning rate)."""
    number = checks.positive_number(value)
    if number is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a finite number > 0")
    return number


def _whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high` (ASCII digits only: '²'.isdigit() is True)."""

    def parse(value: str) -> int:
        number = checks.whole_number(value.strip())
        if number is None or not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from {low} to {high:,} (fedkit's limit)")
        return number

    return parse


def parser() -> argparse.ArgumentParser:
    """The command-line interface's argument parser."""
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    sub = p.add_subparsers(dest="command", required=True)
    _add_cost_arguments(sub.add_parser("cost", help="per-client and per-round bits of FedAvg, without training"))
    _add_reproduce_arguments(
        sub.add_parser("reproduce", help="train and write results: `reproduce sweep`; `reproduce dme`")
    )
    return p


def _add_cost_arguments(cost: argparse.ArgumentParser) -> None:
    """The arguments of `cost`."""
    cost.add_argument("--model", choices=MODELS, default="cnn")
    cost.add_argument(
        "--broadcast",
        type=_encoder_arg,
        default="identity",
        metavar="ENCODER",
        help="server->client encoder: identity, uniform:B, hadamard:B, kashin:B, "
        "uniform-eg:B (lossless), drive, eden:B",
    )
    cost.add_argument(
        "--aggregate",
        type=_aggregate_arg,
        default="identity",
        metavar="ENCODER",
        help="client->server encoder, as --broadcast, or tff-compression",
    )
    cost.add_argument(
        "--threshold",
        type=_whole_number(0, MAX_THRESHOLD),
        default=specs.DEFAULT_THRESHOLD,
        help="encode only variables with more elements than this (default 10000)",
    )
    cost.add_argument(
        "--clients", type=_whole_number(1, MAX_CLIENTS), default=10, help="clients per round (default 10)"
    )
    cost.add_argument(
        "--dropout", metavar="P", help="Federated Dropout: send and train a sub-model keeping a fraction P in (0, 1]"
    )
    cost.add_argument("--json", action="store_true", help="print a JSON object of integer bit counts")


def _add_reproduce_arguments(rep: argparse.ArgumentParser) -> None:
    """The arguments of `reproduce`."""
    rep.add_argument(
        "what",
        choices=["sweep", "dme", *reproduce.names()],
        help="dme prints its tables and takes only --trials; the others are the lessons' long runs, "
        "written to fedkit/results/NAME.json (--seeds, --out)",
    )
    rep.add_argument("--trials", type=_whole_number(2, 10_000), default=20, help="dme: Monte Carlo trials")
    rep.add_argument("--rounds", type=_whole_number(1, MAX_ROUNDS), default=20)
    rep.add_argument("--clients", type=_whole_number(1, MAX_CLIENTS), default=10, help="clients per round")
    rep.add_argument("--epochs", type=_whole_number(1, MAX_EPOCHS), default=2, help="local epochs per round")
    rep.add_argument(
        "--seeds",
        type=_whole_number(0, MAX_SEED),
        nargs="+",
        default=None,
        help="seeds per configuration (default 0 1 2: a 95%% interval needs at least 2)",
    )
    rep.add_argument("--client-lr", type=_positive_float, default=0.1)
    rep.add_argument("--server-lr", type=_positive_float, default=1.0)
    rep.add_argument("--source", choices=["auto", "sample", "tff"], default="auto", help="EMNIST source")
    rep.add_argument("--cache-dir", default=None, help="dataset cache (default: data/ of the checkout)")
    rep.add_argument("--out", default=None, help="output folder (default: outputs/sweep)")
    rep.add_argument("--only", nargs="+", metavar="NAME", help="run only these configurations (see --list)")
    rep.add_argument("--list", action="store_true", help="list the configurations and exit")
    rep.add_argument(
        "--dropout",
        metavar="P",
        nargs="+",
        default=None,
        help="sweep Federated Dropout at these keep fractions instead (each without encoders, "
        "with uniform:4 down and uniform:2 up, and with kashin:4 down and uniform:2 up)",
    )


def cost_report(model: str, compression: CompressionSpec, clients: int, dropout: float | None = None) -> dict:
    """Per-client and per-round bits of one FedAvg round of this configuration (with `dropout`: Federated
    Dropout's sub-model, and its client multiply-adds per training example)."""
    from fedkit import algorithms, runtime
    from fedkit.compression import sizing

    if dropout is not None and model != "cnn":
        raise UsageError(
            f"--dropout with --model {model}: Federated Dropout is built for the digits CNN; use --model cnn."
        )
    c = compression
    with runtime.reraise_swallowed_interrupt():
        if dropout is None:
            process = algorithms.build_fedavg(
                model, broadcast=c.broadcast, aggregate=c.aggregate, threshold=c.threshold
            )
        else:
            from fedkit.algorithms import dropout as federated_dropout

            process = federated_dropout.build_process(
                dropout, broadcast=c.broadcast, aggregate=c.aggregate, threshold=c.threshold
            )
    cost = sizing.communication_cost(process.next)
    down, up = cost.per_round(clients)
    report: dict[str, object] = {
        "model": model,
        **compression.record(),
        "clients": clients,
        "broadcast_bits_per_client": cost.broadcast_bits,
        "aggregate_bits_per_client": cost.aggregate_bits,
        "broadcast_bits_per_round": down,
        "aggregate_bits_per_round": up,
        "not_static": list(cost.not_static),
        "static_upper_bound": compression.lossless_directions(),
    }
    if dropout is not None:
        report |= {
            "dropout": dropout,
            "client_multiply_adds_per_example": federated_dropout.client_flops(dropout, 1),
            "full_model_multiply_adds_per_example": federated_dropout.client_flops(1.0, 1),
        }
    return report


def _table(report: dict) -> str:
    from fedkit.compression.sizing import format_size

    rows = [("", "per client", "per round")]
    for direction in ("broadcast", "aggregate"):
        per_client, per_round = report[f"{direction}_bits_per_client"], report[f"{direction}_bits_per_round"]
        rows.append((direction, format_size(per_client), format_size(per_round)))
    # Columns 12, 16 and 16 wide, wider where a cell needs it: at least two spaces between cells.
    w0, w1, w2 = (max(least, 2 + max(len(row[i]) for row in rows)) for i, least in enumerate((12, 16, 16)))
    lines = [
        f"FedAvg {report['model']}: broadcast {report['broadcast']}, aggregate {report['aggregate']}, "
        f"threshold {report['threshold']}, {report['clients']} clients per round",
        *(f"{a:<{w0}}{b:>{w1}}{c:>{w2}}" for a, b, c in rows),
    ]
    if "dropout" in report:
        lines[0] += f", dropout keeps {report['dropout']:g}"
        sub, full = report["client_multiply_adds_per_example"], report["full_model_multiply_adds_per_example"]
        lines.append(
            f"client training: {sub:,} multiply-adds per example ({full / sub:.2f}x less than the full "
            f"model's {full:,}; 3 x forward)"
        )
    lines += [f"not static (not counted): {n}" for n in report["not_static"]]
    for direction in report.get("static_upper_bound", []):
        lines.append(
            f"{direction}: a static upper bound (lossless codes in worst-case buffers); the bits really "
            "sent are measured in a run (run_rounds records measured_cumulative_*_bits)"
        )
    return "\n".join(lines)


def _check_writable_dir(path: Path, flag: str) -> None:
    """Raise UsageError unless `path` is a folder, or could be created as one, that we may write into."""
    problem = checks.folder_problem(path)
    if problem:
        raise UsageError(f"{flag} {path} {problem}; give a writable folder.")


def _error(message: str | Exception, status: int) -> int:
    print(f"{PROG}: error: {' '.join(str(message).split())}", file=sys.stderr)
    return status


def _stop_now(signum: int, frame) -> None:
    """Ctrl-C or SIGTERM: stop the workers, say so in one line, exit 128 + signal at once.

    Not by an exception: Python raises it wherever the signal lands, and where that is a GC callback
    (jax installs one) it is printed as "Exception ignored" and lost.
    """
    shutdown = getattr(sys.modules.get("fedkit.runtime.workers"), "shutdown", None)  # None while it is being imported
    if shutdown is not None:
        shutdown()
    sys.stdout.flush()
    print(f"{PROG}: error: {'interrupted' if signum == signal.SIGINT else 'terminated'}", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _stop_now_on_signals() -> None:
    for signum, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(signum) == default:  # not ignored (nohup, background job), not taken by a caller
            signal.signal(signum, _stop_now)


def _keep_fraction(value: str) -> float:
    """One --dropout keep fraction as a float; a UsageError line naming it when it is not in (0, 1]."""
    try:
        return specs.parse_keep_fraction(value)
    except ValueError:
        raise UsageError(f"--dropout {value}: give a keep fraction in (0, 1]") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m fedkit`: library errors are one line (exit 2, or 1 if the run failed)."""
    args = parser().parse_args(argv)
    try:
        if isinstance(args.dropout, str):
            args.dropout = _keep_fraction(args.dropout)
        elif args.dropout is not None:
            args.dropout = [_keep_fraction(v) for v in args.dropout]
    except UsageError as e:
        return _error(e, 2)
    if argv is None and threading.current_thread() is threading.main_thread():  # a command, not a call
        _stop_now_on_signals()
    try:
        if args.command == "cost":
            compression = CompressionSpec(args.broadcast, args.aggregate, args.threshold)
            report = cost_report(args.model, compression, args.clients, args.dropout)
            print(json.dumps(report, indent=2) if args.json else _table(report))
            return 0
        if args.what == "dme":
            return _reproduce_dme(args.trials)
        if args.what == "sweep":
            return _reproduce_sweep(args)
        return _reproduce_experiment(args)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except (ValueError, OSError) as e:  # DataError, CheckpointError, UsageError; a folder we cannot write
        return _error(e, 2)
    except RuntimeError as e:  # a worker that stopped answering, a failed download
        return _error(e, 1)


def _reproduce_dme(trials: int) -> int:
    from fedkit.common import paths, results
    from fedkit.compression import dme, vnmse

    print(f"Every kit encoder on the DME papers' harness (d = 2^14, 10 clients, {trials} trials):\n")
    rows = vnmse.sweep(trials=trials)
    target = results.write("dme", {"rows": rows}, f"{PROG} reproduce dme --trials {trials}")
    figure = paths.output_path("figures", "dme_rate_distortion.png")
    vnmse.plot(rows).savefig(figure, dpi=120)
    print(f"\nWrote {target} and {figure}\n")

    print(f"Suresh et al. 2017 on Gaussian clients (seed 0), {trials} trials per cell:\n")
    print(dme.format_rows(dme.sweep(ds=(64, 1024, 16384), trials=trials)))
    print(
        f"\nThe worst case (e_1 - e_2)/sqrt(2) (coordinates counted from 0) on 10 clients, binary against "
        f"rotated binary, {trials} trials:\n"
    )
    print(dme.format_worst_case(dme.worst_case_rows(ds=(16, 64, 256, 1024, 4096, 16384), trials=trials)))
    return 0


def seeds_for(args: argparse.Namespace) -> tuple[int, ...]:
    """The seeds `reproduce` runs: --seeds, else the sweep's defaults or the experiment's own."""
    if args.seeds is not None:
        return tuple(args.seeds)
    if args.what == "sweep":
        from fedkit.experiments import sweep

        return tuple(sweep.DEFAULT_SEEDS)
    return tuple(reproduce.load(args.what).SEEDS)


def _reproduce_experiment(args: argparse.Namespace) -> int:
    from fedkit.common import results

    module = reproduce.load(args.what)
    seeds = seeds_for(args)
    if args.out:
        _check_writable_dir(Path(args.out), "--out")
    command = f"{PROG} reproduce {args.what}" + (f" --seeds {' '.join(map(str, seeds))}" if args.seeds else "")
    target = results.write(args.what, module.run(seeds), command, args.out)
    print(f"Wrote {target}")
    return 0


def _reproduce_sweep(args: argparse.Namespace) -> int:
    from fedkit.common import paths
    from fedkit.experiments import sweep  # run_sweep loads the data once and checks --clients against it before writing

    try:
        grid = sweep.dropout_grid(args.dropout) if args.dropout else sweep.default_grid()
        configs = sweep.select(grid, args.only)
    except ValueError as e:
        parser().error(str(e))
    if args.list:
        print("\n".join(map(_config_line, configs)))
        return 0
    settings = sweep.SweepSettings(
        args.rounds, args.clients, args.epochs, args.client_lr, args.server_lr, seeds_for(args)
    )
    out = Path(args.out) if args.out else paths.project_root() / "outputs" / "sweep"
    cache_dir = Path(args.cache_dir) if args.cache_dir else paths.data_dir()
    sweep.check_settings(settings, out, cache_dir)  # unusable folders: one line, before anything is loaded
    write = _sweep_results_writer(args, configs, settings, out)
    rows, _ = sweep.run_sweep(configs, settings, out, cache_dir, args.source, on_row=write)
    target = write(rows)
    print(f"Wrote {out}/results.csv, results.md, pareto.png, accuracy_per_round.png and {target}")
    return 0


def _config_line(config) -> str:
    """One configuration of `reproduce sweep --list`."""
    line = f"{config.name!r}: broadcast {config.broadcast}, aggregate {config.aggregate}, threshold {config.threshold}"
    return line + (f", dropout keeps {config.dropout:g}" if config.dropout is not None else "")


def _sweep_results_writer(args: argparse.Namespace, configs: list, settings, out: Path) -> Callable[[list[dict]], Path]:
    """What writes the sweep's results file after each configuration, with the command that reruns the rows so far."""
    from fedkit.experiments import sweep

    # The machine-readable record goes with the package (lessons read it) unless --out names another folder;
    # it is rewritten after each configuration, so a long sweep that stops early leaves the rows it finished,
    # with the command that reruns just those.
    name, results_dir = "sweep-dropout" if args.dropout else "sweep", out if args.out else None

    def write(rows: list[dict]) -> Path:
        done = configs[: len(rows)]
        only = [c.name for c in done] if args.only or len(done) < len(configs) else None
        command = sweep.command_line(done, settings, only, args.dropout)
        return sweep.write_results(sweep.add_ratios([dict(r) for r in rows]), settings, command, name, results_dir)

    return write


if __name__ == "__main__":
    sys.exit(main())
