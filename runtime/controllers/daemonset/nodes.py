"""Which nodes a DaemonSet's pod belongs on (upstream daemon_controller.go
NodeShouldRunDaemonPod): the template's nodeName, nodeSelector and required node
affinity must match, and its taints must be tolerated by the pod's tolerations plus the
default tolerations upstream gives every daemon pod. Also the pinning of a daemon pod
to its node through required node affinity on `metadata.name`, and reading it back.

Pure functions over dicts; must never do I/O or mutate inputs.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from runtime.controllers.common.workloads import meta

Obj = dict[str, Any]

NAME_FIELD = "metadata.name"

DEFAULT_TOLERATIONS: tuple[Obj, ...] = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
NETWORK_UNAVAILABLE = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                       "effect": "NoSchedule"}


# -- tolerations ----------------------------------------------------------------------------
def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Upstream Toleration.MatchToleration: key, operator, value and effect agree."""
    return all((a.get(f) or "") == (b.get(f) or "") for f in ("key", "operator", "value", "effect"))


def with_default_tolerations(spec: Mapping[str, Any]) -> list[Obj]:
    """spec's tolerations with the daemon defaults added (AddOrUpdateDaemonPodTolerations)."""
    out = [copy.deepcopy(t) for t in spec.get("tolerations") or []]
    wanted = list(DEFAULT_TOLERATIONS) + ([NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    for w in wanted:
        hits = [i for i, t in enumerate(out) if _same_toleration(t, w)]
        if hits:
            for i in hits:
                out[i] = dict(w)
        else:
            out.append(dict(w))
    return out


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Upstream Toleration.ToleratesTaint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: list[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# -- node affinity --------------------------------------------------------------------------
def _requirement_matches(req: Mapping[str, Any], value: str | None) -> bool:
    op, values = req.get("operator"), req.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def term_matches(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """A NodeSelectorTerm: every expression and field matches; an empty term matches none."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = meta(node).get("labels") or {}
    for r in exprs:
        if not _requirement_matches(r, labels.get(r.get("key", ""))):
            return False
    for r in fields:
        value = meta(node).get("name") if r.get("key") == NAME_FIELD else None
        if not _requirement_matches(r, value):
            return False
    return True


def required_affinity_matches(spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution both match."""
    labels = meta(node).get("labels") or {}
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    if required is None:
        return True
    return any(term_matches(t, node) for t in required.get("nodeSelectorTerms") or [])


def should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should a daemon pod be placed here, may an existing one keep running here)."""
    spec = ((ds.get("spec") or {}).get("template") or {}).get("spec") or {}
    name = meta(node).get("name")
    if spec.get("nodeName") and spec["nodeName"] != name:
        return False, False
    if not required_affinity_matches(spec, node):
        return False, False
    taints = list((node.get("spec") or {}).get("taints") or [])
    tolerations = with_default_tolerations(spec)
    if untolerated(taints, tolerations, ("NoExecute", "NoSchedule")) is None:
        return True, True
    return False, untolerated(taints, tolerations, ("NoExecute",)) is None


# -- pinning --------------------------------------------------------------------------------
def pin_to_node(spec: Mapping[str, Any], node_name: str) -> Obj:
    """A copy of spec whose required node affinity selects only node_name by
    metadata.name (upstream ReplaceDaemonSetPodNodeNameNodeAffinity)."""
    out = copy.deepcopy(dict(spec))
    term = {"matchFields": [{"key": NAME_FIELD, "operator": "In", "values": [node_name]}]}
    node_affinity = out.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]
    return out


def target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod runs on or is pinned to (upstream GetTargetNodeName)."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == NAME_FIELD and f.get("operator") == "In" and len(
                    f.get("values") or []) == 1:
                return str(f["values"][0])
    return None
