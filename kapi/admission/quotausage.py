"""What one object costs in quota (upstream's quota evaluators), and whether a quota's
scopes cover it.

Every object costs `count/<resource>[.<group>]`; the kinds with legacy names
(pods, services, secrets, configmaps, replicationcontrollers, resourcequotas,
persistentvolumeclaims) also cost that name. A pod that is not finished costs `pods` and
its cpu, memory and ephemeral-storage requests and limits (init containers by their
maximum, plus overhead); a Service its node ports and load balancers; a claim its
requested storage. Pure functions over the v1 dict form.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from kapi.admission.resourcelist import ONE, Q, ResourceList, add, parse_list

Obj = dict[str, Any]

LEGACY = frozenset({"pods", "services", "secrets", "configmaps", "replicationcontrollers",
                    "resourcequotas", "persistentvolumeclaims"})
COMPUTE = ("cpu", "memory", "ephemeral-storage")
POD_NAMES = frozenset({"pods", "count/pods", *COMPUTE,
                       *(f"{w}.{c}" for w in ("requests", "limits") for c in COMPUTE)})
# quota on these makes every container say what it needs (upstream's validationSet)
MUST_SPECIFY = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu",
                          "limits.memory"})
POD_SCOPES = frozenset({"Terminating", "NotTerminating", "BestEffort", "NotBestEffort",
                        "PriorityClass"})


def count_name(resource: str, group: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def handles(resource: str, op: str, subresource: str) -> bool:
    """Which writes quota charges: creates, and updates of Services and claims (their
    type or size may grow)."""
    if subresource:
        return False
    return op == "CREATE" or (op == "UPDATE" and resource in (
        "services", "persistentvolumeclaims"))


def matching(resource: str, group: str, names: Any) -> list[str]:
    """Of a quota's resource names, those this kind is charged for."""
    own = {count_name(resource, group)} | ({resource} if resource in LEGACY and not group
                                           else set())
    if resource == "pods" and not group:
        return [n for n in names if n in POD_NAMES or n.startswith(
            ("hugepages-", "requests.hugepages-")) or _extended(n)]
    if resource == "services" and not group:
        own |= {"services.nodeports", "services.loadbalancers"}
    if resource == "persistentvolumeclaims" and not group:
        own |= {"requests.storage"} | {n for n in names if n.endswith(
            (".storageclass.storage.k8s.io/requests.storage",
             ".storageclass.storage.k8s.io/persistentvolumeclaims"))}
    return [n for n in names if n in own]


def _extended(name: str) -> bool:
    rest = name.removeprefix("requests.")
    return name.startswith("requests.") and "/" in rest and \
        not rest.startswith("kubernetes.io/")


def usage(resource: str, group: str, obj: Obj, now: dt.datetime) -> ResourceList:
    out: ResourceList = {count_name(resource, group): ONE}
    if group:
        return out
    if resource in LEGACY and resource != "pods":
        out[resource] = ONE
    if resource == "pods":
        return add(out, pod_usage(obj, now))
    if resource == "services":
        return add(out, _service_usage(obj))
    if resource == "persistentvolumeclaims":
        return add(out, _claim_usage(obj))
    return out


def pod_usage(pod: Obj, now: dt.datetime) -> ResourceList:
    if not charged(pod, now):
        return {}
    spec = pod.get("spec") or {}
    requests, limits = _pod_total(spec, "requests"), _pod_total(spec, "limits")
    out: ResourceList = {"pods": ONE}
    for name in COMPUTE:
        if name in requests:
            out[name] = out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            out[name] = out[f"requests.{name}"] = value
        elif "/" in name and not name.startswith("kubernetes.io/"):
            out[f"requests.{name}"] = value
    return out


def _pod_total(spec: Obj, which: str) -> ResourceList:
    """Containers summed, then each init container as a floor, plus overhead."""
    total: ResourceList = {}
    for c in spec.get("containers") or ():
        total = add(total, parse_list((c.get("resources") or {}).get(which)))
    for c in spec.get("initContainers") or ():
        for k, v in parse_list((c.get("resources") or {}).get(which)).items():
            if v.value > total.get(k, Q(Decimal(0))).value:
                total[k] = v
    if which == "requests" or total:
        total = add(total, parse_list(spec.get("overhead")))
    return total


