"""The ReplicaSet controller's pure parts: selectors, pod ranking for deletion, status,
expectations and slow-start batches (fake time throughout)."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from runtime.controllers.common.expectations import Expectations
from runtime.controllers.common.podcontrol import pod_for_owner, slow_start_batch
from runtime.controllers.replicaset.ranking import pods_to_delete, sort_for_deletion
from runtime.controllers.replicaset.status import calculate_status, status_unchanged
from runtime.util.selectors import is_empty, matches, to_query

NOW = dt.datetime(2024, 1, 1, 12, 0, tzinfo=dt.UTC)


def ts(seconds_ago: float) -> str:
    return (NOW - dt.timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, node: str = "n1", phase: str = "Running", ready_for: float | None = 60,
        age: float = 600, restarts: int = 0, labels: dict[str, str] | None = None,
        cost: str | None = None) -> dict:
    conds = []
    if ready_for is not None:
        conds.append({"type": "Ready", "status": "True", "lastTransitionTime": ts(ready_for)})
    meta: dict = {"name": name, "uid": name, "creationTimestamp": ts(age),
                  "labels": labels or {"app": "web"}}
    if cost is not None:
        meta["annotations"] = {"controller.kubernetes.io/pod-deletion-cost": cost}
    return {"metadata": meta, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conds,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def names(pods: list[dict]) -> list[str]:
    return [p["metadata"]["name"] for p in pods]


def test_selectors():
    sel = {"matchLabels": {"app": "web"},
           "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                                {"key": "team", "operator": "Exists"},
                                {"key": "old", "operator": "DoesNotExist"}]}
    assert matches(sel, {"app": "web", "tier": "a", "team": "x"})
    assert matches(sel, {"app": "web", "tier": "b", "team": "x", "env": "dev"})
    assert not matches(sel, {"app": "web", "tier": "c", "team": "x"})
    assert not matches(sel, {"app": "web", "tier": "a", "team": "x", "env": "prod"})
    assert not matches(sel, {"app": "web", "tier": "a"})
    assert not matches(sel, {"app": "web", "tier": "a", "team": "x", "old": "1"})
    assert matches({}, {"x": "y"}) and not matches(None, {"x": "y"})
    assert is_empty({}) and not is_empty(None) and not is_empty(sel)
    assert to_query(sel) == "app=web,tier in (a,b),env notin (prod),team,!old"


def test_deletion_order_follows_upstream():
    unscheduled = pod("unscheduled", node="", phase="Pending", ready_for=None)
    pending = pod("pending", phase="Pending", ready_for=None)
    not_ready = pod("not-ready", ready_for=None)
    cheap = pod("cheap", cost="-10")
    restarted = pod("restarted", restarts=5)
    newer = pod("newer", age=5)
    recently_ready = pod("recently-ready", ready_for=1)
    old = pod("old")
    pods = [old, recently_ready, newer, restarted, cheap, not_ready, pending, unscheduled]
    order = names(sort_for_deletion(pods, [0] * len(pods), NOW))
    assert order[:4] == ["unscheduled", "pending", "not-ready", "cheap"]
    assert order.index("recently-ready") < order.index("old")
    assert order.index("restarted") < order.index("old")
    assert order[-1] == "old"


def test_doubled_up_pods_go_first():
    a, b = pod("a", node="n1"), pod("b", node="n2")
    related = [a, b, pod("sibling", node="n2")]
    assert names(pods_to_delete([a, b], related, 1, NOW)) == ["b"]
    assert names(pods_to_delete([a, b], related, 2, NOW)) == ["a", "b"]  # all: no sorting


def test_pod_for_owner():
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
             "metadata": {"name": "web-abc", "uid": "u1"}}
    tpl = {"metadata": {"labels": {"app": "web"}, "annotations": {"a": "1"}},
           "spec": {"containers": [{"name": "c", "image": "i"}]}}
    p = pod_for_owner(tpl, owner)
    assert p["metadata"]["generateName"] == "web-abc-"
    assert p["metadata"]["labels"] == {"app": "web"} and p["metadata"]["annotations"] == {"a": "1"}
    ref = p["metadata"]["ownerReferences"][0]
    assert ref["controller"] and ref["blockOwnerDeletion"] and ref["uid"] == "u1"
    p["spec"]["containers"][0]["image"] = "changed"
    assert tpl["spec"]["containers"][0]["image"] == "i"


def rs(replicas: int = 3, min_ready: int = 0, generation: int = 2) -> dict:
    return {"metadata": {"name": "web", "generation": generation},
            "spec": {"replicas": replicas, "minReadySeconds": min_ready,
                     "template": {"metadata": {"labels": {"app": "web", "tier": "a"}}}},
            "status": {"replicas": 0, "observedGeneration": 1}}


def test_status_counts_and_min_ready_seconds():
    pods = [pod("a", ready_for=30, labels={"app": "web", "tier": "a"}),
            pod("b", ready_for=5, labels={"app": "web", "tier": "a"}),
            pod("c", ready_for=None, labels={"app": "web"})]
    st = calculate_status(rs(min_ready=10), pods, None, NOW)
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"],
            st["availableReplicas"]) == (3, 2, 2, 1)
    assert calculate_status(rs(), pods, None, NOW)["availableReplicas"] == 2
    assert not status_unchanged(rs(), st)


def test_replica_failure_condition():
    err = ValueError("quota exceeded")
    st = calculate_status(rs(replicas=5), [pod("a")], err, NOW)
    cond = st["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["reason"] == "FailedCreate"
    assert cond["message"] == "quota exceeded"
    again = calculate_status(dict(rs(replicas=5), status=st), [pod("a")], None, NOW)
    assert "conditions" not in again


def test_expectations_with_fake_clock():
    now = [0.0]
    exp = Expectations(clock=lambda: now[0], ttl=300)
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", adds=2)
    assert not exp.satisfied("ns/rs")
    exp.creation_observed("ns/rs")
    exp.creation_observed("ns/rs")
    assert exp.satisfied("ns/rs")
    exp.expect("ns/rs", deletes=["ns/a", "ns/b"])
    exp.deletion_observed("ns/rs", "ns/a")
    exp.deletion_observed("ns/rs", "ns/a")  # seen twice (terminating, then deleted): once
    assert exp.pending("ns/rs") == (0, 1) and not exp.satisfied("ns/rs")
    now[0] = 301
    assert exp.satisfied("ns/rs")  # expired: a lost event never wedges the controller


@pytest.mark.parametrize("count,fail_at,expected_calls,expected_ok", [
    (10, None, 10, 10), (10, 1, 1, 0), (10, 4, 7, 6), (0, None, 0, 0),
])
def test_slow_start_batches(count, fail_at, expected_calls, expected_ok):
    calls = []

    async def fn() -> None:
        calls.append(1)
        if fail_at is not None and len(calls) == fail_at:
            raise RuntimeError("quota")
    ok, err = asyncio.run(slow_start_batch(count, fn))
    # batches of 1, 2, 4, ...: a failure in one batch stops the next
    assert len(calls) == expected_calls and ok == expected_ok
    assert (err is None) == (fail_at is None)
