"""LimitRanger admission: the namespace's LimitRanges fill in a new pod's missing
container requests and limits (type Container: `defaultRequest`, `default`), then bound
containers, pods and claims by `min`, `max` and `maxLimitRequestRatio`.

As upstream: defaults are applied on pod create only (the containers of a pod never
change afterwards), each defaulted container is noted in the pod's
`kubernetes.io/limit-ranger` annotation, and a violation is 403 Forbidden naming every
bound broken, in upstream's words. Claims are checked on create and update. Reads the
LimitRanges through the store; never writes anything but the object being admitted.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kapi import admission
from kapi.admission import resourcelist as rl
from kapi.admission.refuse import forbidden
from kapi.meta.resources import Resource, Scheme
from kapi.registry.store import ListOptions

Obj = dict[str, Any]
ANNOTATION = "kubernetes.io/limit-ranger"


def _handles(r: Resource, op: str) -> str:
    """'pods', 'persistentvolumeclaims' or '' (not ours)."""
    if r.group or admission.current().subresource:
        return ""
    if r.resource == "pods" and op == "CREATE":
        return "pods"
    if r.resource == "persistentvolumeclaims" and op in ("CREATE", "UPDATE"):
        return "persistentvolumeclaims"
    return ""


class LimitRanger:
    """Two steps: `default` (mutating admission) and `check` (validating admission)."""

    def __init__(self, scheme: Scheme) -> None:
        ranges = scheme.get("", "v1", "limitranges")
        assert ranges is not None
        self.ranges = ranges
        self.store: Any = None  # the generic store, set once it exists

    async def _items(self, new: Obj) -> list[Obj]:
        ns = (new.get("metadata") or {}).get("namespace")
        if not ns:
            return []
        out = await self.store.list(self.ranges, ns, ListOptions())
        return [i for lr in out["items"] for i in (lr.get("spec") or {}).get("limits") or []]

    async def default(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if _handles(r, op) != "pods":
            return
        requests: dict[str, Any] = {}
        limits: dict[str, Any] = {}
        for item in await self._items(new):
            if item.get("type") == "Container":
                requests.update(item.get("defaultRequest") or {})
                limits.update(item.get("default") or {})
        if not requests and not limits:
            return
        # mutating admission runs before validation: skip what is not shaped like a pod
        spec: Obj = new["spec"] if isinstance(new.get("spec"), dict) else {}
        notes = []
        for kind, key in (("container", "containers"), ("init container", "initContainers")):
            containers: list[Any] = spec[key] if isinstance(spec.get(key), list) else []
            for c in containers:
                if isinstance(c, dict) and isinstance(c.get("resources") or {}, dict):
                    notes += _fill(c, requests, limits, kind)
        annotations = (new.get("metadata") or {}).get("annotations")
        if notes and isinstance(annotations, (dict, type(None))):
            new["metadata"]["annotations"] = (annotations or {}) | {
                ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes)}

    async def check(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        which = _handles(r, op)
        if not which:
            return
        problems: list[str] = []
        for item in await self._items(new):
            kind = item.get("type")
            if which == "pods" and kind == "Container":
                spec = new.get("spec") or {}
                for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
                    res = c.get("resources") or {}
                    problems += _bounds(item, kind, res.get("requests"), res.get("limits"))
            elif which == "pods" and kind == "Pod":
                problems += _bounds(item, kind, *_pod_totals(new.get("spec") or {}))
            elif which == "persistentvolumeclaims" and kind == "PersistentVolumeClaim":
                asked = ((new.get("spec") or {}).get("resources") or {}).get("requests")
                problems += _bounds(item, kind, asked, None, claim=True)
        if problems:
            why = problems[0] if len(problems) == 1 else f"[{', '.join(problems)}]"
            raise forbidden(r, new, why)


def _fill(c: Obj, requests: dict[str, Any], limits: dict[str, Any], kind: str) -> list[str]:
    res = c.get("resources")
    if res is None:
        res = c["resources"] = {}
    notes = []
    for which, defaults, word in (("requests", requests, "request"), ("limits", limits, "limit")):
        if res.get(which) is not None and not isinstance(res[which], dict):
            continue  # validation refuses it as it is
        have: Obj = res.get(which) or {}
        added = sorted(k for k in defaults if k not in have)
        if added:
            res[which] = have | {k: defaults[k] for k in added}
            notes.append(f"{', '.join(added)} {word} for {kind} {c.get('name', '')}")
    return notes


def _pod_totals(spec: Obj) -> tuple[dict[str, Any], dict[str, Any]]:
    """A pod's requests and limits: containers summed, init containers as a floor."""
    out = []
    for which in ("requests", "limits"):
        total: rl.ResourceList = {}
        for c in spec.get("containers") or []:
            total = rl.add(total, rl.parse_list((c.get("resources") or {}).get(which)))
        for c in spec.get("initContainers") or []:
            for k, v in rl.parse_list((c.get("resources") or {}).get(which)).items():
                if v.value > total.get(k, rl.ZERO).value:
                    total[k] = v
        out.append({k: str(v) for k, v in total.items()})
    return out[0], out[1]


def _bounds(item: Obj, kind: str, requests: Any, limits: Any, *, claim: bool = False
            ) -> list[str]:
    requests = requests if isinstance(requests, dict) else {}
    limits = limits if isinstance(limits, dict) else {}
    out = []
    for name, bound in (item.get("min") or {}).items():
        out += _min(kind, name, rl.q(bound), requests, limits)
    for name, bound in (item.get("max") or {}).items():
        out += _max(kind, name, rl.q(bound), requests, requests if claim else limits, claim)
    if not claim:
        for name, bound in (item.get("maxLimitRequestRatio") or {}).items():
            out += _ratio(kind, name, rl.q(bound), requests, limits)
    return out


def _min(kind: str, name: str, bound: rl.Q, requests: Obj, limits: Obj) -> list[str]:
    head = f"minimum {name} usage per {kind} is {bound}"
    if name not in requests:
        return [f"{head}.  No request is specified"]
    if rl.q(requests[name]).value < bound.value:
        return [f"{head}, but request is {rl.q(requests[name])}"]
    if name in limits and rl.q(limits[name]).value < bound.value:
        return [f"{head}, but limit is {rl.q(limits[name])}"]
    return []


def _max(kind: str, name: str, bound: rl.Q, requests: Obj, limits: Obj,
         claim: bool) -> list[str]:
    head = f"maximum {name} usage per {kind} is {bound}"
    word = "request" if claim else "limit"
    if name not in limits:
        return [f"{head}.  No {word} is specified"]
    if rl.q(limits[name]).value > bound.value:
        return [f"{head}, but {word} is {rl.q(limits[name])}"]
    if name in requests and rl.q(requests[name]).value > bound.value:
        return [f"{head}, but request is {rl.q(requests[name])}"]
    return []


def _ratio(kind: str, name: str, bound: rl.Q, requests: Obj, limits: Obj) -> list[str]:
    head = f"{name} max limit to request ratio per {kind} is {bound}"
    req = rl.q(requests[name]).value if name in requests else Decimal(0)
    lim = rl.q(limits[name]).value if name in limits else Decimal(0)
    if not req:
        return [f"{head}, but no request is specified or request is 0"]
    if not lim:
        return [f"{head}, but no limit is specified or limit is 0"]
    ratio = lim / req
    if ratio > bound.value:
        return [f"{head}, but provided ratio is {float(ratio):f}"]
    return []
