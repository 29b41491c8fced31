"""Layer 3, the models: the tutorials' Keras models, their `tff.learning` wrappers, and the dense model
written by hand against `tff.learning.models.VariableModel`.

Public names:
- `MODELS`: the model names, 'cnn' (digits), 'cnn62' (62 classes) and 'dense' (from `names`, free of TensorFlow);
- `create_original_fedavg_cnn_model`, `create_dense_model`, `create_keras_model`: Keras models (from `keras`);
- `input_spec`, `model_fn`, `starting_at_zeros`, `functional_model`: their `tff.learning` forms (from `keras`);
- `DenseVariableModel`, `variable_model_fn`: the hand-written dense model (from `variable_model`).

Submodules: `names`, `keras`, `variable_model` (the last two import TensorFlow on first use).
"""

from fedkit.common import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "names": ["MODELS"],
        "keras": [
            "create_original_fedavg_cnn_model",
            "create_dense_model",
            "create_keras_model",
            "input_spec",
            "model_fn",
            "starting_at_zeros",
            "functional_model",
        ],
        "variable_model": ["DenseVariableModel", "variable_model_fn"],
    },
)
