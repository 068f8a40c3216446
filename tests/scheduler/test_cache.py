"""The scheduler cache: assumed pods count at once; confirm, forget, remove."""

from __future__ import annotations

from runtime.scheduler.cache import SchedulerCache
from tests.scheduler.factory import info, node, pod


def test_assume_confirm_and_remove() -> None:
    cache = SchedulerCache()
    cache.add_node(node("a"))
    p = pod("p", cpu="500m", memory="1Gi")
    cache.assume(info(p), "a")
    a = cache.nodes["a"]
    assert (a.cpu, a.memory, len(a.pods)) == (500, 2**30, 1)
    cache.add_pod(dict(p, spec=dict(p["spec"], nodeName="a")))  # the informer confirms
    assert (a.cpu, len(a.pods)) == (500, 1) and not cache.is_assumed("default/p")
    cache.remove_pod("default/p")
    assert (a.cpu, a.memory, len(a.pods)) == (0, 0, 0)


def test_forget_a_failed_binding() -> None:
    cache = SchedulerCache()
    cache.add_node(node("a"))
    cache.assume(info(pod("p", cpu="1")), "a")
    cache.forget("default/p")
    assert cache.nodes["a"].cpu == 0 and "default/p" not in cache.pod_node


def test_pods_of_an_unknown_node_count_once_it_appears() -> None:
    cache = SchedulerCache()
    cache.add_pod(pod("p", cpu="1", node_name="late"))
    cache.add_node(node("late"))
    assert cache.nodes["late"].cpu == 1000
    cache.remove_node("late")
    assert cache.node_list == []
    cache.add_node(node("late"))
    assert cache.nodes["late"].cpu == 1000


def test_node_update_keeps_requests() -> None:
    cache = SchedulerCache()
    cache.add_node(node("a", cpu="2"))
    cache.add_pod(pod("p", cpu="1", node_name="a"))
    cache.update_node(node("a", cpu="4", labels={"x": "y"}))
    a = cache.nodes["a"]
    assert (a.alloc_cpu, a.cpu, a.labels["x"]) == (4000, 1000, "y")
