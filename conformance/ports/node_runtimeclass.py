"""Port of test/e2e/common/node/runtimeclass.go: RuntimeClass admission (unknown and
deleted classes refused, overhead copied into the pod) and the node.k8s.io API."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, is_not_found, poll
from conformance.ports.api_groups import (
    added_or_annotated,
    annotate_and_watch,
    calls_of,
    check_discovery,
    delete_then_collection,
)

RC = "[sig-node] RuntimeClass "
PRECONFIGURED = "test-handler"  # e2eruntimeclass.PreconfiguredRuntimeClassHandler


def _runtime_class(name: str, handler: str, overhead: dict[str, str] | None = None,
                   labels: dict[str, str] | None = None) -> client.V1RuntimeClass:
    return client.V1RuntimeClass(
        metadata=client.V1ObjectMeta(name=name, labels=labels), handler=handler,
        overhead=client.V1Overhead(pod_fixed=overhead) if overhead else None)


def _create(c: Ctx, name: str, handler: str, overhead: dict[str, str] | None = None) -> str:
    """createRuntimeClass: a class named after the namespace, so parallel runs differ."""
    unique = f"{c.ns}-{name}"
    client.NodeV1Api(c.api).create_runtime_class(_runtime_class(unique, handler, overhead))
    return unique


def _pod(rc_name: str) -> client.V1Pod:
    """e2eruntimeclass.NewRuntimeClassPod: one busybox container that exits at once."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="test-runtimeclass-"),
        spec=client.V1PodSpec(runtime_class_name=rc_name, restart_policy="Never",
                              automount_service_account_token=False,
                              containers=[client.V1Container(name="test", image="busybox",
                                                             command=["true"])]))


def _expect_rejection(c: Ctx, rc_name: str) -> None:
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, _pod(rc_name)), 403)


def _scheduled_pod(c: Ctx, created: Any) -> Any:
    """WaitForPodsWithLabelScheduled with an empty selector: the namespace's one pod."""
    def scheduled() -> Any:
        pods = c.core.list_namespaced_pod(c.ns).items
        return pods if pods and all(p.spec.node_name for p in pods) else None
    pods = poll(scheduled, 300, "the pod to be scheduled", interval=2)
    assert len(pods) == 1, f"expected one pod, got {len(pods)}"
    assert pods[0].metadata.name == created.metadata.name
    return pods[0]


@conformance(RC + "should reject a Pod requesting a non-existent RuntimeClass [NodeConformance] "
             "[Conformance]", basename="runtimeclass")
def nonexistent(c: Ctx) -> None:
    _expect_rejection(c, c.ns + "-nonexistent")


@conformance(RC + "should schedule a Pod requesting a RuntimeClass without PodOverhead "
             "[NodeConformance] [Conformance]", basename="runtimeclass")
def without_overhead(c: Ctx) -> None:
    name = _create(c, "preconfigured-handler", PRECONFIGURED)
    try:
        pod = _scheduled_pod(c, c.core.create_namespaced_pod(c.ns, _pod(name)))
        assert not pod.spec.overhead, f"overhead should not be set, got {pod.spec.overhead}"
    finally:
        client.NodeV1Api(c.api).delete_runtime_class(name)


@conformance(RC + "should schedule a Pod requesting a RuntimeClass and initialize its Overhead "
             "[NodeConformance] [Conformance]", basename="runtimeclass")
def with_overhead(c: Ctx) -> None:
    name = _create(c, "preconfigured-handler", PRECONFIGURED, {"cpu": "10m", "memory": "1Mi"})
    try:
        pod = _scheduled_pod(c, c.core.create_namespaced_pod(c.ns, _pod(name)))
        overhead = pod.spec.overhead or {}
        assert overhead.get("cpu") == "10m", f"cpu overhead: {overhead}"
        assert overhead.get("memory") == "1Mi", f"memory overhead: {overhead}"
    finally:
        client.NodeV1Api(c.api).delete_runtime_class(name)


@conformance(RC + "should reject a Pod requesting a deleted RuntimeClass [NodeConformance] "
             "[Conformance]", basename="runtimeclass")
def deleted(c: Ctx) -> None:
    name = _create(c, "delete-me", "runc")
    client.NodeV1Api(c.api).delete_runtime_class(name)
    poll(lambda: is_not_found(lambda: client.NodeV1Api(c.api).read_runtime_class(name)), 60,
         "the RuntimeClass to disappear", interval=2)

    def rejected() -> bool:
        try:
            _expect_rejection(c, name)
            return True
        except AssertionError:
            return False
    poll(rejected, 300, "the pod to be rejected", interval=2)


@conformance(RC + "should support RuntimeClasses API operations [Conformance]",
             basename="runtimeclass")
def api_operations(c: Ctx) -> None:
    unique = c.ns  # f.UniqueName
    labels = {"test": unique}
    rcs = [_runtime_class(f"{unique}-conformance-runtime-class{s}", f"{unique}-handler{s}",
                          labels=labels) for s in ("", "2", "3")]
    api, selector = client.NodeV1Api(c.api), f"test={unique}"
    rc = calls_of(api, "runtime_class", "V1RuntimeClass")
    check_discovery(c, "node.k8s.io", "v1", "runtimeclasses")
    created = api.create_runtime_class(rcs[0])
    expect_api_error(lambda: api.create_runtime_class(rcs[0]), 409)
    api.create_runtime_class(rcs[1])
    w = rc.watch(c, label_selector=selector)
    api.create_runtime_class(rcs[2])
    assert rc.read(rcs[0].metadata.name).metadata.uid == created.metadata.uid
    assert len(rc.list(label_selector=selector).items) == 3, "filtered list should have 3 items"
    annotate_and_watch(rc, created.metadata.name, w, wait=added_or_annotated)
    delete_then_collection(rc, created.metadata.name, label_selector=selector)
