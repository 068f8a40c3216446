"""Resource quantities ("500m", "1.5", "128Mi", "1e3") as integers the scheduler adds up.

cpu is counted in millicores, everything else in base units, rounded up as upstream's
`resource.Quantity` does for MilliValue/Value. Pure functions; they never raise on
input a user could send (an unparsable quantity counts as 0 — the API server validates).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation

_SUFFIX: dict[str, Decimal | int] = {
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
    "n": Decimal("1e-9"), "u": Decimal("1e-6"), "m": Decimal("1e-3"), "": 1,
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
}
_RE = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]{0,2})$")


def parse(q: str | int | float) -> Decimal:
    if isinstance(q, (int, float)):
        return Decimal(str(q))
    m = _RE.match(q.strip())
    if not m or m.group(2) not in _SUFFIX:
        return Decimal(0)
    try:
        return Decimal(m.group(1)) * Decimal(_SUFFIX[m.group(2)])
    except InvalidOperation:
        return Decimal(0)


def milli(q: str | int | float) -> int:
    """The quantity in thousandths, rounded up (cpu in millicores)."""
    return math.ceil(parse(q) * 1000)


def value(q: str | int | float) -> int:
    """The quantity in base units, rounded up (bytes, pods, devices)."""
    return math.ceil(parse(q))
