"""The arithmetic of a PodDisruptionBudget's status (upstream
pkg/controller/disruption/disruption.go and pkg/apis/policy/helper):

- expectedPods: with an integer minAvailable, the number of selected pods; otherwise the
  sum of the scales of the pods' controllers (each counted once);
- desiredHealthy: minAvailable (a percentage of expectedPods, rounded up), or
  expectedPods minus maxUnavailable (a percentage rounded up), never below zero;
- currentHealthy: selected pods that are Ready, not being deleted, and not recently
  evicted (in disruptedPods less than DELETION_TIMEOUT ago);
- disruptionsAllowed: currentHealthy - desiredHealthy, and 0 while expectedPods is 0;
- the DisruptionAllowed condition: True/SufficientPods or False/InsufficientPods, and
  False/SyncFailed when the status cannot be computed (the fail-safe).

Pure functions over dicts; they must never do I/O, read a clock (callers pass `now`),
or mutate their inputs.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from runtime.util.intorpercent import scaled_value
from runtime.util.meta import controller_ref, is_terminating, meta
from runtime.util.pods import is_ready
from runtime.util.times import format_time, parse_time

Obj = dict[str, Any]

DELETION_TIMEOUT = dt.timedelta(minutes=2)  # an evicted pod not deleted by then counts again
DISRUPTION_ALLOWED = "DisruptionAllowed"
SUFFICIENT_PODS = "SufficientPods"
INSUFFICIENT_PODS = "InsufficientPods"
SYNC_FAILED = "SyncFailed"

# the controller of a pod -> (the controller's uid, its scale); None when unknown
ScaleOf = Callable[[Mapping[str, Any]], "tuple[str, int] | None"]


@dataclass(frozen=True)
class Counts:
    expected: int
    desired: int
    unmanaged: tuple[str, ...] = ()  # selected pods without a controller


def expected_scale(pods: list[Obj], scale_of: ScaleOf) -> tuple[int, tuple[str, ...]]:
    """Sum of the scales of the pods' controllers; the names of pods without one.
    A pod whose controller is of no known kind (or gone) is an error, as upstream."""
    scales: dict[str, int] = {}
    unmanaged: list[str] = []
    for pod in pods:
        ref = controller_ref(pod)
        if ref is None:
            unmanaged.append(meta(pod).get("name", ""))
            continue
        if ref.get("uid") in scales:
            continue
        found = scale_of(pod)
        if found is None:
            raise LookupError(f'found no controllers for pod "{meta(pod).get("name")}"')
        scales[found[0]] = found[1]
    return sum(scales.values()), tuple(unmanaged)


def expected_counts(pdb: Mapping[str, Any], pods: list[Obj], scale_of: ScaleOf) -> Counts:
    spec = pdb.get("spec") or {}
    if spec.get("maxUnavailable") is not None:
        expected, unmanaged = expected_scale(pods, scale_of)
        unavailable = scaled_value(spec["maxUnavailable"], expected, True)
        return Counts(expected, max(expected - unavailable, 0), unmanaged)
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int):
        return Counts(len(pods), min_available)
    if isinstance(min_available, str):
        expected, unmanaged = expected_scale(pods, scale_of)
        return Counts(expected, scaled_value(min_available, expected, True), unmanaged)
    return Counts(0, 0)  # neither is set: validation forbids it


def disrupted_pods(pdb: Mapping[str, Any], pods: list[Obj], now: dt.datetime
                   ) -> tuple[dict[str, str], dt.datetime | None, list[str]]:
    """(disruptedPods still pending deletion, when to look again, pods evicted more than
    DELETION_TIMEOUT ago that are still not being deleted)."""
    recorded = (pdb.get("status") or {}).get("disruptedPods") or {}
    kept: dict[str, str] = {}
    recheck: dt.datetime | None = None
    overdue: list[str] = []
    for pod in pods:
        name = meta(pod).get("name", "")
        if is_terminating(pod) or name not in recorded:
            continue
        at = parse_time(recorded[name])
        if at is None:
            continue
        deadline = at + DELETION_TIMEOUT
        if deadline < now:
            overdue.append(name)
        else:
            recheck = deadline if recheck is None or deadline < recheck else recheck
            kept[name] = recorded[name]
    return kept, recheck, overdue


def current_healthy(pods: list[Obj], disrupted: Mapping[str, str], now: dt.datetime) -> int:
    healthy = 0
    for pod in pods:
        if is_terminating(pod):
            continue
        at = parse_time(disrupted.get(meta(pod).get("name", "")))
        if at is not None and at + DELETION_TIMEOUT > now:
            continue  # evicted: about to go
        healthy += is_ready(pod)
    return healthy


def set_condition(conditions: list[Obj], cond: Obj, now: dt.datetime) -> list[Obj]:
    """apimeta.SetStatusCondition: replace the condition of that type, keeping its
    lastTransitionTime unless the status changes."""
    out = [copy.deepcopy(c) for c in conditions if c.get("type") != cond["type"]]
    old = next((c for c in conditions if c.get("type") == cond["type"]), None)
    new = dict(cond)
    if old is not None and old.get("status") == cond["status"] and old.get("lastTransitionTime"):
        new["lastTransitionTime"] = old["lastTransitionTime"]
    else:
        new["lastTransitionTime"] = format_time(now)
    return out + [new]


def _allowed_condition(allowed: int, generation: int) -> Obj:
    ok = allowed > 0
    return {"type": DISRUPTION_ALLOWED, "status": "True" if ok else "False",
            "reason": SUFFICIENT_PODS if ok else INSUFFICIENT_PODS, "message": "",
            "observedGeneration": generation}


def _condition_up_to_date(status: Mapping[str, Any], generation: int) -> bool:
    """pdbhelper.ConditionsAreUpToDate."""
    cond = next((c for c in status.get("conditions") or []
                 if c.get("type") == DISRUPTION_ALLOWED), None)
    if cond is None or status.get("observedGeneration") != generation:
        return False
    want = _allowed_condition(int(status.get("disruptionsAllowed") or 0), generation)
    return bool(cond.get("status") == want["status"] and cond.get("reason") == want["reason"])


def new_status(pdb: Mapping[str, Any], healthy: int, counts: Counts,
               disrupted: Mapping[str, str], now: dt.datetime) -> Obj | None:
    """The status to write, or None when the current one already says all this."""
    allowed = healthy - counts.desired
    if counts.expected <= 0 or allowed <= 0:
        allowed = 0  # a budget that selects nothing yet stays safe when pods appear
    generation = int(meta(pdb).get("generation") or 1)
    old = pdb.get("status") or {}
    if (old.get("currentHealthy") == healthy and old.get("desiredHealthy") == counts.desired
            and old.get("expectedPods") == counts.expected
            and old.get("disruptionsAllowed") == allowed
            and (old.get("disruptedPods") or {}) == dict(disrupted)
            and _condition_up_to_date(old, generation)):
        return None
    status: Obj = {"currentHealthy": healthy, "desiredHealthy": counts.desired,
                   "expectedPods": counts.expected, "disruptionsAllowed": allowed,
                   "observedGeneration": generation}
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status["conditions"] = set_condition(list(old.get("conditions") or []),
                                         _allowed_condition(allowed, generation), now)
    return status


def fail_safe_status(pdb: Mapping[str, Any], error: str, now: dt.datetime) -> Obj:
    """No disruption allowed, and why (upstream's failSafe)."""
    status = copy.deepcopy(dict(pdb.get("status") or {}))
    status["disruptionsAllowed"] = 0
    cond = {"type": DISRUPTION_ALLOWED, "status": "False", "reason": SYNC_FAILED,
            "message": error, "observedGeneration": status.get("observedGeneration") or 0}
    status["conditions"] = set_condition(list(status.get("conditions") or []), cond, now)
    return status


# -- stale DisruptionTarget conditions ------------------------------------------------------
STALE_DISRUPTION_TIMEOUT = dt.timedelta(minutes=2)  # upstream's stalePodDisruptionTimeout
TERMINATION_BY_KUBELET = "TerminationByKubelet"


def stale_disruption_wait(pod: Mapping[str, Any], now: dt.datetime) -> float | None:
    """Seconds until a pod's DisruptionTarget condition counts as stale (0: now), or None
    when there is nothing to clean up: no True condition, a pod being deleted or finished,
    or a condition the kubelet set (those may wait arbitrarily long for the deletion)."""
    if meta(pod).get("deletionTimestamp"):
        return None
    status = pod.get("status") or {}
    cond = next((c for c in status.get("conditions") or []
                 if c.get("type") == "DisruptionTarget"), None)
    if cond is None or cond.get("status") != "True" or \
            cond.get("reason") == TERMINATION_BY_KUBELET or \
            status.get("phase") in ("Succeeded", "Failed"):
        return None
    since = parse_time(cond.get("lastTransitionTime")) or now
    return max((since + STALE_DISRUPTION_TIMEOUT - now).total_seconds(), 0.0)
