"""fedkit.algorithms.dropout: sub-model selection and scatter, exact bits, client multiply-adds, the round, the CLI."""

import json

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit import cli, models
from fedkit.algorithms import dropout, fedavg
from fedkit.compression import encoders, sizing

CLIENT_LR, SERVER_LR = 0.1, 1.0


@pytest.fixture(scope="module")
def processes():
    return {keep: dropout.build_process(keep, CLIENT_LR, SERVER_LR) for keep in (1.0, 0.75, 0.5)}


def _full_weights(seed: int = 0) -> list[tf.Tensor]:
    rng = np.random.default_rng(seed)
    return [
        tf.constant(rng.normal(size=w.shape).astype(np.float32))
        for w in models.create_original_fedavg_cnn_model().trainable_weights
    ]


def _sub_model(keep: float) -> tf.keras.Model:
    c1, c2, units = dropout.kept_widths(keep)
    return models.create_original_fedavg_cnn_model(filters=(c1, c2), units=units)


def _datasets(seed: int, sizes=(5, 3)) -> list[tf.data.Dataset]:
    rng = np.random.default_rng(seed)
    return [
        tf.data.Dataset.from_tensor_slices(
            (rng.random((n, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, (n, 1)).astype(np.int32))
        ).batch(2)
        for n in sizes
    ]


def test_kept_widths_round_up_and_bad_fractions_are_one_line():
    assert dropout.kept_widths(1.0) == dropout.FULL_WIDTHS == (32, 64, 512)
    assert dropout.kept_widths(0.75) == (24, 48, 384)
    assert dropout.kept_widths(0.5) == (16, 32, 256)
    assert dropout.kept_widths(0.3) == (10, 20, 154)  # 9.6, 19.2, 153.6 rounded up
    for bad in (0, 1.5, -0.5, float("nan"), "half"):
        with pytest.raises(ValueError, match=r"keep fraction .*: give a number in \(0, 1\]"):
            dropout.kept_widths(bad)


def _keras_forward_multiply_adds(model: tf.keras.Model) -> int:
    """Conv: kernel size x output positions; dense: kernel size (counted from Keras' own shapes)."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.Conv2D):
            total += int(np.prod(layer.kernel.shape)) * int(np.prod(layer.output.shape[1:3]))
        elif isinstance(layer, tf.keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape))
    return total


def test_multiply_adds_match_the_keras_layers():
    # A tiny case by hand: 784 x 25 x 1 x 2, 196 x 25 x 2 x 3, 49 x 3 x 4, 4 x 10.
    assert dropout.forward_multiply_adds((2, 3, 4)) == 39200 + 29400 + 588 + 40
    assert dropout.forward_multiply_adds((2, 3, 4)) == _keras_forward_multiply_adds(
        models.create_original_fedavg_cnn_model(filters=(2, 3), units=4)
    )
    full = _keras_forward_multiply_adds(models.create_original_fedavg_cnn_model())
    assert dropout.client_flops(1.0, 7) == 3 * full * 7
    assert dropout.client_flops(0.5, 7) == 3 * _keras_forward_multiply_adds(_sub_model(0.5)) * 7
    assert 1.7 < dropout.client_flops(1.0, 1) / dropout.client_flops(0.75, 1) < 1.8


def test_draws_are_sorted_distinct_seeded_and_change_every_round():
    a = [k.numpy() for k in dropout.draw_kept(0.5, 7, 3)]
    assert [len(k) for k in a] == [16, 32, 256]
    for k, full in zip(a, dropout.FULL_WIDTHS, strict=True):
        assert np.all(np.diff(k) > 0) and k[0] >= 0 and k[-1] < full
    assert all(np.array_equal(x, y.numpy()) for x, y in zip(a, dropout.draw_kept(0.5, 7, 3), strict=True))
    assert not np.array_equal(a[2], dropout.draw_kept(0.5, 7, 4)[2].numpy())
    assert not np.array_equal(a[2], dropout.draw_kept(0.5, 8, 3)[2].numpy())


def test_select_gives_the_sub_models_shapes_and_scatter_inverts_it():
    weights, kept = _full_weights(), dropout.draw_kept(0.5, 1, 0)
    sub = dropout.select(weights, kept)
    assert [tuple(s.shape) for s in sub] == [tuple(w.shape) for w in _sub_model(0.5).trainable_weights]
    shapes = [w.shape for w in weights]
    zero = dropout.scatter([tf.zeros_like(s) for s in sub], kept, shapes)
    for w, z in zip(weights, zero, strict=True):
        np.testing.assert_array_equal(w + z, w)  # a zero delta changes nothing
    mask = dropout.scatter([tf.ones_like(s) for s in sub], kept, shapes)
    back = dropout.scatter(sub, kept, shapes)
    for w, m, b, s in zip(weights, mask, back, sub, strict=True):
        assert int(np.sum(m.numpy() != 0)) == s.shape.num_elements()  # every kept entry once, nothing else
        np.testing.assert_array_equal(b, w * m)  # kept entries back in place, zeros elsewhere


def test_sub_model_computes_what_the_full_model_does_with_the_dropped_units_silenced():
    # Checks the Flatten layout: dense rows are (position, conv-2 channel) with channels fastest.
    weights, kept = _full_weights(2), dropout.draw_kept(0.5, 3, 5)
    shapes = [w.shape for w in weights]
    mask = dropout.scatter([tf.ones_like(s) for s in dropout.select(weights, kept)], kept, shapes)
    full, sub = models.create_original_fedavg_cnn_model(), _sub_model(0.5)
    full.set_weights([(w * m).numpy() for w, m in zip(weights, mask, strict=True)])
    sub.set_weights([s.numpy() for s in dropout.select(weights, kept)])
    x = np.random.default_rng(4).random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(sub(x), full(x), rtol=1e-4, atol=1e-6)


def test_keep_one_is_plain_fedavg(processes):
    process = processes[1.0]
    state = process.initialize()
    datasets = _datasets(5)
    new = process.next(state, datasets).state

    # The same round from the same weights by fedkit.algorithms.fedavg's FedAvg (no dropout) on the full CNN.
    plain = fedavg.build_process(models.functional_model("cnn"), client_lr=CLIENT_LR, server_lr=SERVER_LR)
    weights = fedavg.ModelWeights(list(state.model_weights.trainable), [])
    expected = plain.next(fedavg.ServerState(weights, 0), datasets)
    assert int(new.round_num) == 1
    for got, want, before in zip(
        new.model_weights.trainable, expected.model_weights.trainable, weights.trainable, strict=True
    ):
        assert not np.allclose(want, before)  # the round moved every tensor: the comparison is a real one
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_dropout_round_moves_only_the_kept_units(processes):
    process = processes[0.5]
    state = process.with_seed(process.initialize(), 11)
    result = process.next(state, _datasets(6))
    before, after = state.model_weights.trainable, result.state.model_weights.trainable
    kept = dropout.draw_kept(0.5, 11, 0)
    mask = dropout.scatter(
        [tf.ones_like(s) for s in dropout.select(list(before), kept)], kept, [w.shape for w in before]
    )
    for b, a, m in zip(before, after, mask, strict=True):
        moved = np.asarray(a) != np.asarray(b)
        assert not np.any(moved & (m.numpy() == 0))  # units not kept are unchanged
        assert np.any(moved)
    train = result.metrics["client_work"]["train"]
    assert int(train["num_examples"]) == 8 and 0 <= float(train["accuracy"]) <= 1 and float(train["loss"]) > 0


@pytest.mark.parametrize("keep", [1.0, 0.75, 0.5])
def test_bits_are_the_sub_models_parameters(processes, keep):
    cost = sizing.communication_cost(processes[keep].next)
    parameters = _sub_model(keep).count_params()
    assert cost.broadcast_bits == 32 * parameters == cost.by_intrinsic["federated_broadcast"]
    # Up: the delta, its weight in the mean, and the three training sums (loss, correct answers, examples).
    assert cost.aggregate_bits == 32 * parameters + 32 + 3 * 32
    assert cost.not_static == ()


def test_encoded_broadcast_sends_the_encoded_sub_model():
    process = dropout.build_process(0.5, broadcast="kashin:4", aggregate="uniform:2")
    cost = sizing.communication_cost(process.next)
    sub_type = tff.StructType([tff.TensorType(np.float32, w.shape) for w in _sub_model(0.5).trainable_weights])
    rows = encoders.encoding_table(sub_type, "kashin:4")
    assert cost.broadcast_bits == sum(r["encoded bits"] for r in rows)
    assert cost.broadcast_bits < 32 * _sub_model(0.5).count_params() / 4


def test_cli_cost_with_dropout(capsys):
    assert cli.main(["cost", "--dropout", "0.5", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["broadcast_bits_per_client"] == 32 * _sub_model(0.5).count_params()
    assert report["broadcast_bits_per_round"] == 10 * report["broadcast_bits_per_client"]
    assert report["client_multiply_adds_per_example"] == dropout.client_flops(0.5, 1)
    assert report["full_model_multiply_adds_per_example"] == dropout.client_flops(1.0, 1)
    assert cli.main(["cost", "--dropout", "0.5"]) == 0
    assert "3.80x less" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, bad",
    [
        (["cost", "--dropout", "1.5"], "1.5"),
        (["cost", "--dropout", "0"], "0"),
        (["reproduce", "sweep", "--dropout", "0.5", "nan"], "nan"),
    ],
)
def test_cli_bad_keep_fraction_is_one_line(args, bad, capsys):
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert err == f"python -m fedkit: error: --dropout {bad}: give a keep fraction in (0, 1]\n"


def test_cli_lists_the_dropout_grid(capsys):
    assert cli.main(["reproduce", "sweep", "--dropout", "1", "0.75", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6 and lines[0].startswith("'dropout 1': broadcast identity, aggregate identity")
    assert lines[5].endswith("broadcast kashin:4, aggregate uniform:2, threshold 10000, dropout keeps 0.75")


def test_run_rounds_seeds_the_dropout_models_starting_weights(processes):
    from fedkit import algorithms, experiments

    process = processes[0.75]
    states = [experiments.initial_state(process, seed) for seed in (3, 3, 4)]
    assert [int(s.seed) for s in states] == [3, 3, 4]  # the sub-model draws follow the run's seed too
    starts = [process.get_model_weights(s).trainable for s in states]
    assert all(np.array_equal(a, b) for a, b in zip(starts[0], starts[1], strict=True))
    assert not np.array_equal(starts[0][0], starts[2][0])
    plain = algorithms.build_fedavg("cnn")  # the same seed starts the full CNN at the same weights
    for a, b in zip(starts[0], plain.get_model_weights(experiments.initial_state(plain, 3)).trainable, strict=True):
        np.testing.assert_array_equal(a, b)


def test_lossless_encoders_are_refused_in_one_line():
    with pytest.raises(ValueError, match="aggregate=uniform-eg:8: Federated Dropout does not report"):
        dropout.build_process(0.75, aggregate="uniform-eg:8")
