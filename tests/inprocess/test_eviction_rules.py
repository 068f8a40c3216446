"""The eviction subresource's refusals from a PodDisruptionBudget, in upstream's order and
with its Status shapes (pkg/registry/core/pod/storage/eviction.go checkAndDecrement)."""

from __future__ import annotations

from typing import Any

import pytest

from kapi import errors
from kapi.endpoints.eviction import refuse_if_budget_spent


def pdb(generation: int = 2, observed: int = 2, allowed: int = 1, disrupted: int = 0) -> Any:
    return {"metadata": {"name": "web", "generation": generation},
            "status": {"observedGeneration": observed, "disruptionsAllowed": allowed,
                       "desiredHealthy": 2, "currentHealthy": 2,
                       "disruptedPods": {f"p{i}": "2026-01-01T00:00:00Z" for i in range(disrupted)}}}


def test_a_budget_with_room_lets_the_eviction_through() -> None:
    refuse_if_budget_spent("web", pdb())


def test_a_budget_not_yet_processed_is_429_with_retry_after() -> None:
    with pytest.raises(errors.TooManyRequests) as e:
        refuse_if_budget_spent("web", pdb(generation=3, observed=2))
    assert e.value.details["retryAfterSeconds"] == 10
    assert e.value.details["causes"] == [{
        "reason": "DisruptionBudget",
        "message": "The disruption budget web is still being processed by the server."}]


def test_no_disruption_allowed_is_429_naming_the_healthy_counts() -> None:
    with pytest.raises(errors.TooManyRequests) as e:
        refuse_if_budget_spent("web", pdb(allowed=0))
    assert "retryAfterSeconds" not in e.value.details
    assert e.value.details["causes"][0]["message"] == \
        "The disruption budget web needs 2 healthy pods and has 2 currently"


@pytest.mark.parametrize("kw,why", [
    ({"allowed": -1}, "pdb disruptions allowed is negative"),
    ({"disrupted": 2001}, "DisruptedPods map too big - too many evictions not confirmed by PDB "
                          "controller")])
def test_a_broken_budget_is_forbidden(kw: dict[str, int], why: str) -> None:
    with pytest.raises(errors.Forbidden) as e:
        refuse_if_budget_spent("web", pdb(**kw))
    assert str(e.value) == f'poddisruptionbudgets.policy "web" is forbidden: {why}'


PODS = "/api/v1/namespaces/default/pods"


def bound_pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": [
        {"name": "c", "image": "busybox"}]}}


@pytest.mark.anyio
async def test_an_evicted_pod_carries_the_disruption_target_condition(api: Any) -> None:
    # bound to a node, the pod stays (terminating) until its kubelet confirms: readable here
    assert (await api.post(PODS, json=bound_pod("p"))).status_code == 201
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"}}
    r = await api.post(f"{PODS}/p/eviction", json=body)
    assert r.status_code == 201, r.text
    pod = (await api.get(f"{PODS}/p")).json()
    assert pod["metadata"]["deletionTimestamp"]
    [cond] = [c for c in pod["status"]["conditions"] if c["type"] == "DisruptionTarget"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "True", "EvictionByEvictionAPI", "Eviction API: evicting")
    assert cond["lastTransitionTime"]


@pytest.mark.anyio
async def test_eviction_preconditions_apply_to_the_condition_write(api: Any) -> None:
    created = (await api.post(PODS, json=bound_pod("q"))).json()
    body = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "q"},
            "deleteOptions": {"preconditions": {"uid": "not-the-uid"}}}
    r = await api.post(f"{PODS}/q/eviction", json=body)
    assert r.status_code == 409, r.text
    pod = (await api.get(f"{PODS}/q")).json()
    assert "deletionTimestamp" not in pod["metadata"]
    assert not [c for c in pod["status"].get("conditions") or [] if c["type"] == "DisruptionTarget"]
    body["deleteOptions"]["preconditions"] = {
        "uid": created["metadata"]["uid"],
        "resourceVersion": created["metadata"]["resourceVersion"]}
    r = await api.post(f"{PODS}/q/eviction", json=body)
    assert r.status_code == 201, r.text  # the rv precondition follows the condition write
