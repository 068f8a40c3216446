"""PodTopologySpread: topologySpreadConstraints. DoNotSchedule constraints filter out
nodes where placing the pod would make (matching pods in the domain + 1) - (fewest in
any eligible domain) exceed maxSkew; ScheduleAnyway constraints score nodes in less
crowded domains higher.

Eligible domains come from nodes that pass the pod's node affinity/selector
(nodeAffinityPolicy Honor, the default) and carry the topology key; minDomains and
matchLabelKeys are honoured. Pure; never does I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from runtime.scheduler import framework
from runtime.scheduler.framework import SKIP, SUCCESS, CycleState, Status, unresolvable
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo
from runtime.scheduler.plugins.nodeaffinity import matches as affinity_matches
from runtime.util.selectors import LabelMatcher, label_selector

Obj = dict[str, Any]
NAME = "PodTopologySpread"
REASON = "node(s) didn't match pod topology spread constraints"
MISSING = "node(s) didn't match pod topology spread constraints (missing required label)"


@dataclass
class _Constraint:
    key: str
    max_skew: int
    min_domains: int
    selects: LabelMatcher
    self_match: int
    counts: Counter[str]
    minimum: int = 0


def _selector(c: Obj, pod: PodInfo) -> Obj:
    sel = dict(c.get("labelSelector") or {})
    keys = [k for k in c.get("matchLabelKeys") or [] if k in pod.labels]
    if keys:
        exprs = list(sel.get("matchExpressions") or [])
        exprs += [{"key": k, "operator": "In", "values": [pod.labels[k]]} for k in keys]
        sel["matchExpressions"] = exprs
    return sel


def _build(pod: PodInfo, wanted: str, nodes: list[NodeInfo]) -> list[_Constraint]:
    out = []
    for c in (pod.pod.get("spec") or {}).get("topologySpreadConstraints") or []:
        if c.get("whenUnsatisfiable", "DoNotSchedule") != wanted:
            continue
        selects = label_selector(_selector(c, pod))
        out.append(_Constraint(c.get("topologyKey", ""), int(c.get("maxSkew", 1)),
                               int(c.get("minDomains") or 1), selects,
                               int(selects(pod.labels)), Counter()))
    for node in nodes:
        if not affinity_matches(pod.pod, node):
            continue
        for con in out:
            value = node.labels.get(con.key)
            if value is None:
                continue
            con.counts[value] += sum(1 for p in node.pods.values() if p.namespace ==
                                     pod.namespace and con.selects(p.labels)
                                     and not p.pod["metadata"].get("deletionTimestamp"))
    for con in out:
        con.minimum = min(con.counts.values(), default=0)
        if len(con.counts) < con.min_domains:
            con.minimum = 0
    return out


class PodTopologySpread:
    name = NAME
    weight = 2

    def pre_filter(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        constraints = _build(pod, "DoNotSchedule", nodes) if _has(pod) else []
        if not constraints:
            return SKIP
        state[NAME] = constraints
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status | None:
        for con in state[NAME]:
            value = node.labels.get(con.key)
            if value is None:
                return unresolvable(NAME, MISSING)
            if con.counts[value] + con.self_match - con.minimum > con.max_skew:
                return framework.unschedulable(NAME, REASON)
        return None

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        constraints = _build(pod, "ScheduleAnyway", nodes) if _has(pod) else []
        if not constraints:
            return SKIP
        state[NAME + "/score"] = constraints
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        total = 0
        for con in state[NAME + "/score"]:
            value = node.labels.get(con.key)
            total += con.counts[value] if value is not None else 1000
        return total

    def normalize(self, state: CycleState, pod: PodInfo, scores: list[int]) -> None:
        framework.default_normalize(scores, reverse=True)


def _has(pod: PodInfo) -> bool:
    return bool((pod.pod.get("spec") or {}).get("topologySpreadConstraints"))
