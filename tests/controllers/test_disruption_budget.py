"""The arithmetic of PodDisruptionBudget status (upstream disruption.go), as pure
functions: expected pods, desired and current health, disruptions allowed, the
DisruptionAllowed condition, disruptedPods bookkeeping and the fail-safe."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.controllers.disruption import budget as b

NOW = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
Obj = dict[str, Any]


def pod(name: str, *, ready: bool = True, owner: str | None = "rs-uid",
        deleting: bool = False) -> Obj:
    md: Obj = {"name": name, "namespace": "ns", "labels": {"app": "web"}}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
                                  "uid": owner, "controller": True}]
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T11:59:00Z"
    return {"metadata": md, "status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True" if ready else "False"}]}}


def pdb(generation: int = 1, status: Obj | None = None, **spec: Any) -> Obj:
    return {"metadata": {"name": "budget", "namespace": "ns", "generation": generation},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
            "status": status or {}}


def scale(n: int):  # every controller has scale n
    return lambda p: (p["metadata"]["ownerReferences"][0]["uid"], n)


def compute(budget: Obj, pods: list[Obj], scale_of=scale(3)) -> Obj | None:
    counts = b.expected_counts(budget, pods, scale_of)
    disrupted, _, _ = b.disrupted_pods(budget, pods, NOW)
    return b.new_status(budget, b.current_healthy(pods, disrupted, NOW), counts, disrupted, NOW)


def test_integer_min_available_counts_the_selected_pods():
    st = compute(pdb(minAvailable=2), [pod("a"), pod("b"), pod("c")])
    assert st is not None
    assert (st["expectedPods"], st["desiredHealthy"], st["currentHealthy"],
            st["disruptionsAllowed"], st["observedGeneration"]) == (3, 2, 3, 1, 1)
    [cond] = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed", "True", "SufficientPods")
    assert cond["lastTransitionTime"] == "2026-01-01T12:00:00Z"


def test_not_ready_and_deleting_pods_are_not_healthy():
    st = compute(pdb(minAvailable=2), [pod("a"), pod("b", ready=False), pod("c", deleting=True)])
    assert st is not None and st["currentHealthy"] == 1 and st["disruptionsAllowed"] == 0
    assert st["conditions"][0]["status"] == "False"
    assert st["conditions"][0]["reason"] == "InsufficientPods"


@pytest.mark.parametrize("spec,expected,desired", [
    ({"minAvailable": "50%"}, 5, 3),      # percentages of the scale round up
    ({"maxUnavailable": "25%"}, 5, 3),    # 5 - ceil(1.25)
    ({"maxUnavailable": 1}, 5, 4),
    ({"maxUnavailable": 9}, 5, 0),        # never below zero
])
def test_percentages_use_the_controllers_scale(spec, expected, desired):
    pods = [pod("a"), pod("b")]  # two pods so far, the ReplicaSet wants 5
    counts = b.expected_counts(pdb(**spec), pods, scale(5))
    assert (counts.expected, counts.desired) == (expected, desired)


def test_each_controller_counts_once_and_orphans_are_unmanaged():
    pods = [pod("a", owner="u1"), pod("b", owner="u1"), pod("c", owner="u2"), pod("d", owner=None)]
    counts = b.expected_counts(pdb(maxUnavailable=0), pods, scale(2))
    assert counts.expected == 4 and counts.unmanaged == ("d",)


def test_a_pod_of_an_unknown_controller_is_an_error():
    with pytest.raises(LookupError, match='found no controllers for pod "a"'):
        b.expected_counts(pdb(minAvailable="50%"), [pod("a")], lambda p: None)


def test_nothing_is_allowed_while_nothing_is_expected():
    st = compute(pdb(minAvailable=0), [])
    assert st is not None and st["expectedPods"] == 0 and st["disruptionsAllowed"] == 0


def test_an_up_to_date_status_is_not_rewritten():
    st = compute(pdb(minAvailable=2), [pod("a"), pod("b"), pod("c")])
    assert compute(pdb(status=st, minAvailable=2), [pod("a"), pod("b"), pod("c")]) is None
    # a new generation must be observed
    assert compute(pdb(generation=2, status=st, minAvailable=2),
                   [pod("a"), pod("b"), pod("c")]) is not None


def test_recently_evicted_pods_do_not_count_until_the_deletion_timeout():
    evicted = {"a": "2026-01-01T11:59:30Z", "gone": "2026-01-01T11:59:00Z"}
    budget = pdb(status={"disruptedPods": evicted}, minAvailable=1)
    pods = [pod("a"), pod("b")]
    disrupted, recheck, overdue = b.disrupted_pods(budget, pods, NOW)
    assert disrupted == {"a": "2026-01-01T11:59:30Z"}  # a pod no longer selected is dropped
    assert recheck == dt.datetime(2026, 1, 1, 12, 1, 30, tzinfo=dt.UTC) and overdue == []
    assert b.current_healthy(pods, disrupted, NOW) == 1
    later = NOW + dt.timedelta(minutes=3)
    disrupted, recheck, overdue = b.disrupted_pods(budget, pods, later)
    assert disrupted == {} and recheck is None and overdue == ["a"]
    assert b.current_healthy(pods, disrupted, later) == 2


def test_the_condition_keeps_its_transition_time_while_its_status_holds():
    first = compute(pdb(minAvailable=2), [pod("a"), pod("b"), pod("c")])
    assert first is not None
    first["conditions"][0]["lastTransitionTime"] = "2025-12-31T00:00:00Z"
    again = compute(pdb(generation=2, status=first, minAvailable=1), [pod("a"), pod("b")])
    assert again is not None and again["conditions"][0]["lastTransitionTime"] == (
        "2025-12-31T00:00:00Z")


def test_fail_safe_allows_nothing_and_says_why():
    st = b.fail_safe_status(pdb(status={"disruptionsAllowed": 2, "observedGeneration": 1}),
                            "found no controllers", NOW)
    assert st["disruptionsAllowed"] == 0
    [cond] = st["conditions"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "SyncFailed", "found no controllers")
