"""fedkit.models: the tutorial architectures and their TFF wrappers."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import models


def conv_params(k, c_in, c_out):
    return k * k * c_in * c_out + c_out


@pytest.mark.parametrize("only_digits, classes", [(True, 10), (False, 62)])
def test_cnn_architecture(only_digits, classes):
    model = models.create_original_fedavg_cnn_model(only_digits)
    expected = conv_params(5, 1, 32) + conv_params(5, 32, 64) + (7 * 7 * 64 + 1) * 512 + (512 + 1) * classes
    assert model.count_params() == expected
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense", "Softmax"]
    out = model(np.zeros((2, 28, 28, 1), np.float32))
    assert out.shape == (2, classes)
    np.testing.assert_allclose(out.numpy().sum(axis=1), 1.0, rtol=1e-5)


def test_dense_model_is_zero_initialized():
    model = models.create_dense_model()
    assert model.count_params() == 784 * 10 + 10
    assert all(not np.any(w) for w in model.get_weights())
    np.testing.assert_allclose(model(np.ones((1, 784), np.float32)).numpy(), 0.1, rtol=1e-6)


def test_model_fn_wraps_for_tff():
    model = models.model_fn("cnn")()
    assert isinstance(model, tff.learning.models.VariableModel)
    weights = tff.learning.models.ModelWeights.from_model(model)
    assert sum(int(np.prod(v.shape)) for v in weights.trainable) == models.create_keras_model("cnn").count_params()
    assert len(weights.trainable) == 8


def test_functional_model_predicts_like_keras():
    fm = models.functional_model("dense")
    x = np.ones((3, 784), np.float32)

    @tff.tensorflow.computation(tff.TensorType(np.float32, x.shape))  # functional models run only in TFF
    def predict(batch):
        return fm.predict_on_batch(fm.initial_weights, batch, training=False)

    out = predict(x)
    np.testing.assert_allclose(out, 0.1, rtol=1e-6)


def test_bad_model_name_and_shape_mismatch():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.model_fn("resnet")
    with pytest.raises(ValueError, match=r"do not fit model 'dense'.*flat=True"):
        models.model_fn("dense", models.input_spec("cnn"))
    with pytest.raises(ValueError, match=r"do not fit model 'cnn'.*flat=False"):
        models.functional_model("cnn", (tf.TensorSpec((None, 784)), tf.TensorSpec((None, 1), tf.int32)))
