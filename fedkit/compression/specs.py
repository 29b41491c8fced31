"""The encoder spec grammar (`identity`, `uniform:8`, `hadamard:8`, `kashin:8`, `uniform-eg:8`, `drive`, `eden:2`),
free of TensorFlow.

It lives apart from `fedkit.compression.encoders` so that the command line can check its arguments before
importing TensorFlow (which takes seconds); `fedkit.compression.encoders` builds the encoders themselves.
User strings are parsed once where they enter (the command line, `SweepConfig`, `build_fedavg`) into an
`EncoderSpec`, or for the aggregate direction an `AggregateSpec` (`parse_aggregate`: also TFF's own aggregators,
`TffAggregatorSpec`), and both directions with their threshold as a `CompressionSpec`; the code inside takes
those objects.
"""

from __future__ import annotations

import dataclasses
from typing import TypeAlias

from fedkit.common.checks import whole_number

ENCODERS = ("identity", "uniform", "hadamard", "kashin", "uniform-eg", "drive", "eden")
UNPARAMETERIZED = ("identity", "drive")  # names that take no ':N' (DRIVE sends 1 bit per coordinate)
LARGEST = {"eden": 8}  # the largest N where it is below MAX_BITS
LOSSLESS = ("uniform-eg",)  # encoders whose coded size depends on the data: they report measured bits
TFF_AGGREGATORS = ("tff-compression",)  # TFF's own aggregators, by the name `fedkit.algorithms` gives them
DEFAULT_THRESHOLD = 10_000
MAX_BITS = 16
_REGISTERED: dict[str, int] = {}  # name -> largest parameter, for encoders registered at run time


@dataclasses.dataclass(frozen=True)
class EncoderSpec:
    """A parsed encoder spec: a name and, except for identity, its parameter (the bit width for
    the quantizers; what a registered encoder makes of it, e.g. a percentage, is up to it)."""

    name: str
    param: int | None = None

    def __str__(self) -> str:
        return self.name if self.param is None else f"{self.name}:{self.param}"

    @property
    def is_identity(self) -> bool:
        """Whether it sends values as they are (`identity`)."""
        return self.name == "identity"

    @property
    def lossless(self) -> bool:
        """Whether its coded size depends on the data (`LOSSLESS`): it reports measured bits."""
        return self.name in LOSSLESS


@dataclasses.dataclass(frozen=True)
class TffAggregatorSpec:
    """One of TFF's own aggregators (`TFF_AGGREGATORS`), a choice for the aggregate direction that is no encoder."""

    name: str

    def __str__(self) -> str:
        return self.name

    is_identity = False
    lossless = False


AggregateSpec: TypeAlias = EncoderSpec | TffAggregatorSpec  # what the clients -> server direction may use


def register_name(name: str, largest: int = MAX_BITS) -> None:
    """Make `name:N` (1 <= N <= `largest`) a valid spec; `fedkit.compression.encoders.register_encoder` calls this."""
    if name in ENCODERS or ":" in name or not name:
        raise ValueError(f"encoder name {name!r} is built in, empty or has a ':'; pick another name.")
    _REGISTERED[name] = largest


def parse_encoder(spec: str | EncoderSpec) -> EncoderSpec:
    """Parse 'identity', 'uniform:8', 'hadamard:4', 'kashin:8', 'uniform-eg:8', 'drive', 'eden:2', ...; errors name
    the bad part and the valid forms."""
    if isinstance(spec, EncoderSpec):
        return spec
    name, _, param = str(spec).strip().partition(":")
    if name not in ENCODERS and name not in _REGISTERED:
        known = ", ".join([*ENCODERS, *_REGISTERED])
        raise ValueError(f"unknown encoder {name!r} in {spec!r}: choose one of {known} (e.g. 'uniform:8').")
    if name in UNPARAMETERIZED:
        if param:
            also = " (or eden:N for N bits per coordinate)" if name == "drive" else ""
            raise ValueError(f"encoder {spec!r}: {name} takes no bit width; write '{name}'{also}.")
        return EncoderSpec(name)
    largest = _REGISTERED.get(name, LARGEST.get(name, MAX_BITS))
    what = "parameter" if name in _REGISTERED else "bit width"
    number = whole_number(param)
    if number is None or not 1 <= number <= largest:
        raise ValueError(f"{what} {param!r} in {spec!r}: write {name}:N with N from 1 to {largest}.")
    return EncoderSpec(name, number)


def parse_aggregate(spec: str | EncoderSpec | TffAggregatorSpec) -> EncoderSpec | TffAggregatorSpec:
    """An aggregate choice: one of `TFF_AGGREGATORS` ('tff-compression'), else an encoder spec (`parse_encoder`)."""
    if isinstance(spec, (EncoderSpec, TffAggregatorSpec)):
        return spec
    name = str(spec).strip()
    return TffAggregatorSpec(name) if name in TFF_AGGREGATORS else parse_encoder(spec)


@dataclasses.dataclass(frozen=True)
class CompressionSpec:
    """What each direction sends, parsed: the broadcast's encoder, the aggregate's (an encoder or one of TFF's own
    aggregators), None for plain values, and the size above which a variable is encoded."""

    broadcast: EncoderSpec | None = None
    aggregate: AggregateSpec | None = None
    threshold: int = DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold={self.threshold}: give a number of elements >= 0.")

    @classmethod
    def parse(
        cls,
        broadcast: str | EncoderSpec | None = None,
        aggregate: str | AggregateSpec | None = None,
        threshold: int = DEFAULT_THRESHOLD,
    ) -> CompressionSpec:
        """Parse user strings once, where they enter: 'uniform:8' for `broadcast`, also 'tff-compression' for
        `aggregate`; None stays None."""
        return cls(
            None if broadcast is None else parse_encoder(broadcast),
            None if aggregate is None else parse_aggregate(aggregate),
            int(threshold),
        )

    def lossless_directions(self) -> list[str]:
        """The directions ('broadcast', 'aggregate') whose encoder codes losslessly: static bits are an upper bound."""
        pairs = (("broadcast", self.broadcast), ("aggregate", self.aggregate))
        return [direction for direction, spec in pairs if spec is not None and spec.lossless]

    def record(self) -> dict[str, str | int | None]:
        """As results and checkpoints record it: each spec as its string (None stays None), and the threshold."""
        return {
            "broadcast": None if self.broadcast is None else str(self.broadcast),
            "aggregate": None if self.aggregate is None else str(self.aggregate),
            "threshold": self.threshold,
        }


def parse_keep_fraction(value: str | float) -> float:
    """A Federated Dropout keep fraction in (0, 1] (`fedkit.algorithms.dropout`): '0.75' -> 0.75."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not 0 < number <= 1:  # also refuses nan
        raise ValueError(f"keep fraction {value!r}: give a number in (0, 1], e.g. 0.75.")
    return number
