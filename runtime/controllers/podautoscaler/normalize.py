"""From a metric's proposal to the replica count to set (upstream horizontal.go's
normalizeDesiredReplicas and normalizeDesiredReplicasWithBehaviors).

Without `spec.behavior`: the highest recommendation of the downscale stabilization
window (the controller's option, 300 s by default), then min/max and a scale-up limit
of max(2 x current, 4). With it: the lowest recent recommendation within the scale-up
window (or the highest within the scale-down one), then min/max and the rate the
policies allow over their periods (selectPolicy Max, Min or Disabled), counting the
changes this controller made. Each step reports the AbleToScale and ScalingLimited
conditions upstream sets (reason, message).

Pure: a History per autoscaler holds the recommendations and scale events; time is
passed in as epoch seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Condition = tuple[str, str, str]  # status, reason, message

READY = ("True", "ReadyForNewScale", "recommended size matches current size")
DOWN_STABILIZED = ("True", "ScaleDownStabilized", "recent recommendations were higher than "
                   "current one, applying the highest recent recommendation")
UP_STABILIZED = ("True", "ScaleUpStabilized", "recent recommendations were lower than "
                 "current one, applying the lowest recent recommendation")
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")
_TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
_TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
_UP_LIMIT = ("ScaleUpLimit", "the desired replica count is increasing faster than the maximum "
             "scale rate")
_DOWN_LIMIT = ("ScaleDownLimit", "the desired replica count is decreasing faster than the "
               "maximum scale rate")
DEFAULT_UP: Obj = {"stabilizationWindowSeconds": 0, "selectPolicy": "Max", "policies": [
    {"type": "Pods", "value": 4, "periodSeconds": 15},
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}
DEFAULT_DOWN: Obj = {"selectPolicy": "Max", "policies": [
    {"type": "Percent", "value": 100, "periodSeconds": 15}]}


@dataclass
class ScaleEvent:
    change: int
    at: float
    outdated: bool = False


@dataclass
class History:
    recommendations: list[tuple[int, float]] = field(default_factory=list)
    up: list[ScaleEvent] = field(default_factory=list)
    down: list[ScaleEvent] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    replicas: int
    able: Condition
    limited: Condition


def _record(h: History, replicas: int, now: float, obsolete_before: float) -> None:
    """Replace one obsolete recommendation, else append (upstream keeps the list short)."""
    for i, (_, at) in enumerate(h.recommendations):
        if at < obsolete_before:
            h.recommendations[i] = (replicas, now)
            return
    h.recommendations.append((replicas, now))


def without_behavior(h: History, current: int, desired: int, min_r: int, max_r: int,
                     now: float, down_window: float) -> Outcome:
    cutoff = now - down_window
    stabilized = max([desired] + [r for r, at in h.recommendations if at >= cutoff])
    _record(h, desired, now, cutoff)
    able = DOWN_STABILIZED if stabilized != desired else READY
    up_limit = max(2 * current, 4)
    top, why = (up_limit, _UP_LIMIT) if max_r > up_limit else (max_r, _TOO_MANY)
    if stabilized < min_r:
        return Outcome(min_r, able, ("True", *_TOO_FEW))
    if stabilized > top:
        return Outcome(top, able, ("True", *why))
    return Outcome(stabilized, able, ("False", *_WITHIN))


def rules_of(behavior: Obj, down_window: float) -> tuple[Obj, Obj]:
    up = {**DEFAULT_UP, **(behavior.get("scaleUp") or {})}
    down = {**DEFAULT_DOWN, **(behavior.get("scaleDown") or {})}
    if down.get("stabilizationWindowSeconds") is None:
        down["stabilizationWindowSeconds"] = int(down_window)
    return up, down


def with_behavior(h: History, behavior: Obj, current: int, desired: int, min_r: int,
                  max_r: int, now: float, down_window: float) -> Outcome:
    up, down = rules_of(behavior, down_window)
    up_w, down_w = int(up["stabilizationWindowSeconds"]), int(down["stabilizationWindowSeconds"])
    if desired >= current:
        cutoff, pick, stabilized_cond = now - up_w, min, UP_STABILIZED
    else:
        cutoff, pick, stabilized_cond = now - down_w, max, DOWN_STABILIZED
    stabilized = desired
    for r, at in h.recommendations:
        if at > cutoff:
            stabilized = pick(r, stabilized)
    _record(h, desired, now, now - max(up_w, down_w))
    able = stabilized_cond if stabilized != desired else READY
    replicas, (reason, message) = _rate_limited(h, up, down, current, stabilized, min_r,
                                                max_r, now)
    status = "False" if replicas == stabilized else "True"
    return Outcome(replicas, able, (status, reason, message))


def _rate_limited(h: History, up: Obj, down: Obj, current: int, desired: int, min_r: int,
                  max_r: int, now: float) -> tuple[int, tuple[str, str]]:
    if desired > current:
        limit = max(scale_up_limit(current, h.up, up, now), current)
        top, why = (limit, _UP_LIMIT) if max_r > limit else (max_r, _TOO_MANY)
        if desired > top:
            return top, why
    elif desired < current:
        limit = min(scale_down_limit(current, h.down, down, now), current)
        bottom, why = (limit, _DOWN_LIMIT) if min_r < limit else (min_r, _TOO_FEW)
        if desired < bottom:
            return bottom, why
    return desired, _WITHIN


def _changed_within(period: float, events: list[ScaleEvent], now: float) -> int:
    return sum(e.change for e in events if e.at > now - period)


def scale_up_limit(current: int, events: list[ScaleEvent], rules: Obj, now: float) -> int:
    return _rate_limit(current, events, rules, now, up=True)


def scale_down_limit(current: int, events: list[ScaleEvent], rules: Obj, now: float) -> int:
    return _rate_limit(current, events, rules, now, up=False)


def _rate_limit(current: int, events: list[ScaleEvent], rules: Obj, now: float, *,
                up: bool) -> int:
    """The most (up) or fewest (down) replicas the policies allow now. Each policy
    proposes a bound from the replicas at the start of its period; selectPolicy Max takes
    the proposal allowing the largest change, Min the smallest; Disabled allows none."""
    select = rules.get("selectPolicy") or "Max"
    if select == "Disabled":
        return current
    sign = 1 if up else -1
    proposals = []
    for p in rules.get("policies") or []:
        start = current - sign * _changed_within(p["periodSeconds"], events, now)
        if p["type"] == "Pods":
            proposals.append(start + sign * p["value"])
        elif up:
            proposals.append(math.ceil(start * (1 + p["value"] / 100)))
        else:
            proposals.append(int(start * (1 - p["value"] / 100)))
    if not proposals:
        return current
    largest, smallest = (max, min) if up else (min, max)
    return largest(proposals) if select == "Max" else smallest(proposals)


def store_scale_event(h: History, behavior: Obj | None, before: int, after: int,
                      now: float, down_window: float) -> None:
    """Remember a change for the rate limits (only used with a behavior)."""
    if behavior is None:
        return
    up, down = rules_of(behavior, down_window)
    rules, events = (up, h.up) if after > before else (down, h.down)
    longest = max([p["periodSeconds"] for p in rules.get("policies") or []] or [0])
    for e in events:
        if e.at <= now - longest:
            e.outdated = True
    new = ScaleEvent(abs(after - before), now)
    for i, e in enumerate(events):
        if e.outdated:
            events[i] = new
            return
    events.append(new)
