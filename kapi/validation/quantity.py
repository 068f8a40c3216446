"""resource.Quantity: parsing the string form ("100m", "1.5Gi", "2e3") into a Decimal.

Owns the quantity grammar and upstream's parse error texts. Pure; never touches objects.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

FORMAT_ERROR = ("quantities must match the regular expression "
                "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")
SUFFIX_ERROR = "unable to parse quantity's suffix"

_SPLIT = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")
_EXPONENT = re.compile(r"^[eE][-+]?[0-9]+$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15,
            "E": 18}


class QuantityError(ValueError):
    """A string that is not a quantity; str() is upstream's message."""


@functools.lru_cache(maxsize=4096, typed=True)
def parse(value: str | int | float) -> Decimal:
    """The quantity's value; QuantityError with upstream's text when malformed
    (memoized: the same few quantities come back on every write)."""
    text = value if isinstance(value, str) else _number_text(value)
    m = _SPLIT.match(text.strip() if isinstance(value, str) else text)
    if m is None or text != text.strip():
        raise QuantityError(FORMAT_ERROR)
    number, suffix = m.groups()
    if number.count(".") > 1 or number.strip("+-") in ("", "."):
        raise QuantityError(FORMAT_ERROR)
    try:
        base = Decimal(number)
    except InvalidOperation:
        raise QuantityError(FORMAT_ERROR) from None
    return base * _multiplier(suffix)


def _multiplier(suffix: str) -> Decimal:
    if suffix in _BINARY:
        return Decimal(2) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return Decimal(10) ** _DECIMAL[suffix]
    if _EXPONENT.match(suffix):
        return Decimal(10) ** int(suffix[1:])
    raise QuantityError(SUFFIX_ERROR)


def _number_text(value: int | float) -> str:
    if isinstance(value, bool):
        raise QuantityError(FORMAT_ERROR)
    return str(value) if isinstance(value, int) else repr(value)
