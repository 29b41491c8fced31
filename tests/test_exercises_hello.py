"""Notebook 01's exercise checkers pass the worked solutions and fail wrong answers with a hint."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_federated as tff

from fedkit.exercises import hello

CLIENT_FLOATS = tff.FederatedType(np.float32, tff.CLIENTS)
SERVER_FLOAT = tff.FederatedType(np.float32, tff.SERVER)


@tff.federated_computation(CLIENT_FLOATS)
def right_max(readings):
    return tff.federated_max(readings)


@tff.federated_computation(CLIENT_FLOATS)
def mean_not_max(readings):
    return tff.federated_mean(readings)


@tff.tensorflow.computation(np.float32, np.float32, np.float32)
def between(reading, low, high):
    return tf.cast((reading > low) & (reading < high), tf.float32)


@tff.tensorflow.computation(np.float32, np.float32, np.float32)
def above_low_only(reading, low, high):
    return tf.cast(reading > low, tf.float32)


def fraction_with(flag_fn):
    @tff.federated_computation(CLIENT_FLOATS, SERVER_FLOAT, SERVER_FLOAT)
    def fraction(readings, low, high):
        bounds = tff.federated_broadcast(tff.federated_zip((low, high)))
        flags = tff.federated_map(flag_fn, tff.federated_zip((readings, bounds[0], bounds[1])))
        return tff.federated_mean(flags)

    return fraction


def test_max_passes_the_right_computation(capsys):
    hello.check_max(right_max)
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize("wrong", [mean_not_max, lambda readings: max(readings), fraction_with(between)])
def test_max_fails_wrong_answers(wrong):
    with pytest.raises(AssertionError):
        hello.check_max(wrong)


def test_fraction_between_passes_the_right_computation(capsys):
    hello.check_fraction_between(fraction_with(between))
    assert "Right:" in capsys.readouterr().out


@pytest.mark.parametrize("wrong", [fraction_with(above_low_only), right_max])
def test_fraction_between_fails_wrong_answers(wrong):
    with pytest.raises(AssertionError, match="between|signature"):
        hello.check_fraction_between(wrong)


def test_bits_accepts_the_count_and_refuses_a_wrong_one(capsys):
    fraction = fraction_with(between)
    # Down: the two float32 bounds broadcast, and each client's float32 reading passed in; up: one float32 flag.
    hello.check_bits(fraction, down=3 * 32, up=32)
    assert "Right:" in capsys.readouterr().out
    for down, up in ((2 * 32, 32), (3 * 32, 0), (32, 32)):
        with pytest.raises(AssertionError, match="down="):
            hello.check_bits(fraction, down=down, up=up)
    with pytest.raises(AssertionError, match="not a TFF computation"):
        hello.check_bits(lambda: None, down=0, up=0)
