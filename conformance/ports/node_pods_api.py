"""Ports of the Pod API tests of test/e2e/common/node/pods.go (delete a collection, the
lifecycle of a Pod and its status, patching /status) and test/e2e/node/pods.go (the QOS
class). None needs a real container: on simulated nodes the pods run as well."""

from __future__ import annotations

import json
import random
import string
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, poll
from conformance.ports.apps_common import (
    AGNHOST,
    MERGE,
    POD_START,
    SMP,
    WEBSERVER,
    retry_on_conflict,
)
from conformance.ports.node_common import uid
from conformance.ports.node_pods import restricted
from conformance.watching import until

P = "Pods › "
POD_DELETE = 300        # f.Timeouts.PodDelete
POD_RETRY = 1           # podRetryPeriod


def _pod(name: str, labels: dict[str, str], cname: str, restart: str | None = None) -> client.V1Pod:
    return restricted(client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1PodSpec(termination_grace_period_seconds=1, restart_policy=restart,
                              containers=[client.V1Container(name=cname, image=AGNHOST)])))


def _running_ready(p: Any) -> bool:
    return bool(p.status.phase == "Running" and any(
        x.type == "Ready" and x.status == "True" for x in p.status.conditions or []))


@conformance(P + "delete a collection of pods", basename="pods")
def delete_collection(c: Ctx) -> None:
    for name in ("test-pod-1", "test-pod-2", "test-pod-3"):
        c.core.create_namespaced_pod(c.ns, _pod(name, {"type": "Testing"}, "token-test", "Never"))

    def all_running() -> bool:  # WaitForPodsRunningReady(3 pods)
        pods = c.core.list_namespaced_pod(c.ns).items
        return len(pods) >= 3 and all(_running_ready(p) for p in pods)
    poll(all_running, POD_START, "3 pods running and ready", 2)
    c.core.delete_collection_namespaced_pod(c.ns, label_selector="type=Testing", grace_period_seconds=1)
    poll(lambda: not c.core.list_namespaced_pod(c.ns, label_selector="type=Testing").items,
         POD_DELETE, "all pods to be deleted", POD_RETRY)


@conformance(P + "run through the lifecycle of Pods and PodStatus", basename="pods")
def lifecycle(c: Ctx) -> None:
    name, sel = "pod-test", "test-pod-static=true"
    rv = c.core.list_pod_for_all_namespaces(label_selector=sel).metadata.resource_version
    c.core.create_namespaced_pod(c.ns, _pod(name, {"test-pod-static": "true"}, name))

    def watch(rv: str, cond: Any, timeout: float, what: str) -> None:
        try:  # upstream only logs a watch that timed out, then checks the object itself
            until(c.api, c.core.list_namespaced_pod, "V1Pod", rv, cond, timeout, what, c.ns,
                  label_selector=sel)
        except AssertionError as e:
            c.log(str(e))
    watch(rv, lambda _t, p: p.metadata.name == name and p.status.phase == "Running", POD_START,
          "the pod to run")
    p = c.core.read_namespaced_pod(name, c.ns)
    assert p.status.phase == "Running", f"failed to see Pod {name} running: {p.status.phase}"
    patch = {"metadata": {"labels": {"test-pod": "patched"}},
             "spec": {"terminationGracePeriodSeconds": 1,
                      "containers": [{"name": name, "image": WEBSERVER}]}}
    c.core.patch_namespaced_pod(name, c.ns, patch, _content_type=SMP)
    watch(p.metadata.resource_version, lambda t, p: t == "MODIFIED"
          and p.metadata.labels.get("test-pod-static") == "true", 30, "the patch")
    pod = c.core.read_namespaced_pod(name, c.ns)
    assert pod.metadata.labels.get("test-pod") == "patched", "failed to patch Pod - missing label"
    assert pod.spec.containers[0].image == WEBSERVER, "failed to patch Pod - wrong image"

    def set_not_ready() -> Any:
        st = c.core.read_namespaced_pod_status(name, c.ns)
        flipped = 0
        for cond in st.status.conditions or []:
            if cond.type in ("Ready", "ContainersReady") and cond.status == "True":
                cond.status = "False"
                flipped += 1
        assert flipped == 2, "failed to patch all relevant Pod conditions"
        return c.core.replace_namespaced_pod_status(name, c.ns, st)
    updated = retry_on_conflict(set_not_ready)
    falses = [x for x in updated.status.conditions
              if x.type in ("Ready", "ContainersReady") and x.status == "False"]
    assert len(falses) == 2, "failed to update PodStatus - field patch count doesn't match the total"
    c.core.delete_collection_namespaced_pod(c.ns, label_selector=sel, grace_period_seconds=1)
    watch(updated.metadata.resource_version, lambda t, p: t == "DELETED"
          and p.metadata.labels.get("test-pod-static") == "true", POD_DELETE, "the pod's deletion")
    e = expect_api_error(lambda: c.core.read_namespaced_pod(name, c.ns))
    assert e.status == 404, f"expected NotFound, got HTTP {e.status}"


@conformance(P + "patch a pod status", basename="pods")
def patch_status(c: Ctx) -> None:
    name = "pod-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
    c.core.create_namespaced_pod(c.ns, _pod(name, {"e2e": name}, "agnhost"))
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running", POD_START,
         f"pod {name} to run", 2)
    body = json.loads('{"metadata":{"annotations":{"patchedstatus":"true"}},'
                      '"status":{"message":"Patched by e2e test","reason":"E2E"}}')
    got = c.core.patch_namespaced_pod_status(name, c.ns, body, _content_type=MERGE)
    assert got.status.message == "Patched by e2e test", got.status.message
    assert got.status.reason == "E2E", got.status.reason


@conformance("Pods Extended › Set QOS Class on Pods with matching requests and limits",
             basename="pods")
def qos_class(c: Ctx) -> None:
    name = f"pod-qos-class-{uid()}"
    res = {"cpu": "100m", "memory": "100Mi"}
    c.core.create_namespaced_pod(c.ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"name": name}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="agnhost", image=AGNHOST, args=["pause"],
            resources=client.V1ResourceRequirements(limits=res, requests=dict(res)))])))
    pod = c.core.read_namespaced_pod(name, c.ns)
    assert pod.status.qos_class == "Guaranteed", f"QOS class {pod.status.qos_class!r}"
