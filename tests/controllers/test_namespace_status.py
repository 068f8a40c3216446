"""The namespace controller's deletion conditions, as upstream words them."""

from __future__ import annotations

from runtime.client.resources import PODS, REPLICASETS
from runtime.controllers.namespace.controller import (
    CONDITION_TYPES,
    DeletionReport,
    requeue_delay,
    updated_conditions,
)


def by_type(conds: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {c["type"]: c for c in conds}


def test_all_clear_conditions() -> None:
    conds = updated_conditions([], DeletionReport(), "t1")
    assert conds is not None and [c["type"] for c in conds] == list(CONDITION_TYPES)
    c = by_type(conds)
    assert all(x["status"] == "False" for x in conds)
    assert c["NamespaceContentRemaining"]["reason"] == "ContentRemoved"
    assert c["NamespaceFinalizersRemaining"]["message"] == "All content-preserving finalizers finished"
    assert updated_conditions(conds, DeletionReport(), "t2") is None  # nothing changed


def test_remaining_content_and_finalizers() -> None:
    r = DeletionReport()
    r.count(PODS, [{"metadata": {"name": "a"}}, {"metadata": {"name": "b", "finalizers": ["x/y"]}}])
    r.count(REPLICASETS, [{"metadata": {"name": "rs", "finalizers": ["x/y"]}}])
    assert not r.empty
    c = by_type(updated_conditions([], r, "t1") or [])
    assert c["NamespaceContentRemaining"] == {
        "type": "NamespaceContentRemaining", "status": "True", "lastTransitionTime": "t1",
        "reason": "SomeResourcesRemain",
        "message": "Some resources are remaining: pods. has 2 resource instances, "
                   "replicasets.apps has 1 resource instances"}
    assert c["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizersRemain"
    assert c["NamespaceFinalizersRemaining"]["message"] == (
        "Some content in the namespace has finalizers remaining: x/y in 2 resource instances")


def test_transition_time_moves_only_with_status() -> None:
    r = DeletionReport(remaining={"pods.": 2})
    first = updated_conditions([], r, "t1") or []
    second = updated_conditions(first, DeletionReport(remaining={"pods.": 1}), "t2") or []
    assert by_type(second)["NamespaceContentRemaining"]["lastTransitionTime"] == "t1"
    third = updated_conditions(second, DeletionReport(), "t3") or []
    assert by_type(third)["NamespaceContentRemaining"]["lastTransitionTime"] == "t3"
    assert by_type(third)["NamespaceContentRemaining"]["status"] == "False"


def test_failures_are_reported() -> None:
    r = DeletionReport(discovery_failures={"x.io/v1": "boom"}, delete_errors=["pods.: denied"])
    c = by_type(updated_conditions([], r, "t") or [])
    assert c["NamespaceDeletionDiscoveryFailure"]["reason"] == "DiscoveryFailed"
    assert c["NamespaceDeletionDiscoveryFailure"]["message"].startswith(
        "Discovery failed for some groups, 1 failing:")
    assert c["NamespaceDeletionContentFailure"]["message"] == (
        "Failed to delete all resource types, 1 remaining: pods.: denied")


def test_requeue_backs_off_within_bounds() -> None:
    delays = [requeue_delay(DeletionReport(remaining={"pods.": 1}), n) for n in range(1, 20)]
    assert delays == sorted(delays) and delays[-1] <= 5.0 and delays[0] >= 0.5
    held = DeletionReport(finalizers={"x": 1})
    assert requeue_delay(held, 30) <= 15.0


def test_pods_are_deleted_first_and_alone_while_they_remain() -> None:
    from types import SimpleNamespace

    from runtime.controllers.namespace.controller import items_left, pods_first

    rs, pods = SimpleNamespace(gvr=REPLICASETS), SimpleNamespace(gvr=PODS)
    assert pods_first([rs, pods]) == [pods, rs]
    r = DeletionReport()
    r.count(PODS, [{"metadata": {"name": "a", "finalizers": ["x/y"]}}])
    assert items_left(r, PODS) and not items_left(r, REPLICASETS)
    r = DeletionReport()
    r.count(PODS, [])
    assert not items_left(r, PODS)
