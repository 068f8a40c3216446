"""TaintToleration: a pod must tolerate every NoSchedule/NoExecute taint of a node; its
score prefers nodes with fewer untolerated PreferNoSchedule taints.

Pure; never does I/O.
"""

from __future__ import annotations

from typing import Any

from runtime.scheduler import framework
from runtime.scheduler.framework import SKIP, SUCCESS, CycleState, Status, unresolvable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo
from runtime.util.tolerations import tolerated

Obj = dict[str, Any]
NAME = "TaintToleration"


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
        framework.default_normalize(scores, reverse=True)
