"""Layer 4, federated algorithms: FedAvg and federated evaluation from TFF's builders with fedkit's encoders,
FedAvg (and FedProx) written by hand from TFF's intrinsics, and Federated Dropout.

Public names (from `builders`, which imports TensorFlow Federated on first use):
- `build_fedavg`: FedAvg (`build_weighted_fed_avg`) of a named model with optional encoders each way;
- `build_evaluation`: federated evaluation (`build_fed_eval`) of a model's weights;
- `broadcast_process`, `aggregate_factory`, `TFF_AGGREGATORS`: the encoded broadcast and mean it uses;
- `accuracy_metric_name`: which of a model's metrics is its accuracy.

Submodules: `builders`; `fedavg` (FedAvg from intrinsics: `fedavg.build_process`, `client_update`,
`server_update`; FedProx with `proximal_strength`); `dropout` (Federated Dropout: `dropout.build_process`,
`select`, `scatter`, `kept_widths`, `client_flops`).
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.algorithms.builders import (
        TFF_AGGREGATORS as TFF_AGGREGATORS,
        accuracy_metric_name as accuracy_metric_name,
        aggregate_factory as aggregate_factory,
        broadcast_process as broadcast_process,
        build_evaluation as build_evaluation,
        build_fedavg as build_fedavg,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
