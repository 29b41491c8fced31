"""fedkit.compression.specs: user strings parsed once into typed, immutable specs (no TensorFlow): the aggregate
direction's choices and both directions with their threshold."""

import dataclasses

import pytest

from fedkit.compression import specs
from fedkit.compression.specs import CompressionSpec, EncoderSpec, TffAggregatorSpec


def test_parse_aggregate_takes_tffs_aggregators_and_encoders():
    assert specs.parse_aggregate("tff-compression") == TffAggregatorSpec("tff-compression")
    assert specs.parse_aggregate(" uniform:8 ") == EncoderSpec("uniform", 8)
    parsed = EncoderSpec("drive")
    assert specs.parse_aggregate(parsed) is parsed
    with pytest.raises(ValueError, match="unknown encoder 'tff'"):
        specs.parse_aggregate("tff:8")


def test_spec_properties():
    assert EncoderSpec("identity").is_identity and not EncoderSpec("uniform", 8).is_identity
    assert EncoderSpec("uniform-eg", 8).lossless and not EncoderSpec("uniform", 8).lossless
    tff_own = TffAggregatorSpec("tff-compression")
    assert str(tff_own) == "tff-compression" and not tff_own.lossless and not tff_own.is_identity


def test_compression_spec_parses_once_and_records_strings():
    spec = CompressionSpec.parse("uniform:8", "tff-compression", 100)
    assert spec == CompressionSpec(EncoderSpec("uniform", 8), TffAggregatorSpec("tff-compression"), 100)
    assert CompressionSpec.parse(spec.broadcast, spec.aggregate, spec.threshold) == spec  # parsed objects pass
    assert spec.record() == {"broadcast": "uniform:8", "aggregate": "tff-compression", "threshold": 100}
    assert CompressionSpec().record() == {"broadcast": None, "aggregate": None, "threshold": specs.DEFAULT_THRESHOLD}
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.threshold = 0  # type: ignore[misc]


def test_compression_spec_names_its_lossless_directions():
    assert CompressionSpec.parse("uniform-eg:4", "uniform-eg:4").lossless_directions() == ["broadcast", "aggregate"]
    assert CompressionSpec.parse(None, "uniform-eg:4").lossless_directions() == ["aggregate"]
    assert CompressionSpec.parse("uniform:4", "tff-compression").lossless_directions() == []


@pytest.mark.parametrize(
    "args, message",
    [
        (("gzip:8", None, 0), "unknown encoder 'gzip'"),
        ((None, "uniform:0", 0), "bit width '0'"),
        (("identity", "identity", -1), "threshold=-1: give a number of elements >= 0"),
    ],
)
def test_compression_spec_refuses_bad_input_where_it_enters(args, message):
    with pytest.raises(ValueError, match=message):
        CompressionSpec.parse(*args)
