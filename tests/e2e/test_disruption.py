"""PodDisruptionBudgets on a whole cluster (`kapi up` with simulated nodes): the
disruption controller keeps the budget's status, so the eviction API lets exactly the
allowed number of pods go, with nobody writing the status by hand. Driven with the
official Python client."""

from __future__ import annotations

import json
import re
from typing import Any, Iterator

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.helpers import namespace, raw, wait_for


@pytest.fixture
def pns(api: client.ApiClient) -> Iterator[str]:
    yield from namespace(api, "pdb")


def ready_pods(api: client.ApiClient, ns: str) -> list[Any]:
    pods = raw(client.CoreV1Api(api).list_namespaced_pod, ns, label_selector="app=web")["items"]
    return [p for p in pods if not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True"
        for c in (p.get("status") or {}).get("conditions") or [])]


def evict(api: client.ApiClient, ns: str, name: str) -> None:
    client.CoreV1Api(api).create_namespaced_pod_eviction(
        name, ns, client.V1Eviction(metadata=client.V1ObjectMeta(name=name, namespace=ns)))


def test_eviction_follows_the_budget_the_controller_keeps(api: client.ApiClient, pns: str):
    apps, policy = client.AppsV1Api(api), client.PolicyV1Api(api)
    apps.create_namespaced_deployment(pns, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox:latest"}]}}}})
    policy.create_namespaced_pod_disruption_budget(pns, {
        "metadata": {"name": "web"},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}})
    pods = wait_for(lambda: len(p := ready_pods(api, pns)) == 3 and p, "3 ready pods")

    def settled() -> Any:
        pdb = raw(policy.read_namespaced_pod_disruption_budget, "web", pns)
        st = pdb.get("status") or {}
        return st.get("disruptionsAllowed") == 1 and st.get("currentHealthy") == 3 and pdb
    pdb = wait_for(settled, "the disruption controller's status")
    st = pdb["status"]
    assert (st["expectedPods"], st["desiredHealthy"], st["observedGeneration"]) == (
        3, 2, pdb["metadata"]["generation"])
    [cond] = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == (
        "DisruptionAllowed", "True", "SufficientPods")

    first, second = pods[0]["metadata"]["name"], pods[1]["metadata"]["name"]
    evict(api, pns, first)  # 201: one disruption was allowed
    with pytest.raises(ApiException) as e:
        evict(api, pns, second)
    assert e.value.status == 429
    body = json.loads(e.value.body)
    assert body["reason"] == "TooManyRequests"
    assert body["message"] == "Cannot evict pod as it would violate the pod's disruption budget."
    [cause] = body["details"]["causes"]
    assert cause["reason"] == "DisruptionBudget"
    assert re.fullmatch(r"The disruption budget web needs 2 healthy pods and has \d currently",
                        cause["message"]), cause["message"]

    # the ReplicaSet replaces the evicted pod; once it is ready, one disruption is allowed again
    wait_for(lambda: len(p := ready_pods(api, pns)) == 3 and first not in {
        x["metadata"]["name"] for x in p}, "a ready replacement")
    wait_for(settled, "the budget to allow one disruption again")
