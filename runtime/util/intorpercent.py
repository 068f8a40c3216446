"""IntOrString values scaled against a total (upstream intstr.GetScaledValueFromIntOrPercent):
an int is itself; "N%" is N percent of the total, rounded up or down; anything else is
an error, as upstream. Pure.
"""

from __future__ import annotations


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(f"invalid value for IntOrString: invalid type: string is not a "
                         f"percentage: {value!r}")
    try:
        pct = int(value[:-1])
    except ValueError:
        raise ValueError(f"invalid value for IntOrString: {value!r}") from None
    return -(-pct * total // 100) if round_up else pct * total // 100
