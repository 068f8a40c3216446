"""InterPodAffinity. Required terms filter: the pod's anti-affinity keeps it out of
topology domains (e.g. kubernetes.io/hostname) that run matching pods; its affinity keeps
it in domains that do; and existing pods' anti-affinity keeps matching pods out of theirs.
The pod's preferred terms score: +weight per matching pod in the node's domain for
affinity, -weight for anti-affinity, rescaled to 0..100 (existing pods' preferred terms
are not counted back).

PreFilter/PreScore count matches per (topologyKey, value) once per cycle (O(pods), only
for pods with affinity, or when some pod in the cluster has required anti-affinity);
Filter and Score are lookups. Pure; never does I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from runtime.scheduler.framework import (
    ALL_NODES,
    MAX_NODE_SCORE,
    SKIP,
    SUCCESS,
    CycleState,
    Status,
    unresolvable,
    unschedulable,
)
from runtime.scheduler.nodeinfo import AffinityTerm, NodeInfo, PodInfo, affinity_term

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


def _preferred(pod: PodInfo) -> list[tuple[int, AffinityTerm]]:
    aff = (pod.pod.get("spec") or {}).get("affinity") or {}
    out = []
    for kind, sign in (("podAffinity", 1), ("podAntiAffinity", -1)):
        for w in (aff.get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            term = affinity_term(w.get("podAffinityTerm") or {}, pod.namespace)
            out.append((sign * int(w.get("weight", 0)), term))
    return out


def _domain_scores(terms: list[tuple[int, AffinityTerm]], nodes: list[NodeInfo]) -> Counter[Domain]:
    scores: Counter[Domain] = Counter()
    for node in nodes:
        for other in node.pods.values():
            for weight, t in terms:
                if t.topology_key in node.labels and t.selects(other):
                    scores[(t.topology_key, node.labels[t.topology_key])] += weight
    return scores


class InterPodAffinity:
    name = NAME
    weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if not (pod.affinity or pod.anti_affinity) and not any(
                n.anti_affinity_pods for n in nodes):
            return SKIP
        state[NAME] = _prepare(pod, nodes)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        st: _State = state[NAME]  # checks in upstream's order, which picks the reason
        if not self._affinity_ok(st, pod, node):
            return unresolvable(NAME, AFFINITY)
        for t in pod.anti_affinity:
            v = node.labels.get(t.topology_key)
            if v is not None and (t.topology_key, v) in st.anti:
                return unschedulable(NAME, ANTI)
        for tk, v in st.existing_anti:
            if node.labels.get(tk) == v:
                return unschedulable(NAME, EXISTING_ANTI)
        return None

    @staticmethod
    def _affinity_ok(st: _State, pod: PodInfo, node: NodeInfo) -> bool:
        if not pod.affinity:
            return True
        if not any(st.affinity) and st.self_affine:
            # the first pod of a group that selects itself may go anywhere with the keys
            return all(t.topology_key in node.labels for t in pod.affinity)
        for t, counts in zip(pod.affinity, st.affinity, strict=True):
            v = node.labels.get(t.topology_key)
            if v is None or counts[(t.topology_key, v)] <= 0:
                return False
        return True

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        terms = _preferred(pod)
        if not terms:
            return SKIP
        keys = {t.topology_key for _, t in terms}
        state[NAME + "/score"] = (keys, _domain_scores(terms, state.get(ALL_NODES, nodes)))
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        keys, scores = state[NAME + "/score"]
        return sum(scores[(k, node.labels[k])] for k in keys if k in node.labels)

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        low, high = min(scores, default=0), max(scores, default=0)
        for i, s in enumerate(scores):
            scores[i] = MAX_NODE_SCORE * (s - low) // (high - low) if high > low else 0