def charged(pod: Obj, now: dt.datetime) -> bool:
    """A finished pod, or one past its deletion grace period, costs no compute."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return False
    meta = pod.get("metadata") or {}
    stamp, grace = meta.get("deletionTimestamp"), meta.get("deletionGracePeriodSeconds")
    if stamp and grace is not None:
        when = dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        if now > when + dt.timedelta(seconds=int(grace)):
            return False
    return True


def _service_usage(svc: Obj) -> ResourceList:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    kind = spec.get("type") or "ClusterIP"
    out: ResourceList = {}
    if kind == "NodePort":
        out["services.nodeports"] = Q(Decimal(len(ports)))
    elif kind == "LoadBalancer":
        n = len(ports) if spec.get("allocateLoadBalancerNodePorts") is not False else \
            sum(1 for p in ports if p.get("nodePort"))
        out["services.nodeports"] = Q(Decimal(n))
        out["services.loadbalancers"] = ONE
    return out


def _claim_usage(claim: Obj) -> ResourceList:
    spec = claim.get("spec") or {}
    storage = parse_list((spec.get("resources") or {}).get("requests")).get("storage")
    out: ResourceList = {}
    if storage is not None:
        out["requests.storage"] = storage
    cls = spec.get("storageClassName")
    if cls:
        out[f"{cls}.storageclass.storage.k8s.io/persistentvolumeclaims"] = ONE
        if storage is not None:
            out[f"{cls}.storageclass.storage.k8s.io/requests.storage"] = storage
    return out


# -- scopes -------------------------------------------------------------------------------
def scope_selectors(quota: Obj) -> list[Obj]:
    """spec.scopes and spec.scopeSelector as one list of requirements."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or ()]
    return out + list((spec.get("scopeSelector") or {}).get("matchExpressions") or ())


def matches_scopes(quota: Obj, resource: str, group: str, obj: Obj) -> bool:
    """Every scope must cover the object; only pods can be in a scope."""
    selectors = scope_selectors(quota)
    if not selectors:
        return True
    if resource != "pods" or group:
        return False
    return all(_pod_in_scope(s, obj) for s in selectors)


def _pod_in_scope(sel: Obj, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    name = sel.get("scopeName")
    terminating = isinstance(spec.get("activeDeadlineSeconds"), int) and \
        spec["activeDeadlineSeconds"] >= 0
    if name in ("Terminating", "NotTerminating"):
        return terminating == (name == "Terminating")
    if name in ("BestEffort", "NotBestEffort"):
        return best_effort(spec) == (name == "BestEffort")
    if name == "PriorityClass":
        cls = spec.get("priorityClassName") or ""
        op, values = str(sel.get("operator")), sel.get("values") or []
        return {"Exists": bool(cls), "DoesNotExist": not cls, "In": cls in values,
                "NotIn": cls not in values}.get(op, False)
    if name == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(spec)
    return False


def best_effort(spec: Obj) -> bool:
    """No container asks for or caps cpu or memory (upstream's QoS BestEffort)."""
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        for which in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in (res.get(which) or {})):
                return False
    return True


def _cross_namespace_affinity(spec: Obj) -> bool:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = affinity.get(kind) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in
                  a.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def missing_requests(pod: Obj, required: set[str]) -> str:
    """upstream's Constraints: which quota'd cpu/memory each container leaves unset."""
    required = required & MUST_SPECIFY
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        res = c.get("resources") or {}
        have = set()
        for name in ("cpu", "memory"):
            if name in (res.get("requests") or {}):
                have |= {name, f"requests.{name}"}
            if name in (res.get("limits") or {}):
                have.add(f"limits.{name}")
        for name in required - have:
            missing.setdefault(name, set()).add(c.get("name") or "")
    return "; ".join(f"{k} for: {','.join(sorted(v))}" for k, v in sorted(missing.items()))
