"""Which pods a ReplicaSet deletes first when it scales down (upstream's
ActivePodsWithRanks and getPodsToDelete in pkg/controller).

Order, earliest deleted first: unscheduled < scheduled; Pending < Unknown < Running;
not ready < ready; lower controller.kubernetes.io/pod-deletion-cost; more ready
siblings on the same node; ready more recently (logarithmic buckets); more container
restarts; created more recently (logarithmic buckets); then by UID.

Pure functions over dicts; must never do I/O, read a clock or mutate the pods.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any, Sequence

from runtime.util.pods import is_active, is_ready, ready_since
from runtime.util.times import parse_time

Obj = dict[str, Any]

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}


def _node(p: Obj) -> str:
    return str((p.get("spec") or {}).get("nodeName") or "")


def _cost(p: Obj) -> int:
    try:
        return int((p["metadata"].get("annotations") or {}).get(DELETION_COST, 0))
    except (TypeError, ValueError):
        return 0


def _restarts(p: Obj) -> tuple[int, int]:
    """(max restarts of sidecar init containers, max restarts of regular containers)."""
    status = p.get("status") or {}
    regular = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []),
                  default=0)
    sidecars = {c.get("name") for c in (p.get("spec") or {}).get("initContainers") or []
                if c.get("restartPolicy") == "Always"}
    side = max((c.get("restartCount", 0) for c in status.get("initContainerStatuses") or []
                if c.get("name") in sidecars), default=0)
    return side, regular


def _log_rank(t: dt.datetime | None, now: dt.datetime) -> int:
    if t is None:
        return -1
    ns = (now - t) / dt.timedelta(microseconds=1) * 1000
    return int(math.log2(ns)) if ns > 0 else -1


def _time_cmp(ti: dt.datetime | None, tj: dt.datetime | None, now: dt.datetime | None) -> int:
    """<0 when the pod at ti goes first: a missing time, else the more recent."""
    if ti is None or tj is None:
        return (0 if ti is tj else -1 if ti is None else 1)
    if now is None:
        return -1 if ti > tj else 1 if ti < tj else 0
    return _log_rank(ti, now) - _log_rank(tj, now)


def _compare(a: tuple[Obj, int], b: tuple[Obj, int], now: dt.datetime | None) -> int:
    (pi, ri), (pj, rj) = a, b
    ni, nj = _node(pi), _node(pj)
    if ni != nj and (not ni or not nj):
        return -1 if not ni else 1
    oi = _PHASE_ORDINAL.get((pi.get("status") or {}).get("phase", ""), 0)
    oj = _PHASE_ORDINAL.get((pj.get("status") or {}).get("phase", ""), 0)
    if oi != oj:
        return oi - oj
    if is_ready(pi) != is_ready(pj):
        return -1 if not is_ready(pi) else 1
    if _cost(pi) != _cost(pj):
        return _cost(pi) - _cost(pj)
    if ri != rj:
        return rj - ri
    return _compare_times(pi, pj, now)


def _compare_times(pi: Obj, pj: Obj, now: dt.datetime | None) -> int:
    if is_ready(pi) and is_ready(pj):
        ti, tj = ready_since(pi), ready_since(pj)
        if ti != tj:
            c = _time_cmp(ti, tj, now)
            if c:
                return c
            return _uid_cmp(pi, pj)
    ri, rj = _restarts(pi), _restarts(pj)
    if ri != rj:
        return -1 if ri > rj else 1
    ci = parse_time(pi["metadata"].get("creationTimestamp"))
    cj = parse_time(pj["metadata"].get("creationTimestamp"))
    if ci != cj:
        c = _time_cmp(ci, cj, now)
        return c if c else _uid_cmp(pi, pj)
    return 0


def _uid_cmp(pi: Obj, pj: Obj) -> int:
    ui, uj = pi["metadata"].get("uid", ""), pj["metadata"].get("uid", "")
    return -1 if ui < uj else 1 if ui > uj else 0


def rank_by_related_on_same_node(pods: Sequence[Obj], related: Sequence[Obj]) -> list[int]:
    """For each pod, how many active related pods share its node."""
    on_node: dict[str, int] = {}
    for p in related:
        if is_active(p):
            on_node[_node(p)] = on_node.get(_node(p), 0) + 1
    return [on_node.get(_node(p), 0) for p in pods]


def sort_for_deletion(pods: Sequence[Obj], ranks: Sequence[int],
                      now: dt.datetime | None) -> list[Obj]:
    """The pods in deletion order (a stable sort, as upstream's sort.Sort is not)."""
    def cmp(a: tuple[Obj, int], b: tuple[Obj, int]) -> int:
        return _compare(a, b, now)
    ranked: list[tuple[Obj, int]] = list(zip(pods, ranks, strict=True))
    return [p for p, _ in sorted(ranked, key=functools.cmp_to_key(cmp))]


def pods_to_delete(pods: Sequence[Obj], related: Sequence[Obj], diff: int,
                   now: dt.datetime | None) -> list[Obj]:
    """The `diff` pods to delete first."""
    if diff < len(pods):
        pods = sort_for_deletion(pods, rank_by_related_on_same_node(pods, related), now)
    return list(pods[:diff])
