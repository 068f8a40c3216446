"""A ReplicaSet's status from its pods (upstream's replica_set_utils.go calculateStatus).

replicas counts the active pods the ReplicaSet owns; fullyLabeledReplicas those whose
labels include every template label; readyReplicas the ready ones; availableReplicas
those ready for at least minReadySeconds. A failed create/delete sets the condition
ReplicaFailure (reason FailedCreate / FailedDelete); success clears it.

Pure functions over dicts; must never do I/O, read a clock or mutate inputs.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Sequence

from runtime.util.conditions import get_condition, remove_condition, set_condition
from runtime.util.pods import is_available, is_ready
from runtime.util.times import format_time

Obj = dict[str, Any]

REPLICA_FAILURE = "ReplicaFailure"


def replicas_of(obj: Obj) -> int:
    r = (obj.get("spec") or {}).get("replicas")
    return 1 if r is None else int(r)


def calculate_status(rs: Obj, pods: Sequence[Obj], manage_error: Exception | None,
                     now: dt.datetime) -> Obj:
    """The new status of `rs` given the active pods it owns."""
    spec = rs.get("spec") or {}
    status = copy.deepcopy(rs.get("status") or {})
    template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    min_ready = int(spec.get("minReadySeconds") or 0)
    fully = sum(1 for p in pods if _has_labels(p, template_labels))
    ready = [p for p in pods if is_ready(p)]
    available = sum(1 for p in ready if is_available(p, min_ready, now))
    failure = get_condition(status, REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = len(pods) - replicas_of(rs)
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else ""
        set_condition(status, {"type": REPLICA_FAILURE, "status": "True",
                               "lastTransitionTime": format_time(now), "reason": reason,
                               "message": str(getattr(manage_error, "message", "") or manage_error)})
    elif manage_error is None and failure is not None:
        remove_condition(status, REPLICA_FAILURE)
    status.update(replicas=len(pods), fullyLabeledReplicas=fully, readyReplicas=len(ready),
                  availableReplicas=available)
    return status


def _has_labels(pod: Obj, wanted: dict[str, str]) -> bool:
    labels = pod["metadata"].get("labels") or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def status_unchanged(rs: Obj, new: Obj) -> bool:
    """Upstream's steady state: counts, conditions and observedGeneration all current."""
    old = rs.get("status") or {}
    counts = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return (all(int(old.get(k) or 0) == int(new.get(k) or 0) for k in counts)
            and rs["metadata"].get("generation", 0) == old.get("observedGeneration", 0)
            and (old.get("conditions") or []) == (new.get("conditions") or []))
