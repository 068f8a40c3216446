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

from runtime.util.meta import meta
from runtime.util.selectors import node_selector
from runtime.util.tolerations import same_toleration, untolerated

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
def with_default_tolerations(spec: Mapping[str, Any]) -> list[Obj]:
    """spec's tolerations with the daemon defaults added (AddOrUpdateDaemonPodTolerations)."""
    out = [copy.deepcopy(t) for t in spec.get("tolerations") or []]
    wanted = list(DEFAULT_TOLERATIONS) + ([NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    for w in wanted:
        hits = [i for i, t in enumerate(out) if same_toleration(t, w)]
        if hits:
            for i in hits:
                out[i] = dict(w)
        else:
            out.append(dict(w))
    return out


# -- node affinity --------------------------------------------------------------------------
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
    return node_selector(required.get("nodeSelectorTerms") or [], meta(node).get("name"), labels)


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
