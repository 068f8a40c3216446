"""Pod predicates (upstream pkg/api/v1/pod and controller_utils): phase, active,
ready, available after minReadySeconds, restarts; and a new pod from a PodTemplateSpec.

Pure functions over dicts. They must never do I/O, read a clock (the caller passes
`now`), or mutate their inputs: everything returned is a fresh copy.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Mapping

from runtime.util.meta import is_terminating
from runtime.util.times import parse_time

Obj = dict[str, Any]
Pod = Mapping[str, Any]


def phase(pod: Pod) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_finished(pod: Pod) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Pod) -> bool:
    """Upstream's IsPodActive: not finished and not being deleted."""
    return not is_finished(pod) and not is_terminating(pod)


def condition(pod: Pod, type_: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def is_ready(pod: Pod) -> bool:
    c = condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_running_and_ready(pod: Pod) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def ready_since(pod: Pod) -> dt.datetime | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime)."""
    c = condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_available(pod: Pod, min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready for more than minReadySeconds (upstream podutil.IsPodAvailable)."""
    if not is_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) < now


def available_in(pod: Pod, min_ready_seconds: int, now: dt.datetime) -> float | None:
    """Seconds until a ready pod becomes available; None if not ready or already available."""
    since = ready_since(pod)
    if since is None or min_ready_seconds <= 0:
        return None
    left = (since + dt.timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return left if left > 0 else None


def restart_count(pod: Pod) -> int:
    st = pod.get("status") or {}
    statuses = list(st.get("initContainerStatuses") or []) + list(st.get("containerStatuses") or [])
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def pod_from_template(template: Mapping[str, Any], owner_ref: Obj, namespace: str | None, *,
                      name: str | None = None, generate_name: str | None = None) -> Obj:
    """A new pod from a PodTemplateSpec (labels, annotations, finalizers, spec), owned by
    owner_ref (upstream GetPodFromTemplate); a deep copy."""
    tmeta = template.get("metadata") or {}
    md: Obj = {"ownerReferences": [copy.deepcopy(owner_ref)]}
    if namespace:
        md["namespace"] = namespace
    for f in ("labels", "annotations", "finalizers"):
        if tmeta.get(f):
            md[f] = copy.deepcopy(tmeta[f])
    if name:
        md["name"] = name
    if generate_name:
        md["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}
