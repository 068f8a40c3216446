"""DaemonSet decisions as pure functions: node eligibility (nodeSelector, node affinity,
taints against the daemon default tolerations), pinning, which pods to create or
delete, RollingUpdate within maxUnavailable/maxSurge, status."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.controllers.daemonset import nodes as dn
from runtime.controllers.daemonset import plan as dp

NOW = dt.datetime(2024, 1, 1, 12, tzinfo=dt.UTC)
REF = {"kind": "DaemonSet", "name": "agent", "uid": "ds-uid", "controller": True}


def ds(**pod_spec: Any) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "agent", "namespace": "ns", "uid": "ds-uid", "generation": 2},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}],
                                           **pod_spec}}}}


def node(name: str, labels: dict[str, str] | None = None, taints: list[Any] | None = None):
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": {"taints": taints or []}}


def taint(key: str, effect: str, value: str = "") -> dict[str, str]:
    return {"key": key, "value": value, "effect": effect}


def pod(name: str, node_name: str, hash_: str = "h1", ready: bool = True, phase: str = "Running",
        created: str = "2024-01-01T00:00:00Z", terminating: bool = False, bound: bool = True):
    p: dict[str, Any] = {
        "metadata": {"name": name, "creationTimestamp": created,
                     "labels": {"app": "agent", "controller-revision-hash": hash_}},
        "spec": dn.pin_to_node({}, node_name),
        "status": {"phase": phase, "conditions": [
            {"type": "Ready", "status": "True" if ready else "False",
             "lastTransitionTime": "2024-01-01T00:00:00Z"}]}}
    if bound:
        p["spec"]["nodeName"] = node_name
    if terminating:
        p["metadata"]["deletionTimestamp"] = "2024-01-01T12:00:00Z"
    return p


# -- eligibility ------------------------------------------------------------------------------
def test_plain_nodes_are_eligible():
    assert dn.should_run(ds(), node("n1")) == (True, True)


def test_node_selector_and_affinity():
    d = ds(nodeSelector={"disk": "ssd"})
    assert dn.should_run(d, node("n1", {"disk": "ssd"})) == (True, True)
    assert dn.should_run(d, node("n1", {"disk": "hdd"})) == (False, False)
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]},
            {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["8"]}]}]}}}
    d2 = ds(affinity=aff)
    assert dn.should_run(d2, node("n1", {"zone": "b"}))[0]
    assert dn.should_run(d2, node("n1", {"cores": "16"}))[0]
    assert not dn.should_run(d2, node("n1", {"cores": "4", "zone": "c"}))[0]
    by_name = ds(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchFields": [
            {"key": "metadata.name", "operator": "NotIn", "values": ["n2"]}]}]}}})
    assert dn.should_run(by_name, node("n1"))[0] and not dn.should_run(by_name, node("n2"))[0]


def test_template_node_name():
    assert dn.should_run(ds(nodeName="n2"), node("n1")) == (False, False)
    assert dn.should_run(ds(nodeName="n2"), node("n2")) == (True, True)


@pytest.mark.parametrize("t,expect", [
    (taint("dedicated", "NoSchedule", "gpu"), (False, True)),
    (taint("dedicated", "NoExecute", "gpu"), (False, False)),
    (taint("dedicated", "PreferNoSchedule", "gpu"), (True, True)),
    # the default daemon tolerations
    (taint("node.kubernetes.io/not-ready", "NoExecute"), (True, True)),
    (taint("node.kubernetes.io/unreachable", "NoExecute"), (True, True)),
    (taint("node.kubernetes.io/unschedulable", "NoSchedule"), (True, True)),
    (taint("node.kubernetes.io/memory-pressure", "NoSchedule"), (True, True)),
    (taint("node.kubernetes.io/disk-pressure", "NoSchedule"), (True, True)),
    (taint("node.kubernetes.io/pid-pressure", "NoSchedule"), (True, True)),
    (taint("node.kubernetes.io/network-unavailable", "NoSchedule"), (False, True)),
])
def test_taints(t: dict[str, str], expect: tuple[bool, bool]):
    assert dn.should_run(ds(), node("n1", taints=[t])) == expect


def test_tolerations():
    t = taint("dedicated", "NoSchedule", "gpu")
    assert dn.should_run(ds(tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                          "effect": "NoSchedule"}]), node("n", taints=[t]))[0]
    assert not dn.should_run(ds(tolerations=[{"key": "dedicated", "value": "cpu"}]),
                             node("n", taints=[t]))[0]
    assert dn.should_run(ds(tolerations=[{"operator": "Exists"}]), node("n", taints=[t]))[0]
    net = taint("node.kubernetes.io/network-unavailable", "NoSchedule")
    assert dn.should_run(ds(hostNetwork=True), node("n", taints=[net]))[0]


def test_default_tolerations_replace_a_matching_one():
    spec = {"tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 30}]}
    tols = dn.with_default_tolerations(spec)
    assert len(tols) == 6 and {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                               "effect": "NoExecute"} in tols
    assert spec["tolerations"][0]["tolerationSeconds"] == 30


def test_pinning_replaces_required_terms_and_reads_back():
    spec = {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "a", "operator": "Exists"}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1}]}}}
    pinned = dn.pin_to_node(spec, "n7")
    na = pinned["affinity"]["nodeAffinity"]
    assert na["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n7"]}]}]
    assert na["preferredDuringSchedulingIgnoredDuringExecution"] == [{"weight": 1}]
    assert dn.target_node({"spec": pinned}) == "n7"
    assert dn.target_node({"spec": {"nodeName": "n8", **pinned}}) == "n8"
    assert dn.target_node({"spec": {}}) is None


def test_new_pod():
    p = dp.new_pod(ds(), "n1", "h9", REF)
    assert p["metadata"]["generateName"] == "agent-"
    assert p["metadata"]["labels"] == {"app": "agent", "controller-revision-hash": "h9",
                                       "pod-template-generation": "2"}
    assert dn.target_node(p) == "n1" and "nodeName" not in p["spec"]
    assert len(p["spec"]["tolerations"]) == 6


# -- manage -----------------------------------------------------------------------------------
def test_manage_creates_deletes_and_cleans_up():
    nodes = [node("n1"), node("n2"), node("n3", {"role": "x"}, [taint("k", "NoExecute")])]
    pods = [pod("a", "n1"), pod("b", "n1", created="2024-01-01T00:01:00Z"),
            pod("c", "n3"), pod("d", "gone"), pod("e", "n2", terminating=True)]
    plan = dp.manage(ds(), nodes, dp.pods_by_node(pods), "h1", NOW)
    assert plan.create_on == []  # n2 still has a terminating pod
    assert [p["metadata"]["name"] for p in plan.delete] == ["b", "c", "d"]
    plan2 = dp.manage(ds(), nodes, dp.pods_by_node(pods[:2]), "h1", NOW)
    assert plan2.create_on == ["n2"]


def test_manage_failed_and_succeeded_pods():
    plan = dp.manage(ds(), [node("n1"), node("n2")],
                     dp.pods_by_node([pod("a", "n1", phase="Failed"),
                                      pod("b", "n2", phase="Succeeded")]), "h1", NOW)
    assert [(n, p["metadata"]["name"]) for n, p in plan.failed] == [("n1", "a")]
    assert [p["metadata"]["name"] for p in plan.delete] == ["b"]


def test_scheduled_pods_sort_first():
    by_node = dp.pods_by_node([pod("late", "n1", created="2024-01-01T00:05:00Z"),
                               pod("early", "n1", bound=False)])
    assert [p["metadata"]["name"] for p in by_node["n1"]] == ["late", "early"]


# -- rolling update ---------------------------------------------------------------------------
def rolling(max_unavailable: Any = 1, max_surge: Any = 0) -> dict[str, Any]:
    d = ds()
    d["spec"]["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {
        "maxUnavailable": max_unavailable, "maxSurge": max_surge}}
    return d


NODES = [node(f"n{i}") for i in range(1, 5)]


def test_budgets():
    assert dp.budgets(rolling(1, 0), 4) == (0, 1)
    assert dp.budgets(rolling("50%", 0), 5) == (0, 3)
    assert dp.budgets(rolling(0, "25%"), 4) == (1, 0)
    assert dp.budgets(rolling(0, 0), 4) == (0, 1)


def test_update_in_place_within_max_unavailable():
    old = [pod(f"p{i}", f"n{i}", "h0") for i in range(1, 5)]
    plan = dp.rolling_update(rolling(2), NODES, dp.pods_by_node(old), "h1", NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == ["p1", "p2"]
    # one new pod not yet ready counts against the budget
    mixed = [pod("p1", "n1", "h1", ready=False)] + old[1:]
    plan = dp.rolling_update(rolling(2), NODES, dp.pods_by_node(mixed), "h1", NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == ["p2"]
    # an unavailable old pod is replaced regardless of the budget
    broken = [pod("p1", "n1", "h0", ready=False)] + old[1:]
    plan = dp.rolling_update(rolling(1), NODES, dp.pods_by_node(broken), "h1", NOW)
    assert [p["metadata"]["name"] for p in plan.delete] == ["p1", "p2"]
    # a node still without its pod is unavailable too
    plan = dp.rolling_update(rolling(1), NODES, dp.pods_by_node(old[1:]), "h1", NOW)
    assert plan.delete == []


def test_update_with_surge():
    old = [pod(f"p{i}", f"n{i}", "h0") for i in range(1, 5)]
    plan = dp.rolling_update(rolling(0, 1), NODES, dp.pods_by_node(old), "h1", NOW)
    assert plan.create_on == ["n1"] and plan.delete == []
    surged = old + [pod("q1", "n1", "h1", ready=False)]
    plan = dp.rolling_update(rolling(0, 1), NODES, dp.pods_by_node(surged), "h1", NOW)
    assert plan.create_on == [] and plan.delete == []
    ready = old + [pod("q1", "n1", "h1")]
    plan = dp.rolling_update(rolling(0, 1), NODES, dp.pods_by_node(ready), "h1", NOW)
    assert plan.create_on == ["n2"] and [p["metadata"]["name"] for p in plan.delete] == ["p1"]


def test_surge_keeps_two_pods_until_the_new_one_is_available():
    d = rolling(0, 1)
    pods = [pod("old", "n1", "h0"), pod("new", "n1", "h1", ready=False,
                                        created="2024-01-01T00:01:00Z")]
    assert dp.manage(d, [node("n1")], dp.pods_by_node(pods), "h1", NOW).delete == []
    pods[1] = pod("new", "n1", "h1", created="2024-01-01T00:01:00Z")
    assert [p["metadata"]["name"] for p in dp.manage(d, [node("n1")], dp.pods_by_node(pods),
                                                     "h1", NOW).delete] == ["old"]


# -- status -----------------------------------------------------------------------------------
def test_status():
    nodes = [node("n1"), node("n2"), node("n3"), node("n4", {"x": "y"})]
    d = ds(nodeSelector={})
    d["spec"]["template"]["spec"]["affinity"] = {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "x", "operator": "DoesNotExist"}]}]}}}
    pods = [pod("a", "n1"), pod("b", "n2", "h0", ready=False), pod("c", "n4")]
    st = dp.compute_status(d, nodes, dp.pods_by_node(pods), "h1", 0, NOW)
    assert st == {"desiredNumberScheduled": 3, "currentNumberScheduled": 2,
                  "numberMisscheduled": 1, "numberReady": 1, "numberAvailable": 1,
                  "updatedNumberScheduled": 1, "observedGeneration": 2, "numberUnavailable": 2}
