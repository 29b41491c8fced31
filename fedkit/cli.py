"""`python -m fedkit`: communication cost of a configuration, without training."""

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
    cost.add_argument("--aggregate", type=_encoder_arg, default="identity", metavar="ENCODER",
                      help="client->server encoder, as --broadcast")  # fmt: skip
    cost.add_argument("--threshold", type=_non_negative_int, default=encoders.DEFAULT_THRESHOLD,
                      help="encode only variables with more elements than this (default 10000)")  # fmt: skip
    cost.add_argument("--clients", type=_positive_int, default=10, help="clients per round (default 10)")
    cost.add_argument("--json", action="store_true", help="print a JSON object of integer bit counts")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
