"""Whether a quota's scopes (spec.scopes and spec.scopeSelector) cover an object.

Only pods fall in scopes: Terminating (activeDeadlineSeconds set), NotTerminating,
BestEffort (no cpu or memory requested or capped by any container), NotBestEffort,
PriorityClass (by the pod's priorityClassName) and CrossNamespacePodAffinity. A quota
with no scopes covers everything; a scoped quota covers no other kind. Pure functions.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def requirements(quota: Obj) -> list[Obj]:
    spec = quota.get("spec") or {}
    listed = [{"scopeName": name, "operator": "Exists"} for name in spec.get("scopes") or []]
    return listed + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def covers(quota: Obj, resource: str, group: str, obj: Obj) -> bool:
    reqs = requirements(quota)
    if not reqs:
        return True
    return resource == "pods" and not group and all(_pod_matches(r, obj) for r in reqs)


def _qos_best_effort(spec: Obj) -> bool:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    return not any(name in ("cpu", "memory")
                   for c in containers for part in ("requests", "limits")
                   for name in ((c.get("resources") or {}).get(part) or {}))


def _pod_matches(req: Obj, pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    scope = req.get("scopeName")
    deadline = spec.get("activeDeadlineSeconds")
    checks = {
        "Terminating": lambda: deadline is not None and deadline >= 0,
        "NotTerminating": lambda: deadline is None or deadline < 0,
        "BestEffort": lambda: _qos_best_effort(spec),
        "NotBestEffort": lambda: not _qos_best_effort(spec),
        "PriorityClass": lambda: _priority_class(req, spec.get("priorityClassName") or ""),
        "CrossNamespacePodAffinity": lambda: _cross_namespace(spec),
    }
    check = checks.get(str(scope))
    return bool(check and check())


def _priority_class(req: Obj, name: str) -> bool:
    op, values = req.get("operator"), req.get("values") or []
    if op == "Exists":
        return bool(name)
    if op == "DoesNotExist":
        return not name
    return (name in values) == (op == "In")


def _cross_namespace(spec: Obj) -> bool:
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = (spec.get("affinity") or {}).get(kind) or {}
        terms = rules.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        weighted = rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        for term in list(terms) + [w.get("podAffinityTerm") or {} for w in weighted]:
            if term.get("namespaces") or term.get("namespaceSelector") is not None:
                return True
    return False
