"""Lossless coding after quantization: an Elias-gamma stage whose encoder reports the bits it used.

Uniform quantization leaves small integers (levels 0 .. 2**bits - 1) that bitpacking sends at a fixed
`bits` each. Model updates are peaked, so most levels sit near the middle: written as distances from
their rounded mean (zigzag: 0, -1, 1, -2, ... -> 1, 2, 3, 4, ...), Elias gamma gives the common ones
short codes (n takes 2 * floor(log2 n) + 1 bits: 1 -> "1", 2 -> "010", 3 -> "011", 4 -> "00100").

Shapes stay static, so the static count still works: the codes go into a buffer sized for the worst
case (every value taking the longest code), and that buffer's size is the static upper bound. The
stage also reports `length`, the bits the codes really took, as its state update: TFF sums it over
clients (one int64 per client and coded tensor, itself counted statically), and `fedkit.compression.encoders`
reports the sum as the measured bits. Values are coded in chunks whose start offsets travel along
(int32 each, static), so the decoder decodes all chunks in parallel in `CHUNK` short steps.
"""

from __future__ import annotations

import collections
import math

import numpy as np
import tensorflow as tf
from tensorflow_model_optimization.python.core.internal import tensor_encoding as te

from fedkit.compression import sizing

CHUNK = 512  # values per chunk: the decoder takes CHUNK vectorized steps, one per value of every chunk
CODE_KEY = "code"  # the fixed-capacity buffer of Elias-gamma codes (int32 words, most significant bit first)
LENGTH_KEY = "length"  # state update: bits of `code` the codes really used


def gamma_lengths(n: np.ndarray) -> np.ndarray:
    """Elias-gamma code length of each positive integer: 2 * floor(log2 n) + 1 bits (numpy, exact)."""
    n = np.asarray(n, dtype=np.int64)
    if (n < 1).any():
        raise ValueError(f"Elias gamma codes positive integers; got {n.min()}: map values to 1, 2, 3, ... first.")
    return 2 * (np.frexp(n.astype(np.float64))[1] - 1) + 1  # frexp's exponent is floor(log2 n) + 1, exact


def zigzag(d: np.ndarray) -> np.ndarray:
    """Signed distances 0, -1, 1, -2, 2, ... to the positive integers 1, 2, 3, 4, 5, ... (numpy)."""
    d = np.asarray(d, dtype=np.int64)
    return np.where(d >= 0, 2 * d, -2 * d - 1) + 1


def capacity_bits(elements: int, bits: int) -> int:
    """Bits of the code buffer for `elements` values at `bits`-bit quantization: the worst case, in 32-bit words."""
    chunks = math.ceil(elements / CHUNK)
    return sizing.words_bits(chunks * CHUNK * (2 * bits + 1))


_WORD_BITS = np.array([2**k for k in range(31, -1, -1)], np.int64)  # most significant bit first


def _floor_log2(n: tf.Tensor) -> tf.Tensor:
    """floor(log2 n) of positive int32 values, exactly (no floating point)."""
    result = tf.zeros_like(n)
    for shift in (16, 8, 4, 2, 1):
        big = n >= (1 << shift)
        n = tf.where(big, tf.bitwise.right_shift(n, shift), n)
        result += tf.where(big, shift, 0)
    return result


