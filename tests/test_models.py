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


def test_functional_from_keras_wraps_any_keras_classifier():
    narrow = models.create_original_fedavg_cnn_model(filters=(8, 16), units=32)
    x = np.random.default_rng(1).random((2, 28, 28, 1), np.float32)
    shapes, expected = [tuple(w.shape) for w in narrow.trainable_weights], narrow(x).numpy()
    fm = models.functional_from_keras(narrow, models.input_spec("cnn"))
    assert [w.shape for w in fm.initial_weights[0]] == shapes and shapes[4] == (7 * 7 * 16, 32)

    @tff.tensorflow.computation(tff.TensorType(np.float32, x.shape))  # functional models run only in TFF
    def predict(batch):
        return fm.predict_on_batch(fm.initial_weights, batch, training=False)

    np.testing.assert_allclose(predict(x), expected, rtol=1e-5, atol=1e-6)  # the Keras model's own weights
    full = models.functional_model("cnn")
    assert [w.shape for w in full.initial_weights[0]] == [w.shape for w in models.create_keras_model("cnn").weights]


def test_bad_model_name_and_shape_mismatch():
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        models.model_fn("resnet")
    with pytest.raises(ValueError, match=r"do not fit model 'dense'.*flat=True"):
        models.model_fn("dense", models.input_spec("cnn"))
    with pytest.raises(ValueError, match=r"do not fit model 'cnn'.*flat=False"):
        models.functional_model("cnn", (tf.TensorSpec((None, 784)), tf.TensorSpec((None, 1), tf.int32)))


def _batch(n, seed):
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), np.float32), rng.integers(0, 10, (n, 1)).astype(np.int32)


def _set_random_weights(model, seed=0):
    rng = np.random.default_rng(seed)
    for v in model.trainable_variables:
        v.assign(rng.normal(0.0, 0.1, v.shape).astype(np.float32))
    return [v.numpy() for v in model.trainable_variables]


def _numpy_logits(weights, x):
    return x @ weights[0] + weights[1]


def test_dense_variable_model_loss_is_softmax_cross_entropy():
    model = models.DenseVariableModel()
    weights = _set_random_weights(model)
    x, y = _batch(7, seed=1)
    out = model.forward_pass((x, y))
    logits = _numpy_logits(weights, x).astype(np.float64)
    log_z = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
    expected_loss = np.mean(log_z - logits[np.arange(7), y[:, 0]])
    np.testing.assert_allclose(float(out.loss), expected_loss, rtol=1e-5)
    np.testing.assert_allclose(out.predictions.numpy(), np.exp(logits - log_z[:, None]), rtol=1e-4, atol=1e-6)
    assert int(out.num_examples) == 7
    np.testing.assert_allclose(model.predict_on_batch(x).numpy(), out.predictions.numpy(), rtol=1e-6)


def test_dense_variable_model_metrics_finalize_to_numpy_values():
    model = models.DenseVariableModel()
    weights = _set_random_weights(model, seed=2)
    batches = [_batch(5, seed=3), _batch(3, seed=4)]
    losses = [float(model.forward_pass(b).loss) for b in batches]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])[:, 0]
    report = model.report_local_unfinalized_metrics()
    final = {name: float(f(report[name])) for name, f in model.metric_finalizers().items()}
    assert final["sparse_categorical_accuracy"] == pytest.approx(np.mean(np.argmax(_numpy_logits(weights, x), 1) == y))
    assert final["loss"] == pytest.approx((5 * losses[0] + 3 * losses[1]) / 8, rel=1e-6)
    assert (final["num_examples"], final["num_batches"]) == (8, 2)
    model.reset_metrics()
    assert all(float(np.sum(t)) == 0 for t in tf.nest.flatten(model.report_local_unfinalized_metrics()))


def test_dense_variable_model_has_the_keras_wrappers_interface():
    hand, keras = models.variable_model_fn(), models.model_fn("dense")()
    assert hand.input_spec == keras.input_spec
    hand_report, keras_report = hand.report_local_unfinalized_metrics(), keras.report_local_unfinalized_metrics()
    assert list(hand_report) == list(keras_report)
    assert [t.dtype for t in tf.nest.flatten(hand_report)] == [t.dtype for t in tf.nest.flatten(keras_report)]
    assert [v.shape for v in hand.trainable_variables] == [v.shape for v in keras.trainable_variables]
    assert (len(hand.non_trainable_variables), len(hand.local_variables)) == (0, 4)
    assert models.variable_model_fn() is not models.variable_model_fn()


def test_fedavg_round_with_variable_model_equals_the_keras_one():
    datasets = [tf.data.Dataset.from_tensor_slices(_batch(n, seed=10 + n)).batch(4) for n in (6, 9)]
    weights = []
    for model_fn in (models.variable_model_fn, models.model_fn("dense")):
        process = tff.learning.algorithms.build_weighted_fed_avg(
            model_fn,
            client_optimizer_fn=tff.learning.optimizers.build_sgdm(0.1),
            server_optimizer_fn=tff.learning.optimizers.build_sgdm(1.0),
        )
        result = process.next(process.initialize(), datasets)
        metrics = result.metrics["client_work"]["train"]
        assert (int(metrics["num_examples"]), int(metrics["num_batches"])) == (15, 5)
        weights.append(process.get_model_weights(result.state).trainable)
    assert np.any(weights[0][0] != 0), "a round of training must move the weights"
    for hand, keras in zip(weights[0], weights[1], strict=True):
        np.testing.assert_allclose(hand, keras, rtol=1e-4, atol=1e-6)
