"""Ports of test/e2e/apps/statefulset.go (StatefulSet Basic StatefulSet functionality
[StatefulSetBasic]): the API tests, with upstream's headless service, labels and probe."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apps_common import (
    PAUSE,
    SMP,
    WEBSERVER,
    WEBSERVER_NAME,
    scale_roundtrip,
    status_update_and_patch,
)

S = "[sig-apps] StatefulSet Basic StatefulSet functionality [StatefulSetBasic] "
LABELS = {"foo": "bar", "baz": "blah"}
SS_NAME, SVC = "ss", "test"
SS_TIMEOUT = 600  # statefulSetTimeout
SS_POLL = 10  # StatefulSetPoll


def new_statefulset(name: str, replicas: int, labels: dict[str, str]) -> client.V1StatefulSet:
    """upstream's e2estatefulset.NewStatefulSet without mounts, plus setHTTPProbe."""
    probe = client.V1Probe(http_get=client.V1HTTPGetAction(path="/index.html", port=80),
                           period_seconds=1, success_threshold=1, failure_threshold=1)
    return client.V1StatefulSet(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1StatefulSetSpec(
            selector=client.V1LabelSelector(match_labels=dict(labels)), replicas=replicas,
            service_name=SVC,
            update_strategy=client.V1StatefulSetUpdateStrategy(type="RollingUpdate"),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=dict(labels), annotations={}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="webserver", image=WEBSERVER, readiness_probe=probe)]))))


def _setup(c: Ctx) -> None:
    """upstream's BeforeEach: the headless governing service."""
    c.core.create_namespaced_service(c.ns, client.V1Service(
        metadata=client.V1ObjectMeta(name=SVC),
        spec=client.V1ServiceSpec(cluster_ip="None", selector=LABELS, ports=[
            client.V1ServicePort(port=80, name="http", protocol="TCP")])))


def wait_running_and_ready(c: Ctx, ss: Any, count: int) -> None:
    sel = ",".join(f"{k}={v}" for k, v in sorted(ss.spec.selector.match_labels.items()))

    def ready() -> bool:
        pods = c.core.list_namespaced_pod(c.ns, label_selector=sel).items
        return len(pods) == count and all(
            p.status.phase == "Running" and any(x.type == "Ready" and x.status == "True"
                                                for x in p.status.conditions or []) for p in pods)
    poll(ready, SS_TIMEOUT, f"{count} running and ready pods of statefulset {ss.metadata.name}", 1)


def wait_status(c: Ctx, name: str) -> None:
    def observed() -> bool:
        ss = c.apps.read_namespaced_stateful_set(name, c.ns)
        return (ss.status.observed_generation or 0) >= ss.metadata.generation
    poll(observed, SS_TIMEOUT, f"statefulset {name} status to observe its generation", 1)


@conformance(S + "should have a working scale subresource [Conformance]", basename="statefulset")
def scale_subresource(c: Ctx) -> None:
    _setup(c)
    ss = c.apps.create_namespaced_stateful_set(c.ns, new_statefulset(SS_NAME, 1, LABELS))
    wait_running_and_ready(c, ss, 1)
    wait_status(c, SS_NAME)
    scale_roundtrip(c, "stateful_set", SS_NAME, "statefulset")


@conformance(S + "should list, patch and delete a collection of StatefulSets [Conformance]",
             basename="statefulset")
def list_patch_delete_collection(c: Ctx) -> None:
    _setup(c)
    name = "test-ss"
    ss = c.apps.create_namespaced_stateful_set(c.ns, new_statefulset(
        name, 1, {"name": "sample-pod", "pod": WEBSERVER_NAME}))
    wait_running_and_ready(c, ss, 1)
    wait_status(c, name)
    # upstream's patch spells the grace period field with a capital T (an unknown field
    # the server drops) and names a new container, merged by name into the list
    patch = {"metadata": {"labels": {"test-ss": "patched"}},
             "spec": {"replicas": 2, "template": {"spec": {
                 "TerminationGracePeriodSeconds": 1,
                 "containers": [{"name": name, "image": PAUSE}]}}}}
    c.apps.patch_namespaced_stateful_set(name, c.ns, patch, _content_type=SMP)
    ss = c.apps.read_namespaced_stateful_set(name, c.ns)
    assert ss.spec.replicas == 2, "statefulset should have 2 replicas"
    image = ss.spec.template.spec.containers[0].image
    assert image == PAUSE, f"statefulset not using ssPatchImage. Is using {image}"
    wait_running_and_ready(c, ss, 2)
    wait_status(c, name)
    found = c.apps.list_stateful_set_for_all_namespaces(label_selector="test-ss=patched").items
    assert len(found) == 1, "filtered list wasn't found"
    c.apps.delete_collection_namespaced_stateful_set(c.ns, grace_period_seconds=1,
                                                     label_selector="test-ss=patched")
    left = c.apps.list_stateful_set_for_all_namespaces(label_selector="test-ss=patched").items
    assert not left, "filtered list should have no Statefulsets"


@conformance(S + "should validate Statefulset Status endpoints [Conformance]", basename="statefulset")
def status_endpoints(c: Ctx) -> None:
    _setup(c)
    sel = "e2e=testing"
    rv = c.apps.list_stateful_set_for_all_namespaces(label_selector=sel).metadata.resource_version
    ss = c.apps.create_namespaced_stateful_set(c.ns, new_statefulset(SS_NAME, 1, LABELS))
    wait_running_and_ready(c, ss, 1)
    wait_status(c, SS_NAME)
    c.apps.patch_namespaced_stateful_set(SS_NAME, c.ns, {"metadata": {"labels": {"e2e": "testing"}}},
                                         _content_type=SMP)
    status_update_and_patch(c, "StatefulSet", "stateful_set", SS_NAME, ("e2e", "testing"), rv,
                            SS_TIMEOUT, "statefulset")
