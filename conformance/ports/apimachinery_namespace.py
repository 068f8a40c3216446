"""Ports of test/e2e/apimachinery/namespace.go (Namespaces [Serial], OrderedNamespaceDeletion)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, is_not_found, poll
from conformance.images import build as images
from conformance.ports.apps_common import retry_on_conflict

N = "[sig-api-machinery] Namespaces [Serial] "
PAUSE = images.PAUSE
SMP = "application/strategic-merge-patch+json"
FAKE_FINALIZER = "e2e.example.com/fakeFinalizer"


def _gone(c: Ctx, ns: str, timeout: float) -> None:
    poll(lambda: is_not_found(lambda: c.core.read_namespace(ns)), timeout,
         f"namespace {ns} to be removed", interval=1)


def _pod_running(c: Ctx, ns: str, name: str) -> None:
    # upstream's WaitForPodRunningInNamespace: pod start timeout of 5 minutes
    poll(lambda: c.core.read_namespaced_pod(name, ns).status.phase == "Running", 300,
         f"pod {name} to be running")


@conformance(N + "should ensure that all pods are removed when a namespace is deleted "
             "[Conformance]", basename="namespaces")
def pods_removed(c: Ctx) -> None:
    ns = c.create_namespace("nsdeletetest")
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="test-pod"), spec=client.V1PodSpec(
        containers=[client.V1Container(name="nginx", image=PAUSE)]))
    pod = c.core.create_namespaced_pod(ns, pod)
    _pod_running(c, ns, "test-pod")
    c.core.delete_namespace(ns)
    _gone(c, ns, 60 + (pod.spec.termination_grace_period_seconds or 0))
    ns2 = c.create_namespace("nsdeletetest")
    expect_api_error(lambda: c.core.read_namespaced_pod("test-pod", ns2))


@conformance(N + "should ensure that all services are removed when a namespace is deleted "
             "[Conformance]", basename="namespaces")
def services_removed(c: Ctx) -> None:
    ns = c.create_namespace("nsdeletetest")
    svc = client.V1Service(metadata=client.V1ObjectMeta(name="test-service"),
                           spec=client.V1ServiceSpec(selector={"foo": "bar", "baz": "blah"},
                                                     ports=[client.V1ServicePort(port=80, target_port=80)]))
    c.core.create_namespaced_service(ns, svc)
    c.core.delete_namespace(ns)
    _gone(c, ns, 60)
    ns2 = c.create_namespace("nsdeletetest")
    expect_api_error(lambda: c.core.read_namespaced_service("test-service", ns2))


@conformance(N + "should patch a Namespace [Conformance]", basename="namespaces")
def patch_namespace(c: Ctx) -> None:
    name = c.create_namespace("nspatchtest")
    before = c.core.read_namespace(name)
    assert before.metadata.resource_version, "namespace has no resourceVersion"
    patched = c.core.patch_namespace(name, {"metadata": {"labels": {"testLabel": "testValue"}}},
                                   _content_type=SMP)
    assert int(patched.metadata.resource_version) > int(before.metadata.resource_version), \
        "patched object should have a larger resource version"
    got = c.core.read_namespace(name)
    assert (got.metadata.labels or {}).get("testLabel") == "testValue", "namespace not patched"




@conformance(N + "should apply changes to a namespace status [Conformance]",
             basename="namespaces")
def namespace_status(c: Ctx) -> None:
    ns = c.ns
    st = c.core.read_namespace_status(ns)
    assert st.status.phase == "Active", f"The phase returned was {st.status.phase}"
    cond = {"type": "StatusPatch", "status": "True", "reason": "E2E",
            "message": "Patched by an e2e test"}
    # upstream sends a JSON merge patch: the content type is set explicitly
    patched = _merge_patch_status(c, ns, {"metadata": {"annotations": {"e2e-patched-ns-status": ns}},
                                          "status": {"conditions": [cond]}})
    assert (patched.metadata.annotations or {}).get("e2e-patched-ns-status") == ns, \
        "patched object should have the applied annotation"
    last = patched.status.conditions[-1]
    assert last.reason == "E2E" and last.message == "Patched by an e2e test", last

    def update() -> Any:
        cur = c.core.read_namespace_status(ns)
        cur.status.conditions = (cur.status.conditions or []) + [client.V1NamespaceCondition(
            type="StatusUpdate", status="True", reason="E2E", message="Updated by an e2e test")]
        return c.core.replace_namespace_status(ns, cur)
    updated = retry_on_conflict(update)
    last = updated.status.conditions[-1]
    assert last.type == "StatusUpdate", updated.status.conditions
    assert last.message == "Updated by an e2e test", last


def _merge_patch_status(c: Ctx, ns: str, body: dict[str, Any]) -> Any:
    return c.core.patch_namespace_status(ns, body, _content_type="application/merge-patch+json")


@conformance(N + "should apply an update to a Namespace [Conformance]", basename="namespaces")
def update_namespace(c: Ctx) -> None:
    ns = c.ns

    def update() -> Any:
        cur = c.core.read_namespace(ns)
        cur.metadata.labels[ns] = "updated"
        return c.core.replace_namespace(ns, cur)
    updated = retry_on_conflict(update)
    assert updated.metadata.labels.get(ns) == "updated", updated.metadata.labels


@conformance(N + "should apply a finalizer to a Namespace [Conformance]", basename="namespaces")
def finalizer(c: Ctx) -> None:
    ns = c.create_namespace("e2e-ns")

    def add() -> Any:
        cur = c.core.read_namespace(ns)
        cur.spec.finalizers = (cur.spec.finalizers or []) + [FAKE_FINALIZER]
        return c.core.replace_namespace_finalize(ns, cur)
    updated = retry_on_conflict(add)
    assert FAKE_FINALIZER in (updated.spec.finalizers or []), \
        f"Finalizer {FAKE_FINALIZER} was not found: {updated.spec.finalizers}"

    def remove() -> Any:
        cur = c.core.read_namespace(ns)
        cur.spec.finalizers = [f for f in cur.spec.finalizers or [] if f != FAKE_FINALIZER]
        return c.core.replace_namespace_finalize(ns, cur)
    updated = retry_on_conflict(remove)
    assert FAKE_FINALIZER not in (updated.spec.finalizers or []), \
        f"Finalizer {FAKE_FINALIZER} was found: {updated.spec.finalizers}"


POD_FINALIZER = "e2e.example.com/finalizer"
NS_DELETION = 300  # framework.DefaultNamespaceDeletionTimeout


@conformance("OrderedNamespaceDeletion › namespace deletion should delete pod first",
             basename="namespacedeletion")
def ordered_deletion(c: Ctx) -> None:
    ns = c.create_namespace("nsdeletetest")
    c.core.create_namespaced_pod(ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name="test-pod", finalizers=[POD_FINALIZER]),
        spec=client.V1PodSpec(containers=[client.V1Container(name="nginx", image=PAUSE)])))
    try:
        _ordered_deletion(c, ns)
    finally:  # a finalizer left behind would keep the namespace forever
        _drop_pod_finalizers(c, ns, "test-pod")
    poll(lambda: is_not_found(lambda: c.core.read_namespaced_pod("test-pod", ns)), 300,
         "the pod to be gone", 2)  # f.Timeouts.PodDelete
    _gone(c, ns, NS_DELETION)


def _ordered_deletion(c: Ctx, ns: str) -> None:
    _pod_running(c, ns, "test-pod")
    c.core.create_namespaced_config_map(ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name="test-configmap"), data={"key": "value"}))
    c.core.delete_namespace(ns)

    def processed() -> bool:
        got = c.core.read_namespace(ns)  # a 404 here fails: deleted unexpectedly
        return bool(got.status.phase == "Terminating" and any(
            k.type == "NamespaceDeletionContentFailure" for k in got.status.conditions or []))
    poll(processed, NS_DELETION, f"namespace {ns} to be processed by the namespace controller", 2)

    def pod_first() -> bool:
        c.core.read_namespaced_config_map("test-configmap", ns)  # must still exist
        return c.core.read_namespaced_pod("test-pod", ns).metadata.deletion_timestamp is not None
    poll(pod_first, NS_DELETION, "the pod to be deleted before the configmap", 2)


def _drop_pod_finalizers(c: Ctx, ns: str, name: str) -> None:
    def drop() -> Any:
        pod = c.core.read_namespaced_pod(name, ns)
        pod.metadata.finalizers = []
        return c.core.replace_namespaced_pod(name, ns, pod)
    try:
        retry_on_conflict(drop)
    except client.ApiException as e:
        if e.status != 404:
            raise
