"""fedkit.exercises.stages: notebook 10's checkers fail wrong answers and pass the worked solutions."""

import collections

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.exercises import stages as ex


def sign_stage(dtype=tf.float32):
    """The notebook's starter: signs as {0, 1} in `dtype` and one scale, the mean magnitude."""

    @te.core.tf_style_encoding_stage
    class SignEncodingStage(te.core.EncodingStageInterface):
        name = "sign"
        compressible_tensors_keys = ["signs"]
        commutes_with_sum = False
        decode_needs_input_shape = False

        def get_params(self):
            return collections.OrderedDict(), collections.OrderedDict()

        def encode(self, x, encode_params):
            return collections.OrderedDict(signs=tf.cast(x >= 0, dtype), scale=tf.reduce_mean(tf.abs(x)))

        def decode(self, encoded_tensors, decode_params, num_summands=None, shape=None):
            return encoded_tensors["scale"] * (2 * tf.cast(encoded_tensors["signs"], tf.float32) - 1)

    return SignEncodingStage()


def starter():
    return te.core.EncoderComposer(sign_stage()).make()


def packed(dtype=tf.float32):
    def build():
        composer = te.core.EncoderComposer(sign_stage(dtype))
        composer.add_child(te.stages.BitpackingEncodingStage(1), "signs")  # returns the child's composer
        return composer.make()

    return build


def test_sign_starter_fails_for_size_and_int8_packing_fails(capsys):
    with pytest.raises(AssertionError, match="not smaller"):
        ex.check_sign_encoder(starter)
    with pytest.raises(AssertionError, match="fails the contract"):
        ex.check_sign_encoder(packed(tf.int8))


def test_bitpacked_signs_reach_the_target(capsys):
    ex.check_sign_encoder(packed())
    ratio = float(capsys.readouterr().out.split("pass, ")[1].split("x")[0])
    assert ratio >= ex.SIGN_TARGET


def right_step(update, residual, compress):
    corrected = update + residual
    sent = compress(corrected)
    return sent, corrected - sent


def test_error_feedback_right_answer_passes(capsys):
    ex.check_error_feedback(right_step)
    assert capsys.readouterr().out.startswith("Right:")


@pytest.mark.parametrize(
    "step, hint",
    [
        (lambda u, r, c: (c(u), u - c(u)), "compress\\(update \\+ residual\\)"),  # residual never added back
        (lambda u, r, c: (c(u + r), r), "new residual"),  # residual never updated
        (lambda u, r, c: (c(u + r), np.zeros_like(u)), "new residual"),  # plain compression, no feedback
    ],
)
def test_error_feedback_wrong_answers_fail(step, hint):
    with pytest.raises(AssertionError, match=hint):
        ex.check_error_feedback(step)
