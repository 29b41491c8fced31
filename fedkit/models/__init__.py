"""Layer 3, the models: the tutorials' Keras models, their `tff.learning` wrappers, and the dense model
written by hand against `tff.learning.models.VariableModel`.

Public names:
- `MODELS`: the model names, 'cnn' (digits), 'cnn62' (62 classes) and 'dense' (from `names`, free of TensorFlow);
- `create_original_fedavg_cnn_model`, `create_dense_model`, `create_keras_model`: Keras models (from `keras`);
- `input_spec`, `model_fn`, `starting_at_zeros`, `functional_model`, `functional_from_keras` (any Keras classifier):
  their `tff.learning` forms (from `keras`);
- `DenseVariableModel`, `variable_model_fn`: the hand-written dense model (from `variable_model`).

Submodules: `names`, `keras`, `variable_model` (the last two import TensorFlow on first use).
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.models.keras import (
        create_dense_model as create_dense_model,
        create_keras_model as create_keras_model,
        create_original_fedavg_cnn_model as create_original_fedavg_cnn_model,
        functional_from_keras as functional_from_keras,
        functional_model as functional_model,
        input_spec as input_spec,
        model_fn as model_fn,
        starting_at_zeros as starting_at_zeros,
    )
    from fedkit.models.names import MODELS as MODELS
    from fedkit.models.variable_model import (
        DenseVariableModel as DenseVariableModel,
        variable_model_fn as variable_model_fn,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
