"""`python -m fedkit`: communication cost of a configuration (`cost`), and the compression sweep
(`reproduce sweep`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from fedkit import encoders, models


def _encoder_arg(value: str) -> str:
    try:
        return str(encoders.parse_encoder(value))
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _aggregate_arg(value: str) -> str:
    from fedkit.training import TFF_AGGREGATORS

    return value if value in TFF_AGGREGATORS else _encoder_arg(value)


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not number > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number")
    return number


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return int(value)


def _non_negative_int(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return int(value)


def parser() -> argparse.ArgumentParser:
    """The command-line interface's argument parser."""
    p = argparse.ArgumentParser(prog="python -m fedkit", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    cost = sub.add_parser("cost", help="per-client and per-round bits of FedAvg, without training")
    cost.add_argument("--model", choices=models.MODELS, default="cnn")
    cost.add_argument("--broadcast", type=_encoder_arg, default="identity", metavar="ENCODER",
                      help="server->client encoder: identity, uniform:B, hadamard:B, kashin:B")  # fmt: skip
    cost.add_argument("--aggregate", type=_aggregate_arg, default="identity", metavar="ENCODER",
                      help="client->server encoder, as --broadcast, or tff-compression")  # fmt: skip
    cost.add_argument("--threshold", type=_non_negative_int, default=encoders.DEFAULT_THRESHOLD,
                      help="encode only variables with more elements than this (default 10000)")  # fmt: skip
    cost.add_argument("--clients", type=_positive_int, default=10, help="clients per round (default 10)")
    cost.add_argument("--json", action="store_true", help="print a JSON object of integer bit counts")

    rep = sub.add_parser("reproduce", help="train and write results: `reproduce sweep`")
    rep.add_argument("what", choices=["sweep"])
    rep.add_argument("--rounds", type=_positive_int, default=20)
    rep.add_argument("--clients", type=_positive_int, default=10, help="clients per round")
    rep.add_argument("--epochs", type=_positive_int, default=2, help="local epochs per round")
    rep.add_argument("--seeds", type=_non_negative_int, nargs="+", default=[0])
    rep.add_argument("--client-lr", type=_positive_float, default=0.1)
    rep.add_argument("--server-lr", type=_positive_float, default=1.0)
    rep.add_argument("--source", choices=["auto", "sample", "tff"], default="auto", help="EMNIST source")
    rep.add_argument("--cache-dir", default=None, help="dataset cache (default: data/ of the checkout)")
    rep.add_argument("--out", default=None, help="output folder (default: outputs/sweep)")
    rep.add_argument("--only", nargs="+", metavar="NAME", help="run only these configurations (see --list)")
    rep.add_argument("--list", action="store_true", help="list the configurations and exit")
    return p


def cost_report(model: str, broadcast: str, aggregate: str, threshold: int, clients: int) -> dict:
    """Per-client and per-round bits of one FedAvg round of this configuration."""
    from fedkit import runtime, sizing, training

    runtime.set_local_context()
    process = training.build_fedavg(model, broadcast=broadcast, aggregate=aggregate, threshold=threshold)
    cost = sizing.communication_cost(process.next)
    down, up = cost.per_round(clients)
    return {
        "model": model, "broadcast": broadcast, "aggregate": aggregate,
        "threshold": threshold, "clients": clients,
        "broadcast_bits_per_client": cost.broadcast_bits, "aggregate_bits_per_client": cost.aggregate_bits,
        "broadcast_bits_per_round": down, "aggregate_bits_per_round": up,
        "not_static": list(cost.not_static),
    }  # fmt: skip


def _table(report: dict) -> str:
    from fedkit.sizing import format_size

    lines = [
        f"FedAvg {report['model']}: broadcast {report['broadcast']}, aggregate {report['aggregate']}, "
        f"threshold {report['threshold']}, {report['clients']} clients per round",
        f"{'':<12}{'per client':>16}{'per round':>16}",
    ]
    for direction in ("broadcast", "aggregate"):
        per_client, per_round = report[f"{direction}_bits_per_client"], report[f"{direction}_bits_per_round"]
        lines.append(f"{direction:<12}{format_size(per_client):>16}{format_size(per_round):>16}")
    lines += [f"not static (not counted): {n}" for n in report["not_static"]]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m fedkit`."""
    args = parser().parse_args(argv)
    if args.command == "cost":
        report = cost_report(args.model, args.broadcast, args.aggregate, args.threshold, args.clients)
        print(json.dumps(report, indent=2) if args.json else _table(report))
    elif args.command == "reproduce":
        return _reproduce_sweep(args)
    return 0


def _reproduce_sweep(args: argparse.Namespace) -> int:
    from fedkit import paths, runtime, sweep

    try:
        configs = sweep.select(sweep.default_grid(), args.only)
    except ValueError as e:
        parser().error(str(e))
    if args.list:
        print("\n".join(f"{c.name!r}: broadcast {c.broadcast}, aggregate {c.aggregate}, threshold {c.threshold}"
                        for c in configs))  # fmt: skip
        return 0
    settings = sweep.SweepSettings(args.rounds, args.clients, args.epochs, args.client_lr, args.server_lr,
                                   tuple(args.seeds))  # fmt: skip
    out = args.out or paths.output_path("sweep", "results.csv").parent
    runtime.set_local_context()
    sweep.run_sweep(configs, settings, out, args.cache_dir or paths.data_dir(), args.source)
    print(f"Wrote {out}/results.csv, results.md, pareto.png, accuracy_per_round.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
