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

from fedkit.common import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "specs": ["parse_encoder", "EncoderSpec", "ENCODERS", "LOSSLESS", "MAX_BITS", "DEFAULT_THRESHOLD"],
        "encoders": [
            "make_encoder",
            "register_encoder",
            "broadcast_encoder_fn",
            "mean_encoder_fn",
            "encoded_mean",
            "encoded_broadcast",
            "build_encoded_broadcast",
            "encoding_table",
            "applies_to",
            "is_encoded",
            "code_capacity_bits",
            "UnusedEncoderWarning",
        ],
        "sizing": [
            "communication_cost",
            "CommunicationCost",
            "SizeTracker",
            "format_size",
            "type_bits",
            "value_bits",
            "NotStaticError",
        ],
        "stages": ["check_encoder", "TopKEncodingStage", "top_k_encoder", "register_top_k", "error_feedback_step"],
        "eden": ["DriveEncodingStage", "EdenEncodingStage", "drive_encoder", "eden_encoder"],
        "lossless": ["EliasGammaEncodingStage", "uniform_eg_encoder"],
    },
)
