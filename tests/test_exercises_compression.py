"""fedkit.exercises.compression: notebook 08's and 09's checkers fail wrong answers and pass right ones."""

import pytest

from fedkit.exercises import compression as ex
from fedkit.experiments import sweep

DENSE = 3136 * 512


def test_uniform_bits(capsys):
    ex.check_uniform_bits(4, DENSE, 229_376 * 32 + 64)  # 28 bits per int32: 7 four-bit values each
    assert "Right" in capsys.readouterr().out
    for wrong, hint in [(DENSE * 4, "28 of the 32"), (229_376 * 32, "min and max"), (123, "not what")]:
        with pytest.raises(AssertionError, match=hint):
            ex.check_uniform_bits(4, DENSE, wrong)


def test_threshold(capsys):
    ex.check_threshold(51_200)
    assert "only the dense kernel" in capsys.readouterr().out
    for wrong in (10_000, DENSE, -1):
        with pytest.raises(AssertionError):
            ex.check_threshold(wrong)


def test_hadamard_bits(capsys):
    uniform = 28_572 * 32 + 64  # 100,000 x 8 bits in 28-bit int32s, plus min and max
    hadamard = 37_450 * 32 + 64 + 128  # the same after padding to 131,072, plus the rotation's int64 seed pair
    ex.check_hadamard_bits(100_000, hadamard, uniform)
    assert "131,072" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="power of two"):
        ex.check_hadamard_bits(100_000, uniform, uniform)
    with pytest.raises(AssertionError, match="seed"):
        ex.check_hadamard_bits(100_000, hadamard - 128, uniform)
    with pytest.raises(AssertionError, match="uniform_bits"):
        ex.check_hadamard_bits(100_000, hadamard, 800_064)


def row(name, down, up, accuracy):
    return {
        "configuration": name,
        "downlink_bits_per_client_round": down,
        "uplink_bits_per_client_round": up,
        "test_accuracy": accuracy,
        "rounds": 20,
        "broadcast": name,
        "aggregate": name,
    }


ROWS = [row("a", 100, 100, 0.9), row("b", 30, 30, 0.89), row("c", 30, 40, 0.85), row("d", 10, 10, 0.5)]


def test_pareto_front(capsys):
    assert ex.pareto_names(ROWS) == ["a", "b", "d"]
    ex.check_pareto_front(["a", "b", "d"], ROWS)
    assert "Right" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="dominated"):
        ex.check_pareto_front(["a", "b", "c", "d"], ROWS)
    with pytest.raises(AssertionError, match="on the front too"):
        ex.check_pareto_front(["a", "b"], ROWS)
    with pytest.raises(AssertionError, match="not configurations"):
        ex.check_pareto_front(["z"], ROWS)


def test_shipped_sweep_rows_and_its_front(capsys):
    rows = ex.shipped_sweep_rows()
    assert rows[0]["configuration"] == "identity" and len(rows) >= 5
    assert rows[0]["downlink_bits_per_client_round"] == 53_227_872  # the CNN's float32 weights and the client lr
    assert all(len(r["test_accuracy_per_seed"]) >= 3 for r in rows)
    front = ex.pareto_names(rows)
    assert front == [r["configuration"] for r in rows if r["pareto"]]
    ex.check_pareto_front(front, rows)
    dominated = next(r["configuration"] for r in rows if not r["pareto"])
    with pytest.raises(AssertionError, match="dominated"):
        ex.check_pareto_front([*front, dominated], rows)


def test_sweep_results_data_and_command():
    rows = [row("identity", 100, 100, 0.9), row("u8", 30, 30, 0.89)]
    for r, accs in zip(rows, ["0.9000 0.9100 0.8900", "0.8800 0.8900 0.9000"], strict=True):
        r |= {"test_accuracy_per_seed": accs, "test_accuracy_ci95": 0.02}
    settings = sweep.SweepSettings(rounds=20, epochs=2, seeds=(0, 1, 2))
    data = sweep.results_data(rows, settings)
    assert data["settings"]["seeds"] == (0, 1, 2) and [r["pareto"] for r in data["rows"]] == [True, True]
    assert data["rows"][1]["test_accuracy_per_seed"] == [0.88, 0.89, 0.90] and data["rows"][1]["total_bits"] == 1200
    first, second = (sweep.results_data([r], settings) for r in rows)
    merged = sweep.merge_results([first, second])
    assert [r["configuration"] for r in merged["rows"]] == ["identity", "u8"] and merged["rows"][1]["uplink_ratio"] > 3
    with pytest.raises(ValueError, match="appear twice"):
        sweep.merge_results([first, first])
    configs = sweep.select(sweep.default_grid(), ["identity", "uniform:8 both"])
    assert sweep.command_line(configs, settings, only=["identity", "uniform:8 both"]) == (
        "python -m fedkit reproduce sweep --rounds 20 --clients 10 --epochs 2 --client-lr 0.1 --server-lr 1 "
        "--seeds 0 1 2 --only identity 'uniform:8 both'"
    )


def _mean_fn(bits, threshold=10_000):
    import tensorflow as tf
    from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

    def fn(value_spec):
        spec = tf.TensorSpec(value_spec.shape, value_spec.dtype)
        big = bits and spec.dtype.is_floating and spec.shape.num_elements() > threshold
        encoder = te.encoders.uniform_quantization(bits=bits) if big else te.encoders.identity()
        return te.encoders.as_gather_encoder(encoder, spec)

    return fn


def test_mean_encoder_fn(capsys):
    ex.check_mean_encoder_fn(_mean_fn(4), bits=4)
    assert "Right" in capsys.readouterr().out
    for wrong, hint in [(_mean_fn(0), "float32"), (_mean_fn(8), "8 bits"), (_mean_fn(4, 0), "small variables")]:
        with pytest.raises(AssertionError, match=hint):
            ex.check_mean_encoder_fn(wrong, bits=4)

    def unwritten(value_spec):
        raise NotImplementedError

    with pytest.raises(AssertionError, match="NotImplementedError"):
        ex.check_mean_encoder_fn(unwritten)


def test_differs_from_identity(capsys):
    rows = [
        {"configuration": "identity", "test_accuracy_per_seed": [0.90, 0.91, 0.92]},
        {"configuration": "close", "test_accuracy_per_seed": [0.89, 0.91, 0.90]},
        {"configuration": "far", "test_accuracy_per_seed": [0.70, 0.71, 0.72]},
    ]
    assert ex.differs_from_identity(rows) == ["far"]
    ex.check_differs_from_identity(ex.differs_from_identity, rows)
    assert "['far'] differ" in capsys.readouterr().out
    # A constant answer fails on the checker's made-up rows, even where the real rows' answer is that constant.
    no_difference = [r for r in rows if r["configuration"] != "far"]
    with pytest.raises(AssertionError, match="made-up far"):
        ex.check_differs_from_identity(lambda r: [], no_difference)
    for wrong, hint in [(["far", "close"], "overlap"), ([], "separate"), (["identity", "far"], "'identity'")]:
        with pytest.raises(AssertionError, match=hint):
            ex.check_differs_from_identity(lambda r, w=wrong: w, rows)
