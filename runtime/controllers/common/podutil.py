"""Pod predicates the ReplicaSet and Deployment controllers share: active, ready,
available (honouring minReadySeconds), and RFC 3339 times.

Pure functions over dicts, as upstream's pkg/api/v1/pod and controller_utils. They
must never do I/O, read a clock (the caller passes `now`), or mutate their inputs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

Obj = dict[str, Any]

UTC = dt.UTC
EPOCH = dt.datetime(1, 1, 1, tzinfo=UTC)  # Go's zero time: "unset" sorts first


def parse_time(value: str | None) -> dt.datetime | None:
    """An RFC 3339 timestamp as an aware datetime; None when absent or malformed."""
    if not value:
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def format_time(t: dt.datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_pod_active(pod: Obj) -> bool:
    """Not terminal and not being deleted (upstream's controller.IsPodActive)."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not pod["metadata"].get("deletionTimestamp")


def ready_condition(pod: Obj) -> Obj | None:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return c  # type: ignore[no-any-return]
    return None


def is_pod_ready(pod: Obj) -> bool:
    c = ready_condition(pod)
    return c is not None and c.get("status") == "True"


def ready_since(pod: Obj) -> dt.datetime | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime)."""
    c = ready_condition(pod)
    if c is None or c.get("status") != "True":
        return None
    return parse_time(c.get("lastTransitionTime"))


def is_pod_available(pod: Obj, min_ready_seconds: int, now: dt.datetime) -> bool:
    """Ready for at least minReadySeconds (upstream's podutil.IsPodAvailable)."""
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    return since is not None and since + dt.timedelta(seconds=min_ready_seconds) < now


def created_at(obj: Obj) -> dt.datetime:
    return parse_time(obj.get("metadata", {}).get("creationTimestamp")) or EPOCH


def uid_of(obj: Obj) -> str:
    return str(obj.get("metadata", {}).get("uid", ""))
