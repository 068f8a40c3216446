"""The autoscaler's pure core: the replica calculator (tolerance, missing and unready
pods, requests), stabilization and behavior policies, and selector strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from runtime.controllers.podautoscaler import normalize, replicas
from runtime.controllers.podautoscaler.status import parse_selector, set_condition

Obj = dict[str, Any]
NOW = 1_000_000.0


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name: str, *, cpu: str | None = "100m", phase: str = "Running", ready: bool = True,
        started: float = NOW - 3600) -> Obj:
    res = {"requests": {"cpu": cpu}} if cpu else {}
    return {"metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "resources": res}]},
            "status": {"phase": phase, "startTime": _ts(started), "conditions": [
                {"type": "Ready", "status": "True" if ready else "False",
                 "lastTransitionTime": _ts(started + 5)}]}}


def metrics(**milli: int) -> dict[str, replicas.PodMetric]:
    return {n: replicas.PodMetric(v, NOW, 10) for n, v in milli.items()}


def test_utilization_scales_by_the_ratio_and_respects_the_tolerance() -> None:
    pods = [pod("a"), pod("b")]
    i = replicas.Inputs(2, pods, metrics(a=150, b=150), NOW)
    assert replicas.resource_replicas(i, "cpu", 50) == (6, 150, 150)
    within = replicas.Inputs(2, pods, metrics(a=54, b=54), NOW)
    assert replicas.resource_replicas(within, "cpu", 50)[0] == 2  # 8% off: no change


def test_missing_pods_count_at_the_target_when_scaling_down() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    i = replicas.Inputs(3, pods, metrics(a=10, b=10), NOW)
    # c assumed at 100% of its request: (10+10+100)/300 = 40% of a 50% target -> 3
    assert replicas.resource_replicas(i, "cpu", 50)[0] == 3


def test_unready_pods_count_as_idle_when_scaling_up() -> None:
    pods = [pod("a"), pod("b", ready=False, started=NOW - 10)]
    i = replicas.Inputs(2, pods, metrics(a=200, b=200), NOW)
    # b is unready: (200 + 0)/200 = 100% of 50% -> ceil(2.0 * 2) = 4
    assert replicas.resource_replicas(i, "cpu", 50)[0] == 4


def test_errors_carry_upstreams_messages() -> None:
    with pytest.raises(replicas.MetricError, match="missing request for cpu in container "
                                                   "app of Pod a"):
        replicas.resource_replicas(replicas.Inputs(1, [pod("a", cpu=None)],
                                                   metrics(a=1), NOW), "cpu", 50)
    with pytest.raises(replicas.MetricError, match="no pods returned by selector"):
        replicas.resource_replicas(replicas.Inputs(1, [], {}, NOW), "cpu", 50)
    with pytest.raises(replicas.MetricError, match=r"did not receive metrics for targeted "
                                                   r"pods \(pods might be unready\)"):
        replicas.resource_replicas(replicas.Inputs(1, [pod("a", phase="Pending")],
                                                   {}, NOW), "cpu", 50)


def test_average_value_and_container_metrics() -> None:
    items = [{"metadata": {"name": "a"}, "timestamp": _ts(NOW), "window": "10s",
              "containers": [{"name": "app", "usage": {"cpu": "300m", "memory": "2Mi"}},
                             {"name": "side", "usage": {"cpu": "100m", "memory": "1Mi"}}]}]
    assert replicas.pod_metrics(items, "cpu")["a"].value == 400
    assert replicas.pod_metrics(items, "cpu", "side")["a"].value == 100
    mem = replicas.pod_metrics(items, "memory")
    i = replicas.Inputs(1, [pod("a")], mem, NOW)
    assert replicas.average_value_replicas(i, "memory", 1024 * 1024 * 1000) == \
        (3, 3 * 1024 * 1024 * 1000)


def test_scale_down_waits_for_the_stabilization_window() -> None:
    h = normalize.History()
    out = normalize.without_behavior(h, 5, 5, 1, 10, NOW, 300)
    assert out.replicas == 5 and out.able[1] == "ReadyForNewScale"
    held = normalize.without_behavior(h, 5, 1, 1, 10, NOW + 60, 300)
    assert held.replicas == 5 and held.able[1] == "ScaleDownStabilized"
    later = normalize.without_behavior(h, 5, 1, 1, 10, NOW + 400, 300)
    assert later.replicas == 1 and later.limited == (
        "False", "DesiredWithinRange", "the desired count is within the acceptable range")


def test_limits_and_default_scale_up_rate() -> None:
    h = normalize.History()
    out = normalize.without_behavior(h, 2, 50, 1, 10, NOW, 300)
    assert out.replicas == 4 and out.limited[:2] == ("True", "ScaleUpLimit")
    assert normalize.without_behavior(h, 8, 50, 1, 10, NOW, 300).limited[1] == "TooManyReplicas"
    assert normalize.without_behavior(normalize.History(), 3, 0, 2, 10, NOW, 0).replicas == 2


def test_behavior_policies_and_select_policy() -> None:
    behavior = {"scaleUp": {"stabilizationWindowSeconds": 0, "selectPolicy": "Max",
                            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}]},
                "scaleDown": {"stabilizationWindowSeconds": 0, "selectPolicy": "Min",
                              "policies": [{"type": "Percent", "value": 50,
                                            "periodSeconds": 60},
                                           {"type": "Pods", "value": 1, "periodSeconds": 60}]}}
    h = normalize.History()
    up = normalize.with_behavior(h, behavior, 2, 6, 1, 10, NOW, 300)
    assert up.replicas == 3 and up.limited[1] == "ScaleUpLimit"
    normalize.store_scale_event(h, behavior, 2, 3, NOW, 300)
    assert normalize.with_behavior(h, behavior, 3, 6, 1, 10, NOW + 10, 300).replicas == 3
    assert normalize.with_behavior(h, behavior, 3, 6, 1, 10, NOW + 70, 300).replicas == 4
    down = normalize.with_behavior(normalize.History(), behavior, 10, 1, 1, 10, NOW, 300)
    assert down.replicas == 9  # Min of (50% -> 5, 1 pod -> 9): the smaller change
    off = dict(behavior, scaleDown={"selectPolicy": "Disabled", "policies": []})
    assert normalize.with_behavior(normalize.History(), off, 10, 1, 1, 10, NOW, 300).replicas == 10


def test_selector_strings() -> None:
    match = parse_selector("app=web,tier in (a, b),!canary,env!=prod")
    assert match({"app": "web", "tier": "a"})
    assert not match({"app": "web", "tier": "c"})
    assert not match({"app": "web", "tier": "a", "canary": ""})
    assert not match({"app": "web", "tier": "b", "env": "prod"})
    with pytest.raises(ValueError):
        parse_selector("app in (x")


def test_conditions_keep_their_transition_time() -> None:
    status: Obj = {}
    set_condition(status, "AbleToScale", "True", "SucceededGetScale", "m", "t1")
    set_condition(status, "AbleToScale", "True", "ReadyForNewScale", "m2", "t2")
    assert status["conditions"] == [{"type": "AbleToScale", "status": "True",
                                     "lastTransitionTime": "t1", "reason": "ReadyForNewScale",
                                     "message": "m2"}]
    set_condition(status, "AbleToScale", "False", "FailedGetScale", "m3", "t3")
    assert status["conditions"][0]["lastTransitionTime"] == "t3"
