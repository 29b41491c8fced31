"""Layer 3, compression: encoder specs, `tensor_encoding` encoders for the broadcast and the mean, exact bit
counts of what crosses placements, new stages (top-k, DRIVE and EDEN, lossless Elias-gamma), and the
distributed mean estimation harnesses.

Public names:
- from `specs` (free of TensorFlow): `parse_encoder`, `EncoderSpec`, `ENCODERS`, `LOSSLESS`, `MAX_BITS`,
  `DEFAULT_THRESHOLD`;
- from `encoders`: `make_encoder`, `register_encoder`, `broadcast_encoder_fn`, `mean_encoder_fn`, `encoded_mean`,
  `encoded_broadcast`, `build_encoded_broadcast`, `encoding_table`, `applies_to`, `is_encoded`,
  `code_capacity_bits`, `UnusedEncoderWarning`;
- from `sizing`: `communication_cost`, `CommunicationCost`, `SizeTracker`, `format_size`, `type_bits`, `value_bits`,
  `NotStaticError`;
- from `stages`: `check_encoder`, `TopKEncodingStage`, `top_k_encoder`, `register_top_k`, `error_feedback_step`;
- from `eden`: `DriveEncodingStage`, `EdenEncodingStage`, `drive_encoder`, `eden_encoder`;
- from `lossless`: `EliasGammaEncodingStage`, `uniform_eg_encoder`.

Submodules: `specs`, `encoders`, `sizing`, `stages`, `eden`, `lossless`, and `dme` (Suresh et al.'s mean
estimation) and `vnmse` (every encoder on the DME papers' harness), used as modules (`dme.sweep`).
Every submodule but `specs` imports TensorFlow on first use.
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.compression.eden import (
        DriveEncodingStage as DriveEncodingStage,
        EdenEncodingStage as EdenEncodingStage,
        drive_encoder as drive_encoder,
        eden_encoder as eden_encoder,
    )
    from fedkit.compression.encoders import (
        UnusedEncoderWarning as UnusedEncoderWarning,
        applies_to as applies_to,
        broadcast_encoder_fn as broadcast_encoder_fn,
        build_encoded_broadcast as build_encoded_broadcast,
        code_capacity_bits as code_capacity_bits,
        encoded_broadcast as encoded_broadcast,
        encoded_mean as encoded_mean,
        encoding_table as encoding_table,
        is_encoded as is_encoded,
        make_encoder as make_encoder,
        mean_encoder_fn as mean_encoder_fn,
        register_encoder as register_encoder,
    )
    from fedkit.compression.lossless import (
        EliasGammaEncodingStage as EliasGammaEncodingStage,
        uniform_eg_encoder as uniform_eg_encoder,
    )
    from fedkit.compression.sizing import (
        CommunicationCost as CommunicationCost,
        NotStaticError as NotStaticError,
        SizeTracker as SizeTracker,
        communication_cost as communication_cost,
        format_size as format_size,
        type_bits as type_bits,
        value_bits as value_bits,
    )
    from fedkit.compression.specs import (
        DEFAULT_THRESHOLD as DEFAULT_THRESHOLD,
        ENCODERS as ENCODERS,
        LOSSLESS as LOSSLESS,
        MAX_BITS as MAX_BITS,
        EncoderSpec as EncoderSpec,
        parse_encoder as parse_encoder,
    )
    from fedkit.compression.stages import (
        TopKEncodingStage as TopKEncodingStage,
        check_encoder as check_encoder,
        error_feedback_step as error_feedback_step,
        register_top_k as register_top_k,
        top_k_encoder as top_k_encoder,
    )
else:
    __getattr__, __dir__ = lazy.exports(__name__)