@te.core.tf_style_adaptive_encoding_stage
class EliasGammaEncodingStage(te.core.AdaptiveEncodingStageInterface):
    """Elias-gamma code a vector of quantization levels (0 .. 2**bits - 1) around their rounded mean; exact."""

    CENTER_KEY = "center"
    STARTS_KEY = "chunk_starts"

    def __init__(self, bits: int):
        if not 1 <= bits <= 16:
            raise ValueError(f"bits={bits}: the levels to code come from 1- to 16-bit quantization.")
        self._bits = bits

    @property
    def name(self):
        return "elias_gamma"

    @property
    def compressible_tensors_keys(self):
        return []  # the codes are already bits: nothing for a later stage to compress

    @property
    def commutes_with_sum(self):
        return False

    @property
    def decode_needs_input_shape(self):
        return True

    @property
    def state_update_aggregation_modes(self):
        return {LENGTH_KEY: te.core.StateAggregationMode.SUM}

    def initial_state(self):
        return {LENGTH_KEY: tf.constant(0, tf.int64)}

    def update_state(self, state, state_update_tensors):
        del state  # the state is the last call's measured bits (summed over clients in an aggregation)
        return {LENGTH_KEY: state_update_tensors[LENGTH_KEY]}

    def get_params(self, state):
        del state
        return collections.OrderedDict(), collections.OrderedDict()

    def encode(self, x, encode_params):
        del encode_params
        elements = x.shape.num_elements()
        capacity = capacity_bits(elements or 0, self._bits)
        if not elements or capacity >= 2**31:
            raise ValueError(
                f"Elias-gamma stage got a tensor of shape {x.shape}: it codes 1 to "
                f"{(2**31 - 1) // (2 * self._bits + 1):,} values of a static shape."
            )
        chunks = math.ceil(elements / CHUNK)
        levels = tf.cast(tf.round(tf.reshape(x, [-1])), tf.int32)
        center = tf.cast(tf.round(tf.reduce_mean(tf.cast(levels, tf.float64))), tf.int32)
        d = levels - center
        n = tf.where(d >= 0, 2 * d, -2 * d - 1) + 1
        # Padding values (to whole chunks) code as "1": one bit each, after the real codes, not in `length`.
        n = tf.concat([n, tf.ones([chunks * CHUNK - elements], tf.int32)], 0)
        top = _floor_log2(n)  # the code is n itself written in 2 * top + 1 bits
        lengths = 2 * top + 1
        ends = tf.cumsum(lengths)
        starts = ends - lengths
        positions, ones = [], []
        for j in range(self._bits + 1):  # bit j of n sits at starts + lengths - 1 - j
            positions.append(starts + lengths - 1 - j)
            ones.append(tf.logical_and(j <= top, tf.equal(tf.bitwise.bitwise_and(tf.bitwise.right_shift(n, j), 1), 1)))
        where = tf.boolean_mask(tf.concat(positions, 0), tf.concat(ones, 0))
        stream = tf.scatter_nd(where[:, None], tf.ones_like(where, tf.int64), [capacity])
        words = tf.reduce_sum(tf.reshape(stream, [-1, 32]) * _WORD_BITS, 1)
        code = tf.cast(words, tf.int32)  # keeps the low 32 bits: the word's bit pattern
        encoded = {
            CODE_KEY: code,
            self.CENTER_KEY: center,
            self.STARTS_KEY: tf.gather(starts, tf.range(0, chunks * CHUNK, CHUNK)),
        }
        return encoded, {LENGTH_KEY: tf.cast(ends[elements - 1], tf.int64)}

    def decode(self, encoded_tensors, decode_params, num_summands=None, shape=None):
        del decode_params, num_summands
        longest = 2 * self._bits + 1
        shifts = tf.range(31, -1, -1)
        bits = tf.bitwise.bitwise_and(tf.bitwise.right_shift(encoded_tensors[CODE_KEY][:, None], shifts), 1)
        bits = tf.concat([tf.reshape(tf.cast(bits, tf.uint8), [-1]), tf.zeros([longest], tf.uint8)], 0)  # + a window
        window = tf.range(longest)

        def step(i, position, values):
            read = tf.cast(tf.gather(bits, position[:, None] + window[None, :]), tf.int32)
            top = tf.argmax(read, 1, output_type=tf.int32)  # zeros before the first one: floor(log2 n)
            in_code = tf.logical_and(window[None, :] >= top[:, None], window[None, :] <= 2 * top[:, None])
            weights = tf.where(in_code, tf.bitwise.left_shift(1, tf.maximum(2 * top[:, None] - window, 0)), 0)
            return i + 1, position + 2 * top + 1, values.write(i, tf.reduce_sum(read * weights, 1))

        starts = encoded_tensors[self.STARTS_KEY]
        values = tf.TensorArray(tf.int32, size=CHUNK)
        _, _, values = tf.while_loop(lambda i, *_: i < CHUNK, step, (0, starts, values))
        n = tf.reshape(tf.transpose(values.stack()), [-1])  # chunk by chunk, in order
        static = tf.get_static_value(shape)
        n = n[: int(np.prod(static))] if static is not None else n[: tf.reduce_prod(shape)]
        z = n - 1
        d = tf.where(tf.equal(z % 2, 0), z // 2, -(z + 1) // 2)  # not ==: in TFF's graphs it compares identity
        decoded = tf.cast(d + encoded_tensors[self.CENTER_KEY], tf.float32)
        return tf.reshape(decoded, static if static is not None else shape)


def uniform_eg_encoder(bits: int) -> te.core.Encoder:
    """Flatten, quantize to `bits` bits, Elias-gamma code the levels: the `uniform-eg:B` spec."""
    return (
        te.core.EncoderComposer(EliasGammaEncodingStage(bits))
        .add_parent(
            te.stages.UniformQuantizationEncodingStage(bits),
            te.stages.UniformQuantizationEncodingStage.ENCODED_VALUES_KEY,
        )
        .add_parent(te.stages.FlattenEncodingStage(), te.stages.FlattenEncodingStage.ENCODED_VALUES_KEY)
        .make()
    )
