"""One scheduling cycle for one pod, over the cache: PreFilter -> Filter -> PreScore ->
Score -> pick a node, or a FitError carrying upstream's diagnosis message.

Like upstream it stops filtering once it has found enough feasible nodes
(numFeasibleNodesToFind: all up to 100 nodes, then an adaptive percentage) and starts
each search where the previous one stopped, so per-pod work stays bounded on big
clusters. Pure and synchronous: no I/O, no awaits; the shell assumes and binds.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

from runtime.scheduler.framework import ALL_NODES, Code, CycleState, Status
from runtime.scheduler.nodeinfo import NodeInfo, PodInfo
from runtime.scheduler.profile import Profile

MIN_FEASIBLE_NODES = 100
MIN_FEASIBLE_PERCENTAGE = 5
NOT_HELPFUL = "Preemption is not helpful for scheduling"
NO_VICTIMS = "No preemption victims found for incoming pod"


@dataclass
class FitError:
    pod: PodInfo
    num_all_nodes: int
    statuses: dict[str, Status] = field(default_factory=dict)
    pre_filter: Status | None = None

    def message(self) -> str:
        """Upstream's FitError.Error() plus the preemption (PostFilter) message."""
        if self.num_all_nodes == 0:
            return "no nodes available to schedule pods"
        msg = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter is not None:
            msg += f" {self.pre_filter.message()}."
        else:
            reasons = Counter(r for st in self.statuses.values() for r in st.reasons)
            msg += " " + ", ".join(sorted(f"{n} {r}" for r, n in reasons.items())) + "."
        return f"{msg} {self._preemption()}"

    def _preemption(self) -> str:
        if (self.pod.pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return "preemption: not eligible due to preemptionPolicy=Never."
        if self.pre_filter is not None:
            codes = [self.pre_filter.code] * self.num_all_nodes
        else:
            codes = [st.code for st in self.statuses.values()]
        counts = Counter(NOT_HELPFUL if c == Code.UNSCHEDULABLE_AND_UNRESOLVABLE else NO_VICTIMS
                         for c in codes)
        hist = ", ".join(sorted(f"{n} {r}" for r, n in counts.items()))
        return f"preemption: 0/{self.num_all_nodes} nodes are available: {hist}."

    @property
    def plugins(self) -> set[str]:
        """The plugins that rejected the pod (what a cluster change must touch)."""
        if self.pre_filter is not None:
            return {self.pre_filter.plugin}
        return {st.plugin for st in self.statuses.values()}


@dataclass
class Scheduled:
    node: str
    evaluated: int
    feasible: int


def num_feasible_nodes_to_find(num_all: int) -> int:
    if num_all < MIN_FEASIBLE_NODES:
        return num_all
    pct = max(50 - num_all // 125, MIN_FEASIBLE_PERCENTAGE)
    return max(num_all * pct // 100, MIN_FEASIBLE_NODES)


class Cycle:
    """Runs cycles with a profile; remembers where the last node search stopped."""

    def __init__(self, profile: Profile, *, rng: random.Random | None = None) -> None:
        self.profile = profile
        self.rng = rng or random.Random()
        self.next_start = 0

    def schedule(self, pod: PodInfo, nodes: list[NodeInfo]) -> Scheduled | FitError:
        if not nodes:
            return FitError(pod, 0)
        state = CycleState({ALL_NODES: nodes})
        skipped: set[str] = set()
        for p in self.profile.pre_filters:
            st = p.pre_filter(state, pod, nodes)
            if st.code == Code.SKIP:
                skipped.add(p.name)
            elif not st.success:
                return FitError(pod, len(nodes), pre_filter=Status(st.code, st.reasons, p.name))
        feasible, statuses = self._find(state, pod, nodes, skipped)
        if not feasible:
            return FitError(pod, len(nodes), statuses)
        node = feasible[0] if len(feasible) == 1 else self._best(state, pod, feasible)
        return Scheduled(node.name, len(feasible) + len(statuses), len(feasible))

    def _find(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo],
              skipped: set[str]) -> tuple[list[NodeInfo], dict[str, Status]]:
        filters = [p.filter for p in self.profile.filters if p.name not in skipped]
        n, want = len(nodes), num_feasible_nodes_to_find(len(nodes))
        start = self.next_start % n
        feasible: list[NodeInfo] = []
        statuses: dict[str, Status] = {}
        processed = 0
        for i in range(n):
            node = nodes[(start + i) % n]
            processed += 1
            for f in filters:
                st = f(state, pod, node)
                if st is not None:
                    statuses[node.name] = st
                    break
            else:
                feasible.append(node)
                if len(feasible) >= want:
                    break
        self.next_start = (start + processed) % n
        return feasible, statuses

    def _best(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> NodeInfo:
        totals = [0] * len(nodes)
        for p in self.profile.scores:
            pre = getattr(p, "pre_score", None)
            if pre is not None and pre(state, pod, nodes).code == Code.SKIP:
                continue
            scores = [p.score(state, pod, node) for node in nodes]
            normalize = getattr(p, "normalize", None)
            if normalize is not None:
                normalize(state, pod, scores)
            w = p.weight
            for i, s in enumerate(scores):
                totals[i] += s * w
        top = max(totals)
        best = [i for i, t in enumerate(totals) if t == top]
        return nodes[best[0] if len(best) == 1 else self.rng.choice(best)]
