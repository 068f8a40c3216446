"""TaintToleration: a pod must tolerate every NoSchedule/NoExecute taint of a node; its
score prefers nodes with fewer untolerated PreferNoSchedule taints.

Pure; never does I/O.
"""

from __future__ import annotations

from typing import Any

from runtime.scheduler.framework import (
    SKIP,
    SUCCESS,
    CycleState,
    Status,
    default_normalize,
    unresolvable,
)
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]
NAME = "TaintToleration"


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """Upstream's Toleration.ToleratesTaint."""
    effect = toleration.get("effect", "")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key", "")
    if key and key != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return op == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerated(taint: Obj, tolerations: list[Obj]) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def _tolerations(pod: PodInfo) -> list[Obj]:
    return (pod.pod.get("spec") or {}).get("tolerations") or []


class TaintToleration:
    name = NAME
    weight = 3

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        if not node.taints:
            return None
        tolerations = _tolerations(pod)
        for taint in node.taints:
            if taint.get("effect") in ("NoSchedule", "NoExecute") and not tolerated(
                    taint, tolerations):
                return unresolvable(NAME, "node(s) had untolerated taint "
                                    f"{{{taint.get('key', '')}: {taint.get('value', '')}}}")
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        for n in nodes:
            for t in n.taints:
                if t.get("effect") == "PreferNoSchedule":
                    state[NAME] = [t for t in _tolerations(pod)
                                   if t.get("effect", "") in ("", "PreferNoSchedule")]
                    return SUCCESS
        return SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        tolerations = state[NAME]
        return sum(1 for t in node.taints if t.get("effect") == "PreferNoSchedule"
                   and not tolerated(t, tolerations))

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        default_normalize(scores, reverse=True)
