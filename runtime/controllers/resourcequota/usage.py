"""What the objects of a namespace use, per quota resource name: the recount the quota
controller writes to status.used.

The rules are upstream's quota evaluators: `count/<resource>[.<group>]` counts objects;
`pods` and the compute names (cpu, requests.*, limits.*) count pods that have not
finished (nor outlived their deletion grace period), init containers by their maximum;
`services.nodeports`/`services.loadbalancers` and `requests.storage` come from Services
and claims. Pure functions over lists of dicts; a quantity is a Decimal here and gets its
text form from `quantity_text`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Iterable

from runtime.scheduler.quantity import parse

Obj = dict[str, Any]
Totals = dict[str, Decimal]

LEGACY_NAMES = {"pods": "pods", "services": "services", "secrets": "secrets",
                "configmaps": "configmaps", "replicationcontrollers": "replicationcontrollers",
                "resourcequotas": "resourcequotas",
                "persistentvolumeclaims": "persistentvolumeclaims"}
_COMPUTE = ("cpu", "memory", "ephemeral-storage")
_UNITS_2 = ((60, "Ei"), (50, "Pi"), (40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"))
_UNITS_10 = ((18, "E"), (15, "P"), (12, "T"), (9, "G"), (6, "M"), (3, "k"), (0, ""),
             (-3, "m"), (-6, "u"), (-9, "n"))


def resource_of(name: str) -> tuple[str, str]:
    """The (group, resource) whose objects a quota name is counted from."""
    if name.startswith("count/"):
        resource, _, group = name[len("count/"):].partition(".")
        return group, resource
    if name in LEGACY_NAMES:
        return "", LEGACY_NAMES[name]
    if name.startswith("services."):
        return "", "services"
    if name == "requests.storage" or ".storageclass.storage.k8s.io/" in name:
        return "", "persistentvolumeclaims"
    return "", "pods"


def count(objects: Iterable[Obj], now: dt.datetime) -> Totals:
    """Usage of a list of pods, Services, claims or other objects of one resource."""
    total: Totals = {}
    for o in objects:
        for k, v in _pod_cost(o, now).items() if o.get("kind") == "Pod" else \
                _service_cost(o).items() if o.get("kind") == "Service" else \
                _claim_cost(o).items() if o.get("kind") == "PersistentVolumeClaim" else ():
            total[k] = total.get(k, Decimal(0)) + v
    return total


def _finished(pod: Obj, now: dt.datetime) -> bool:
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    meta = pod["metadata"]
    if meta.get("deletionTimestamp") and meta.get("deletionGracePeriodSeconds") is not None:
        deadline = dt.datetime.fromisoformat(meta["deletionTimestamp"].replace("Z", "+00:00"))
        return now > deadline + dt.timedelta(seconds=int(meta["deletionGracePeriodSeconds"]))
    return False


def _sum_resources(containers: list[Obj], which: str, *, floor: Totals | None = None) -> Totals:
    out: Totals = dict(floor or {})
    for c in containers:
        for k, v in ((c.get("resources") or {}).get(which) or {}).items():
            out[k] = (max if floor is not None else _plus)(out.get(k, Decimal(0)), parse(v))
    return out


def _plus(a: Decimal, b: Decimal) -> Decimal:
    return a + b


def _pod_cost(pod: Obj, now: dt.datetime) -> Totals:
    if _finished(pod, now):
        return {}
    spec = pod.get("spec") or {}
    cost: Totals = {"pods": Decimal(1)}
    for which in ("requests", "limits"):
        amounts = _sum_resources(spec.get("containers") or [], which)
        amounts = _sum_resources(spec.get("initContainers") or [], which, floor=amounts)
        if which == "requests" or amounts:
            for k, v in (spec.get("overhead") or {}).items():
                amounts[k] = amounts.get(k, Decimal(0)) + parse(v)
        for k, v in amounts.items():
            if k in _COMPUTE or k.startswith("hugepages-") or (
                    which == "requests" and "/" in k and not k.startswith("kubernetes.io/")):
                cost[f"{which}.{k}"] = v
                if which == "requests" and "/" not in k:
                    cost[k] = v
    return cost


def _service_cost(svc: Obj) -> Totals:
    spec = svc.get("spec") or {}
    ports, kind = spec.get("ports") or [], spec.get("type") or "ClusterIP"
    if kind == "NodePort":
        return {"services.nodeports": Decimal(len(ports))}
    if kind != "LoadBalancer":
        return {}
    with_node_port = len(ports) if spec.get("allocateLoadBalancerNodePorts") is not False \
        else len([p for p in ports if p.get("nodePort")])
    return {"services.nodeports": Decimal(with_node_port),
            "services.loadbalancers": Decimal(1)}


def _claim_cost(claim: Obj) -> Totals:
    spec = claim.get("spec") or {}
    size = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    cls = spec.get("storageClassName")
    cost: Totals = {} if size is None else {"requests.storage": parse(size)}
    if cls:
        cost[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = Decimal(1)
        if size is not None:
            cost[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = parse(size)
    return cost


def quantity_text(amount: Decimal, like: str) -> str:
    """`amount` written as upstream writes a Quantity, in binary units when the hard limit
    it is measured against (`like`) uses them."""
    if not amount:
        return "0"
    if like.endswith("i") and amount == int(amount):
        whole = int(amount)
        unit = next(((s, 2 ** p) for p, s in _UNITS_2 if whole % 2 ** p == 0), ("", 1))
        return f"{whole // unit[1]}{unit[0]}"
    for power, suffix in _UNITS_10:
        n = amount / Decimal(10) ** power
        if n == int(n):
            return f"{int(n)}{suffix}"
    return f"{int((amount * 10 ** 9).to_integral_value(rounding='ROUND_CEILING'))}n"
