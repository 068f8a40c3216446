"""ResourceLists (name -> quantity) as quota and limit ranges add, compare and print them.

A quantity is kept as a Decimal plus whether it was written in binary units (Ki, Mi,
...), so a sum prints the way upstream's resource.Quantity prints it ("1536Mi", "500m",
"2"). Pure functions over dicts; never touches objects or storage.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Iterable, Mapping

from kapi.validation.quantity import QuantityError, parse

_BINARY = (("Ei", 60), ("Pi", 50), ("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10))
_DECIMAL = (("E", 18), ("P", 15), ("T", 12), ("G", 9), ("M", 6), ("k", 3), ("", 0),
            ("m", -3), ("u", -6), ("n", -9))


@dataclass(frozen=True)
class Q:
    value: Decimal
    binary: bool = False

    def __add__(self, other: Q) -> Q:
        return Q(self.value + other.value, self.binary if self.value else other.binary)

    def __sub__(self, other: Q) -> Q:
        return Q(self.value - other.value, self.binary or other.binary)

    def __str__(self) -> str:
        return canonical(self.value, self.binary)


ZERO = Q(Decimal(0))
ONE = Q(Decimal(1))
ResourceList = dict[str, Q]


def q(text: Any) -> Q:
    """A quantity from its API form; an unparsable one counts as zero (validation
    rejects those before admission sees them)."""
    try:
        value = parse(text if isinstance(text, (str, int, float)) else str(text))
    except QuantityError:
        return ZERO
    return Q(value, isinstance(text, str) and text.rstrip("0123456789").endswith("i"))


def canonical(value: Decimal, binary: bool = False) -> str:
    """upstream's canonical quantity text: the largest suffix that keeps an integer."""
    if value == 0:
        return "0"
    if binary and value == value.to_integral_value():
        for suffix, power in _BINARY:
            if value % (Decimal(2) ** power) == 0:
                return f"{int(value / Decimal(2) ** power)}{suffix}"
        return str(int(value))
    sign = "-" if value < 0 else ""
    value = abs(value)
    for suffix, power in _DECIMAL:
        scaled = value / (Decimal(10) ** power)
        if scaled == scaled.to_integral_value():
            return f"{sign}{int(scaled)}{suffix}"
    nanos = (value * Decimal(10) ** 9).to_integral_value(rounding="ROUND_CEILING")
    return f"{sign}{int(nanos)}n"


def parse_list(raw: Any) -> ResourceList:
    return {k: q(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def to_api(rl: Mapping[str, Q]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(rl.items())}


def add(a: Mapping[str, Q], b: Mapping[str, Q]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, ZERO) + v
    return out


def subtract_floor_zero(a: Mapping[str, Q], b: Mapping[str, Q]) -> ResourceList:
    """a - b per name, never below zero (upstream's SubtractWithNonNegativeResult)."""
    out = {}
    for k, v in a.items():
        d = v - b.get(k, ZERO)
        out[k] = d if d.value > 0 else Q(Decimal(0), d.binary)
    return out


def mask(rl: Mapping[str, Q], names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in rl.items() if k in keep}


def non_zero(rl: Mapping[str, Q]) -> ResourceList:
    return {k: v for k, v in rl.items() if v.value != 0}


def exceeded(used: Mapping[str, Q], hard: Mapping[str, Q]) -> list[str]:
    """The names whose use is over the hard limit."""
    return sorted(k for k, v in used.items() if k in hard and v.value > hard[k].value)


def pretty(rl: Mapping[str, Q]) -> str:
    """upstream's prettyPrint: name=value, sorted, joined by commas."""
    return ",".join(f"{k}={v}" for k, v in sorted(rl.items()))
