"""Node-health decisions with fake time: silence, conditions, taints, eviction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from runtime.controllers.nodelifecycle.health import (
    NOT_READY,
    UNREACHABLE,
    HealthTracker,
    effective_tolerations,
    eviction_delay,
    reconciled_taints,
    unknown_conditions,
    wanted_taints,
)
from runtime.util.tolerations import tolerates

Obj = dict[str, Any]
T0 = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
GRACE = 40.0


def node(ready: str | None = "True", *, heartbeat: str = "hb1", taints: list[Obj] | None = None,
         reason: str = "KubeletReady", **spec: Any) -> Obj:
    conds = []
    if ready is not None:
        conds.append({"type": "Ready", "status": ready, "reason": reason,
                      "lastHeartbeatTime": heartbeat, "lastTransitionTime": "t0"})
    conds.append({"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory",
                  "lastHeartbeatTime": heartbeat})
    s = dict(spec)
    if taints is not None:
        s["taints"] = taints
    return {"metadata": {"name": "n1", "creationTimestamp": "t-created"}, "spec": s,
            "status": {"conditions": conds}}


def lease(renew: str) -> Obj:
    return {"metadata": {"name": "n1", "namespace": "kube-node-lease"},
            "spec": {"renewTime": renew}}


def iso(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- silence -----------------------------------------------------------------------------
def test_a_node_is_silent_after_the_grace_period_without_progress() -> None:
    h = HealthTracker()
    h.observe("n1", node(), lease("r1"), now=100.0)
    assert h.remaining("n1", 100.0, GRACE) == GRACE
    h.observe("n1", node(), lease("r1"), now=130.0)  # nothing moved
    assert h.remaining("n1", 130.0, GRACE) == 10.0
    assert h.remaining("n1", 140.0, GRACE) <= 0


def test_lease_renewals_and_heartbeats_are_progress() -> None:
    h = HealthTracker()
    h.observe("n1", node(), lease("r1"), now=100.0)
    h.observe("n1", node(), lease("r2"), now=139.0)
    assert h.remaining("n1", 170.0, GRACE) == 9.0
    h.observe("n1", node(heartbeat="hb2"), lease("r2"), now=175.0)
    assert h.remaining("n1", 180.0, GRACE) == 35.0


def test_our_own_unknown_condition_is_not_a_heartbeat() -> None:
    h = HealthTracker()
    h.observe("n1", node(), lease("r1"), now=100.0)
    h.observe("n1", node("Unknown", heartbeat="hb1", reason="NodeStatusUnknown"), lease("r1"),
              now=150.0)
    assert h.remaining("n1", 150.0, GRACE) < 0
    # the kubelet comes back: the same heartbeat text as before it left is not progress,
    # a new one is
    h.observe("n1", node(heartbeat="hb1"), lease("r1"), now=151.0)
    assert h.remaining("n1", 151.0, GRACE) < 0
    h.observe("n1", node(heartbeat="hb3"), lease("r1"), now=152.0)
    assert h.remaining("n1", 152.0, GRACE) == GRACE


def test_a_node_that_never_posted_status_gets_the_startup_grace() -> None:
    h = HealthTracker()
    h.observe("n1", node(None), None, now=100.0)
    assert h.remaining("n1", 150.0, GRACE, startup_grace=60.0) == 10.0
    h.observe("n1", node(), None, now=155.0)  # its first heartbeat
    assert h.remaining("n1", 155.0, GRACE, startup_grace=60.0) == GRACE


def test_unknown_conditions() -> None:
    conds = unknown_conditions(node(), "now")
    assert conds is not None
    by = {c["type"]: c for c in conds}
    assert by["Ready"]["status"] == "Unknown" and by["Ready"]["reason"] == "NodeStatusUnknown"
    assert by["Ready"]["message"] == "Kubelet stopped posting node status."
    assert by["Ready"]["lastHeartbeatTime"] == "hb1"  # the last one heard, kept
    assert by["Ready"]["lastTransitionTime"] == "now"
    assert by["MemoryPressure"]["status"] == "Unknown"
    assert by["DiskPressure"]["reason"] == "NodeStatusNeverUpdated"
    again = node()
    again["status"]["conditions"] = conds
    assert unknown_conditions(again, "later") is None


# -- taints ------------------------------------------------------------------------------
def test_taints_follow_ready() -> None:
    assert wanted_taints(node("True")) == set()
    assert wanted_taints(node("Unknown")) == {(UNREACHABLE, "NoExecute"), (UNREACHABLE, "NoSchedule")}
    assert wanted_taints(node("False")) == {(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")}
    assert wanted_taints(node(None)) == set()  # not judged before its grace period
    assert ("node.kubernetes.io/unschedulable", "NoSchedule") in wanted_taints(
        node(unschedulable=True))


def test_reconciled_taints_swap_and_keep_foreign_taints() -> None:
    foreign = {"key": "dedicated", "value": "db", "effect": "NoSchedule"}
    n = node("Unknown", taints=[foreign, {"key": NOT_READY, "effect": "NoExecute",
                                          "timeAdded": "old"}])
    new = reconciled_taints(n, "now")
    assert new == [foreign, {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "now"},
                   {"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": "now"}]
    n["spec"]["taints"] = new
    assert reconciled_taints(n, "later") is None  # stable: timeAdded kept
    n["status"]["conditions"][0]["status"] = "True"
    assert reconciled_taints(n, "later") == [foreign]


# -- tolerations and eviction ------------------------------------------------------------
def pod(*tolerations: Obj) -> Obj:
    return {"metadata": {"name": "p"}, "spec": {"tolerations": list(tolerations)}}


def test_tolerates() -> None:
    taint = {"key": UNREACHABLE, "effect": "NoExecute"}
    assert tolerates({"key": UNREACHABLE, "operator": "Exists"}, taint)
    assert tolerates({"operator": "Exists"}, taint)
    assert not tolerates({"key": UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}, taint)
    assert tolerates({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoSchedule"})
    assert not tolerates({"key": "k", "value": "w"}, {"key": "k", "value": "v"})


def test_default_tolerations_are_added_only_when_missing() -> None:
    tols = effective_tolerations(pod(), 5)
    assert {(t["key"], t["tolerationSeconds"]) for t in tols} == {(NOT_READY, 5), (UNREACHABLE, 5)}
    own = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}
    assert [t["key"] for t in effective_tolerations(pod(own), 5)] == [UNREACHABLE, NOT_READY]


def unreachable(added: dt.datetime) -> list[Obj]:
    return [{"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": iso(added)},
            {"key": UNREACHABLE, "effect": "NoSchedule", "timeAdded": iso(added)}]


def test_eviction_after_the_default_toleration() -> None:
    taints = unreachable(T0)
    assert eviction_delay(pod(), [], 300, T0) is None
    assert eviction_delay(pod(), taints, 300, T0) == 300
    assert eviction_delay(pod(), taints, 300, T0 + dt.timedelta(seconds=299)) == 1
    assert eviction_delay(pod(), taints, 300, T0 + dt.timedelta(seconds=301)) == 0


def test_eviction_follows_the_pods_own_toleration() -> None:
    taints = unreachable(T0)
    short = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 7}
    forever = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    assert eviction_delay(pod(short), taints, 300, T0 + dt.timedelta(seconds=2)) == 5
    assert eviction_delay(pod(forever), taints, 300, T0 + dt.timedelta(days=9)) is None


def test_an_untolerated_noexecute_taint_evicts_at_once() -> None:
    taints = [{"key": "maintenance", "effect": "NoExecute", "timeAdded": iso(T0)}]
    assert eviction_delay(pod(), taints, 300, T0) == 0
    assert eviction_delay(pod({"key": "maintenance", "operator": "Exists"}), taints, 300,
                          T0) is None
