"""A Deployment's status and conditions (upstream sync.go calculateStatus, progress.go
and the condition helpers of deployment_util.go).

Counts come from the Deployment's ReplicaSets; Available is True (reason
MinimumReplicasAvailable) while availableReplicas >= replicas - maxUnavailable;
Progressing follows a rollout: NewReplicaSetCreated / FoundNewReplicaSet /
ReplicaSetUpdated while it moves, NewReplicaSetAvailable when complete,
ProgressDeadlineExceeded after progressDeadlineSeconds without progress, and
DeploymentPaused / DeploymentResumed around pauses.

Pure functions over dicts; `now` is always passed in. They must never do I/O or read a
clock; `rollout_status` returns a new status and never changes the Deployment.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Sequence

from runtime.controllers.deployment.math import max_unavailable, replicas, total_spec, total_status
from runtime.util.conditions import get_condition, remove_condition, set_condition
from runtime.util.times import format_time, parse_time

Obj = dict[str, Any]

AVAILABLE, PROGRESSING, REPLICA_FAILURE = "Available", "Progressing", "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
FAILED_RS_CREATE = "ReplicaSetCreateError"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NO_DEADLINE = 2**31 - 1  # progressDeadlineSeconds == MaxInt32 means "no deadline"


def new_condition(type_: str, status: str, reason: str, message: str, now: dt.datetime) -> Obj:
    t = format_time(now)
    return {"type": type_, "status": status, "lastUpdateTime": t, "lastTransitionTime": t,
            "reason": reason, "message": message}


def has_progress_deadline(d: Obj) -> bool:
    pds = (d.get("spec") or {}).get("progressDeadlineSeconds")
    return pds is not None and pds != NO_DEADLINE


def calculate_status(all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj,
                     now: dt.datetime) -> Obj:
    available = total_status(all_rss, "availableReplicas")
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total_spec(all_rss) - available, 0),
    }
    old = d.get("status") or {}
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        status["conditions"] = copy.deepcopy(old["conditions"])
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE,
                                             "Deployment has minimum availability.", now))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                             "Deployment does not have minimum availability.", now))
    return status


def complete(d: Obj, status: Obj) -> bool:
    n = replicas(d)
    return bool(status.get("updatedReplicas", 0) == n and status.get("replicas", 0) == n
            and status.get("availableReplicas", 0) == n
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))


def progressing(d: Obj, new: Obj) -> bool:
    old = d.get("status") or {}

    def g(s: Obj, k: str) -> int:
        return int(s.get(k) or 0)
    return (g(new, "updatedReplicas") > g(old, "updatedReplicas")
            or g(new, "replicas") - g(new, "updatedReplicas")
            < g(old, "replicas") - g(old, "updatedReplicas")
            or g(new, "readyReplicas") > g(old, "readyReplicas")
            or g(new, "availableReplicas") > g(old, "availableReplicas"))


def timed_out(d: Obj, status: Obj, now: dt.datetime) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = parse_time(cond.get("lastUpdateTime"))
    deadline = dt.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"]))
    return since is not None and since + deadline < now


def _rs_says(new_rs: Obj | None, d: Obj, what: str) -> str:
    if new_rs is not None:
        return f'ReplicaSet "{new_rs["metadata"]["name"]}" {what}.'
    return f'Deployment "{d["metadata"]["name"]}" {what}.'


def rollout_status(all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj,
                   now: dt.datetime) -> Obj:
    """The status syncRolloutStatus writes: counts, Available, and Progressing."""
    status = calculate_status(all_rss, new_rs, d, now)
    if not has_progress_deadline(d):
        remove_condition(status, PROGRESSING)
    cur = get_condition(d.get("status") or {}, PROGRESSING)
    done_before = (status["replicas"] == status["updatedReplicas"] and cur is not None
                   and cur.get("reason") == NEW_RS_AVAILABLE)
    if has_progress_deadline(d) and not done_before:
        if complete(d, status):
            set_condition(status, new_condition(
                PROGRESSING, "True", NEW_RS_AVAILABLE,
                _rs_says(new_rs, d, "has successfully progressed"), now))
        elif progressing(d, status):
            cond = new_condition(PROGRESSING, "True", RS_UPDATED,
                                 _rs_says(new_rs, d, "is progressing"), now)
            if cur is not None:
                if cur.get("status") == "True":
                    cond["lastTransitionTime"] = cur.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)
            set_condition(status, cond)
        elif timed_out(d, status, now):
            set_condition(status, new_condition(
                PROGRESSING, "False", TIMED_OUT,
                _rs_says(new_rs, d, "has timed out progressing"), now))
    _replica_failure(status, all_rss, new_rs)
    return status


def _replica_failure(status: Obj, all_rss: Sequence[Obj | None], new_rs: Obj | None) -> None:
    """Move a ReplicaFailure condition of the ReplicaSets (the new one's first) up."""
    for group in ([new_rs], all_rss):
        for rs in group:
            for c in ((rs or {}).get("status") or {}).get("conditions") or []:
                if c.get("type") == REPLICA_FAILURE:
                    t = c.get("lastTransitionTime")
                    set_condition(status, {"type": REPLICA_FAILURE, "status": c.get("status"),
                                           "lastUpdateTime": t, "lastTransitionTime": t,
                                           "reason": c.get("reason"),
                                           "message": c.get("message")})
                    return
    remove_condition(status, REPLICA_FAILURE)


def requeue_after(d: Obj, status: Obj, now: dt.datetime) -> float | None:
    """When to look again for a stuck rollout's deadline (upstream requeueStuckDeployment)."""
    cur = get_condition(d.get("status") or {}, PROGRESSING)
    if not has_progress_deadline(d) or cur is None:
        return None
    if complete(d, status) or cur.get("reason") == TIMED_OUT:
        return None
    since = parse_time(cur.get("lastUpdateTime"))
    if since is None:
        return None
    after = (since + dt.timedelta(seconds=int(d["spec"]["progressDeadlineSeconds"])) - now)
    # Upstream requeues at once (rate limited) under a second; a second later is as good
    # and cannot spin.
    return max(after.total_seconds(), 0.0) + 1.0


def _significant(status: Obj) -> Obj:
    return {k: v for k, v in status.items() if v not in (None, 0, [], {})}


def same_status(a: Obj | None, b: Obj | None) -> bool:
    """Equal but for zero-valued fields (the API omits them, as Go's omitempty does)."""
    return _significant(a or {}) == _significant(b or {})
