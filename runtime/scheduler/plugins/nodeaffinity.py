"""NodeAffinity: spec.nodeSelector and required node affinity must match the node's
labels (and matchFields its name); preferred node affinity adds its weights to the score.

Pure; never does I/O.
"""

from __future__ import annotations

from typing import Any

from runtime.scheduler import framework
from runtime.scheduler.framework import SKIP, SUCCESS, CycleState, Status, unresolvable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo
from runtime.util.selectors import node_selector, node_selector_term

Obj = dict[str, Any]
NAME = "NodeAffinity"
REASON = "node(s) didn't match Pod's node affinity/selector"


def _node_affinity(pod: Obj) -> Obj:
    return ((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity") or {}


def required_terms(pod: Obj) -> list[Obj] | None:
    req = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
    return None if req is None else list(req.get("nodeSelectorTerms") or [])


def matches(pod: Obj, node: NodeInfo) -> bool:
    """Whether the node passes the pod's nodeSelector and required node affinity."""
    for k, v in ((pod.get("spec") or {}).get("nodeSelector") or {}).items():
        if node.labels.get(k) != v:
            return False
    terms = required_terms(pod)
    return terms is None or node_selector(terms, node.name, node.labels)


class NodeAffinity:
    name = NAME
    weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        spec = pod.pod.get("spec") or {}
        return SUCCESS if spec.get("nodeSelector") or required_terms(pod.pod) is not None \
            else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        return None if matches(pod.pod, node) else unresolvable(NAME, REASON)

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        preferred = _node_affinity(pod.pod).get(
            "preferredDuringSchedulingIgnoredDuringExecution") or []
        state[NAME] = preferred
        return SUCCESS if preferred else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        return sum(int(p.get("weight", 0)) for p in state[NAME]
                   if node_selector_term(p.get("preference") or {}, node.name, node.labels))

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        framework.default_normalize(scores)
