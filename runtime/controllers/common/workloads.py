"""Helpers every workload controller shares: pod predicates (active, ready, available,
terminating), pods from templates, owner lookups and RFC 3339 times.

Pure functions over dicts. Must never do I/O, read a clock, or mutate its inputs
(objects from informer caches are shared): everything returned is a fresh copy.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Iterable, Mapping

Obj = dict[str, Any]

UTC = dt.UTC


# -- metadata ---------------------------------------------------------------------------------
def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def labels_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("labels") or {}


def annotations_of(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return meta(obj).get("annotations") or {}


def controller_uid(obj: Mapping[str, Any]) -> str | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def is_terminating(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


# -- pods -----------------------------------------------------------------------------------
def phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_finished(pod: Mapping[str, Any]) -> bool:
    return phase(pod) in ("Succeeded", "Failed")


def is_active(pod: Mapping[str, Any]) -> bool:
    """Upstream's IsPodActive: not finished and not being deleted."""
    return not is_finished(pod) and not is_terminating(pod)


def _condition(pod: Mapping[str, Any], type_: str) -> Mapping[str, Any] | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c  # type: ignore[no-any-return]
    return None


def is_ready(pod: Mapping[str, Any]) -> bool:
    c = _condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def is_running_and_ready(pod: Mapping[str, Any]) -> bool:
    return phase(pod) == "Running" and is_ready(pod)


def is_available(pod: Mapping[str, Any], min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready for at least min_ready_seconds (upstream podutil.IsPodAvailable)."""
    c = _condition(pod, "Ready")
    if c is None or c.get("status") != "True":
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time(c.get("lastTransitionTime"))
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) <= now


def available_in(pod: Mapping[str, Any], min_ready_seconds: int, now: dt.datetime) -> float | None:
    """Seconds until a ready pod becomes available; None if not ready or already available."""
    c = _condition(pod, "Ready")
    if c is None or c.get("status") != "True" or min_ready_seconds <= 0:
        return None
    since = parse_time(c.get("lastTransitionTime"))
    if since is None:
        return None
    left = (since + dt.timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return left if left > 0 else None


def restart_count(pod: Mapping[str, Any]) -> int:
    st = pod.get("status") or {}
    statuses = list(st.get("initContainerStatuses") or []) + list(st.get("containerStatuses") or [])
    return sum(int(s.get("restartCount") or 0) for s in statuses)


def pod_from_template(template: Mapping[str, Any], owner_ref: Obj, namespace: str, *,
                      name: str | None = None, generate_name: str | None = None) -> Obj:
    """A new pod object from a PodTemplateSpec, owned by owner_ref (a deep copy)."""
    tmeta = template.get("metadata") or {}
    md: Obj = {"namespace": namespace, "ownerReferences": [copy.deepcopy(owner_ref)]}
    for f in ("labels", "annotations", "finalizers"):
        if tmeta.get(f):
            md[f] = copy.deepcopy(tmeta[f])
    if name:
        md["name"] = name
    if generate_name:
        md["generateName"] = generate_name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def by_creation(objs: Iterable[Obj]) -> list[Obj]:
    """Oldest first, name as the tie-breaker."""
    return sorted(objs, key=lambda o: (meta(o).get("creationTimestamp") or "",
                                       meta(o).get("name", "")))


# -- time -----------------------------------------------------------------------------------
def parse_time(s: Any) -> dt.datetime | None:
    if not s or not isinstance(s, str):
        return None
    try:
        t = dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def fmt_time(t: dt.datetime) -> str:
    """RFC 3339 in UTC at second precision, as metav1.Time serialises."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def int_or_percent(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    s = str(value)
    if s.endswith("%"):
        pct = int(s[:-1])
        scaled = total * pct
        return -(-scaled // 100) if round_up else scaled // 100
    return int(s)
