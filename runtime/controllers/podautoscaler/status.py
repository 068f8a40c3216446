"""The HPA's status as upstream writes it: conditions (AbleToScale, ScalingActive,
ScalingLimited) kept in place with their lastTransitionTime while the status holds, the
currentMetrics entries, and the selector string of a Scale parsed into a matcher.

Pure functions over dicts; the caller passes its own copy of the status.
"""

from __future__ import annotations

import re
from typing import Any, Callable

Obj = dict[str, Any]
ABLE, ACTIVE, LIMITED = "AbleToScale", "ScalingActive", "ScalingLimited"


def set_condition(status: Obj, kind: str, state: str, reason: str, message: str,
                  now: str) -> None:
    """Upstream's setCondition: replace in place; a new status gets a new transition time."""
    conds = status.setdefault("conditions", [])
    for c in conds:
        if c.get("type") == kind:
            if c.get("status") != state:
                c["lastTransitionTime"] = now
            c.update(status=state, reason=reason, message=message)
            return
    conds.append({"type": kind, "status": state, "lastTransitionTime": now,
                  "reason": reason, "message": message})


def milli_quantity(milli: int) -> str:
    """resource.NewMilliQuantity(v, DecimalSI) as a string: whole units when exact."""
    return str(milli // 1000) if milli % 1000 == 0 else f"{milli}m"


def resource_status(metric: Obj, raw_milli: int, utilization: int | None) -> Obj:
    """The currentMetrics entry of a Resource or ContainerResource metric."""
    current: Obj = {"averageValue": milli_quantity(raw_milli)}
    if utilization is not None:
        current = {"averageUtilization": utilization} | current
    if metric["type"] == "ContainerResource":
        src = metric["containerResource"]
        return {"type": "ContainerResource", "containerResource": {
            "name": src["name"], "container": src["container"], "current": current}}
    return {"type": "Resource", "resource": {"name": metric["resource"]["name"],
                                             "current": current}}


_TERM = re.compile(r"^\s*(!?)([^\s!=<>(),]+)\s*(?:(==|=|!=)\s*([^\s,()]*)|\s+(in|notin)\s*"
                   r"\(([^)]*)\))?\s*$")


def _terms(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    return out + [cur] if cur.strip() else out


def parse_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """A label selector string (`a=b,c in (d,e),!f`) -> matcher; ValueError if unreadable."""
    checks: list[Callable[[dict[str, str]], bool]] = []
    for term in _terms(text):
        m = _TERM.match(term)
        if m is None:
            raise ValueError(f"unable to parse requirement: {term.strip()!r}")
        neg, key, op, value, set_op, values = m.groups()
        if op:
            checks.append(_equals(key, value, op != "!="))
        elif set_op:
            vs = {v.strip() for v in values.split(",") if v.strip()}
            checks.append(_member(key, vs, set_op == "in"))
        else:
            checks.append(_exists(key, not neg))
    return lambda labels: all(c(labels) for c in checks)


Matcher = Callable[[dict[str, str]], bool]


def _equals(key: str, value: str, equal: bool) -> Matcher:
    return lambda labels: (labels.get(key) == value) == equal


def _member(key: str, values: set[str], inside: bool) -> Matcher:
    return lambda labels: (key in labels and labels[key] in values) == inside


def _exists(key: str, present: bool) -> Matcher:
    return lambda labels: (key in labels) == present
