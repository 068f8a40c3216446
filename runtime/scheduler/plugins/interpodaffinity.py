"""InterPodAffinity (required terms): the pod's anti-affinity keeps it out of topology
domains (e.g. kubernetes.io/hostname) that run matching pods; its affinity keeps it in
domains that do; and existing pods' anti-affinity keeps matching pods out of theirs.

PreFilter counts matches per (topologyKey, value) once per cycle (O(pods) only for pods
with affinity, or when some pod in the cluster has anti-affinity); Filter is a lookup.
Preferred (soft) terms are not scored. Pure; never does I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from runtime.scheduler.framework import (
    SKIP, SUCCESS, CycleState, Status, unresolvable, unschedulable,
)
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "InterPodAffinity"
EXISTING_ANTI = "node(s) didn't satisfy existing pods anti-affinity rules"
AFFINITY = "node(s) didn't match pod affinity rules"
ANTI = "node(s) didn't match pod anti-affinity rules"

Domain = tuple[str, str]  # (topology key, value)


@dataclass
class _State:
    existing_anti: set[Domain] = field(default_factory=set)
    anti: set[Domain] = field(default_factory=set)
    affinity: list[Counter[Domain]] = field(default_factory=list)
    self_affine: bool = False


def _prepare(pod: PodInfo, nodes: list[NodeInfo]) -> _State:
    st = _State(affinity=[Counter() for _ in pod.affinity])
    st.self_affine = all(t.selects(pod) for t in pod.affinity)
    for node in nodes:
        for other in node.anti_affinity_pods.values():
            for t in other.anti_affinity:
                if t.topology_key in node.labels and t.selects(pod):
                    st.existing_anti.add((t.topology_key, node.labels[t.topology_key]))
        if not (pod.anti_affinity or pod.affinity):
            continue
        for other in node.pods.values():
            for t in pod.anti_affinity:
                if t.topology_key in node.labels and t.selects(other):
                    st.anti.add((t.topology_key, node.labels[t.topology_key]))
            for i, t in enumerate(pod.affinity):
                if t.topology_key in node.labels and t.selects(other):
                    st.affinity[i][(t.topology_key, node.labels[t.topology_key])] += 1
    return st


class InterPodAffinity:
    name = NAME

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if not (pod.affinity or pod.anti_affinity) and not any(
                n.anti_affinity_pods for n in nodes):
            return SKIP
        state[NAME] = _prepare(pod, nodes)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _State = state[NAME]
        for tk, v in st.existing_anti:
            if node.labels.get(tk) == v:
                return unschedulable(NAME, EXISTING_ANTI)
        if not self._affinity_ok(st, pod, node):
            return unresolvable(NAME, AFFINITY)
        for t in pod.anti_affinity:
            v = node.labels.get(t.topology_key)
            if v is not None and (t.topology_key, v) in st.anti:
                return unschedulable(NAME, ANTI)
        return None

    @staticmethod
    def _affinity_ok(st: _State, pod: PodInfo, node: NodeInfo) -> bool:
        if not pod.affinity:
            return True
        if not any(st.affinity) and st.self_affine:
            # the first pod of a group that selects itself may go anywhere with the keys
            return all(t.topology_key in node.labels for t in pod.affinity)
        for t, counts in zip(pod.affinity, st.affinity):
            v = node.labels.get(t.topology_key)
            if v is None or counts[(t.topology_key, v)] <= 0:
                return False
        return True
