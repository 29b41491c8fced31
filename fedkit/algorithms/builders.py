"""FedAvg and federated evaluation from TFF's builders, with fedkit's named models and encoder specs."""

from __future__ import annotations

import re
from collections.abc import Callable

import tensorflow_federated as tff

from fedkit import models, runtime
from fedkit.common import checks
from fedkit.compression import encoders
from fedkit.compression.specs import AggregateSpec, CompressionSpec, EncoderSpec, TffAggregatorSpec


def broadcast_process(
    model_fn: Callable, spec: EncoderSpec | None = None, threshold: int = encoders.DEFAULT_THRESHOLD
) -> tff.learning.templates.DistributionProcess | None:
    """Server -> clients: a plain broadcast (None or identity) or an encoded one."""
    if spec is None or spec.is_identity:
        return None  # build_weighted_fed_avg's own plain broadcast
    return encoders.encoded_broadcast(model_fn, spec, threshold)


# TFF's own aggregators, usable wherever an aggregate encoder spec is.
TFF_AGGREGATORS = {"tff-compression": tff.learning.compression_aggregator}


def aggregate_factory(
    spec: AggregateSpec | None = None, threshold: int = encoders.DEFAULT_THRESHOLD
) -> tff.aggregators.WeightedAggregationFactory | None:
    """Clients -> server: a plain weighted mean (None or identity), TFF's own, or an encoded one."""
    if isinstance(spec, TffAggregatorSpec):
        return TFF_AGGREGATORS[spec.name]()
    if spec is None or spec.is_identity:
        return None  # build_weighted_fed_avg's own MeanFactory
    return encoders.encoded_mean(spec, threshold)


def fedkit_config(model: str, client_lr: float, server_lr: float, compression: CompressionSpec) -> dict:
    """The configuration a process carries as `fedkit_config` (a resumed checkpoint must match it)."""
    return {"model": model, "client_lr": float(client_lr), "server_lr": float(server_lr), **compression.record()}


def build_fedavg(
    model: str | Callable = "cnn",
    client_lr: float = 0.02,
    server_lr: float = 1.0,
    broadcast: str | EncoderSpec | None = None,
    aggregate: str | AggregateSpec | None = None,
    threshold: int = encoders.DEFAULT_THRESHOLD,
) -> tff.learning.templates.LearningProcess:
    """FedAvg (`build_weighted_fed_avg`) with client SGD, server SGD and optional encoders.

    `model` is a name from `fedkit.models.MODELS`, a no-argument model function or a
    `tff.learning.models.FunctionalModel`. `broadcast` and `aggregate` are encoder specs ('uniform:8', parsed
    here once; `aggregate` may also be 'tff-compression'). The process carries its configuration as `fedkit_config`.
    """
    checks.learning_rate(client_lr, "client_lr")
    checks.learning_rate(server_lr, "server_lr")
    compression = CompressionSpec.parse(broadcast, aggregate, threshold)
    model_fn = models.model_fn(model) if isinstance(model, str) else model
    with runtime.reraise_swallowed_interrupt():  # a Ctrl-C during tracing is not lost
        process = tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=client_lr),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(learning_rate=server_lr),
            model_distributor=broadcast_process(model_fn, compression.broadcast, compression.threshold),
            model_aggregator=aggregate_factory(compression.aggregate, compression.threshold),
        )
    label = model if isinstance(model, str) else _model_label(model)
    process.fedkit_config = fedkit_config(label, client_lr, server_lr, compression)
    return process


def _model_label(model: Callable | tff.learning.models.FunctionalModel) -> str:
    # Stable across sessions (no memory address), so a resumed run finds the same configuration.
    return getattr(model, "__qualname__", type(model).__name__)


def build_evaluation(model: str | Callable = "cnn") -> tff.learning.templates.LearningProcess:
    """Federated evaluation (`build_fed_eval`) of a model's weights on test clients.

    A named model's own weights start at zeros (`initialize()` holds zeros): the evaluation only
    scores weights it is given, and every writer's function would draw the CNN's 1.66 million random
    starting values again before assigning them.
    """
    # A loop over each client's batches inside its function, not a dataset reduce whose function the worker
    # instantiates anew for every client: the same metrics, a third less worker time over the 104 writers.
    return tff.learning.algorithms.build_fed_eval(
        models.starting_at_zeros(models.model_fn(model)) if isinstance(model, str) else model,
        loop_implementation=tff.learning.LoopImplementation.DATASET_ITERATOR,
    )


def accuracy_metric_name(metrics: dict, name: str | None = None) -> str:
    """The accuracy metric among `metrics`: `name` if given, else the one key ending in 'accuracy'."""
    if name is not None:
        if name not in metrics:
            raise ValueError(f"accuracy_metric={name!r} is not among the model's metrics {sorted(metrics)}.")
        return name
    found = [key for key in metrics if re.fullmatch(r"(.*_)?accuracy", key)]
    if len(found) != 1:
        raise ValueError(f"cannot tell the accuracy metric among {sorted(metrics)}: pass accuracy_metric=<its name>.")
    return found[0]
