"""The scheduling cycle over the cache: node choice, spreading, FitError messages."""

from __future__ import annotations

import random
from collections import Counter

from runtime.scheduler.cycle import Cycle, FitError, Scheduled, num_feasible_nodes_to_find
from runtime.scheduler.profile import default_profile
from tests.scheduler.factory import cluster, info, node, pod

CP = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def schedule_all(n_pods: int, cache, cycle):  # type: ignore[no-untyped-def]
    placed = Counter()
    for i in range(n_pods):
        pi = info(pod(f"p{i}", cpu="100m", memory="100Mi"))
        r = cycle.schedule(pi, cache.node_list)
        assert isinstance(r, Scheduled)
        cache.assume(pi, r.node)
        placed[r.node] += 1
    return placed


def test_pods_spread_over_equal_nodes() -> None:
    cache = cluster(*(node(f"n{i}") for i in range(3)))
    placed = schedule_all(30, cache, Cycle(default_profile(), rng=random.Random(1)))
    assert placed == {"n0": 10, "n1": 10, "n2": 10}


def test_the_bigger_node_gets_more() -> None:
    cache = cluster(node("small", cpu="2", memory="4Gi"), node("big", cpu="8", memory="16Gi"))
    placed = schedule_all(20, cache, Cycle(default_profile(), rng=random.Random(1)))
    assert placed["big"] > placed["small"] > 0


def test_fit_error_message_is_upstreams() -> None:
    cache = cluster(node("a", cpu="1"), node("b", taints=[CP]), node("c", taints=[CP]))
    r = Cycle(default_profile()).schedule(info(pod("p", cpu="2")), cache.node_list)
    assert isinstance(r, FitError)
    assert r.message() == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/3 nodes are available: "
        "1 No preemption victims found for incoming pod, 2 Preemption is not helpful for "
        "scheduling.")
    assert r.plugins == {"NodeResourcesFit", "TaintToleration"}


def test_fit_error_when_every_node_is_unresolvable() -> None:
    cache = cluster(node("a"), node("b"))
    r = Cycle(default_profile()).schedule(info(pod("p", nodeSelector={"disk": "ssd"})),
                                          cache.node_list)
    assert isinstance(r, FitError)
    assert r.message() == (
        "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")


def test_preemption_policy_never_and_no_nodes() -> None:
    cache = cluster(node("a", cpu="1"))
    r = Cycle(default_profile()).schedule(
        info(pod("p", cpu="2", preemptionPolicy="Never")), cache.node_list)
    assert isinstance(r, FitError)
    assert r.message() == ("0/1 nodes are available: 1 Insufficient cpu. "
                           "preemption: not eligible due to preemptionPolicy=Never.")
    none = Cycle(default_profile()).schedule(info(pod("p")), [])
    assert isinstance(none, FitError)
    assert none.message() == "no nodes available to schedule pods"


def test_resources_fill_up_then_fail() -> None:
    cache = cluster(node("a", cpu="1", pods="3"))
    cycle = Cycle(default_profile())
    for i in range(3):
        pi = info(pod(f"p{i}", cpu="200m"))
        r = cycle.schedule(pi, cache.node_list)
        assert isinstance(r, Scheduled)
        cache.assume(pi, r.node)
    r = cycle.schedule(info(pod("p4", cpu="500m")), cache.node_list)
    assert isinstance(r, FitError)
    assert r.message().startswith("0/1 nodes are available: 1 Insufficient cpu, 1 Too many pods.")


def test_feasible_nodes_to_find_is_adaptive() -> None:
    assert num_feasible_nodes_to_find(50) == 50
    assert num_feasible_nodes_to_find(100) == 100
    assert num_feasible_nodes_to_find(1000) == 420
    assert num_feasible_nodes_to_find(5000) == 5000 * 10 // 100
    assert num_feasible_nodes_to_find(100_000) == 5000


def test_search_resumes_where_it_stopped() -> None:
    cache = cluster(*(node(f"n{i:04d}") for i in range(1000)))
    cycle = Cycle(default_profile(), rng=random.Random(1))
    r = cycle.schedule(info(pod("p")), cache.node_list)
    assert isinstance(r, Scheduled) and r.evaluated == 420
    assert cycle.next_start == 420
