"""Ports of test/e2e/kubectl/kubectl.go's conformance tests built on the agnhost primary
ReplicationController (upstream's testing-manifests/kubectl/agnhost-primary-controller
.json.in and agnhost-primary-service.json, reproduced below): describe, expose, patch."""

from __future__ import annotations

import json
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.images import build as images
from conformance.ports.node_common import logs_eventually

K = "Kubectl client › "
POD_START = 300       # framework.PodStartTimeout
SERVICE_START = 120   # framework.ServiceStartTimeout
LABELS = {"app": "agnhost", "role": "primary"}
PORT = 6379


def _controller() -> str:
    return json.dumps({
        "kind": "ReplicationController", "apiVersion": "v1",
        "metadata": {"name": "agnhost-primary", "labels": LABELS},
        "spec": {"replicas": 1, "selector": LABELS, "template": {
            "metadata": {"labels": LABELS},
            "spec": {"containers": [{"name": "agnhost-primary", "image": images.AGNHOST,
                                     "ports": [{"name": "agnhost-server", "containerPort": PORT}]}]}}}})


def _service() -> str:
    return json.dumps({
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "agnhost-primary", "labels": LABELS},
        "spec": {"ports": [{"port": PORT, "targetPort": "agnhost-server"}], "selector": LABELS}})


def _running_agnhost(c: Ctx) -> list[Any]:
    pods = c.core.list_namespaced_pod(c.ns, label_selector="app=agnhost").items
    return [p for p in pods if p.status.phase == "Running"]


def wait_for_pods(c: Ctx, at_least: int = 1) -> list[Any]:
    """upstream's waitForOrFailWithDebug: app=agnhost pods in phase Running."""
    return poll(lambda: (lambda ps: ps if len(ps) >= at_least else None)(_running_agnhost(c)),  # type: ignore[no-any-return]
                POD_START, f"{at_least} running agnhost pod(s)", 2)


def for_each_pod(c: Ctx, fn: Callable[[Any], None]) -> None:
    """upstream's forEachPod: every running app=agnhost pod, read afresh."""
    for p in wait_for_pods(c):
        fn(p)


def check_output(output: str, required: list[list[str]]) -> None:
    """upstream's checkOutput: each group's first string is looked for from the line the
    previous group matched on; the group's other strings must be on that same line."""
    lines, i = output.split("\n"), 0
    for group in required:
        while i < len(lines) and group[0] not in lines[i]:
            i += 1
        assert i < len(lines), f"failed to find {group[0]!r} in {output}"
        for item in group[1:]:
            assert item in lines[i], f"failed to find {item!r} in {lines[i]!r}"


@conformance(K + "describe prints relevant information for rc and pods", basename="kubectl")
def describe(c: Ctx) -> None:
    ns = c.ns
    c.kubectl("create", "-n", ns, "-f", "-", input=_controller())
    c.kubectl("create", "-n", ns, "-f", "-", input=_service())
    wait_for_pods(c)
    for_each_pod(c, lambda pod: check_output(c.kubectl("describe", "-n", ns, "pod", pod.metadata.name).stdout, [
        ["Name:", "agnhost-primary-"], ["Namespace:", ns], ["Node:"], ["Labels:", "app=agnhost"],
        ["role=primary"], ["Annotations:"], ["Status:", "Running"], ["IP:"],
        ["Controlled By:", "ReplicationController/agnhost-primary"], ["Image:", images.AGNHOST],
        ["State:", "Running"], ["QoS Class:", "BestEffort"]]))
    rc_required = [["Name:", "agnhost-primary"], ["Namespace:", ns], ["Selector:", "app=agnhost,role=primary"],
                   ["Labels:", "app=agnhost"], ["role=primary"], ["Annotations:"],
                   ["Replicas:", "1 current", "1 desired"],
                   ["Pods Status:", "1 Running", "0 Waiting", "0 Succeeded", "0 Failed"],
                   ["Pod Template:"], ["Image:", images.AGNHOST], ["Events:"]]
    last: list[str] = [""]

    def rc_ok() -> bool:  # upstream's checkKubectlOutputWithRetry
        last[0] = c.kubectl("describe", "-n", ns, "rc", "agnhost-primary").stdout
        try:
            check_output(last[0], rc_required)
        except AssertionError:
            return False
        return True
    try:
        poll(rc_ok, 60, "kubectl describe rc to show the expected lines", 1)
    except AssertionError:
        check_output(last[0], rc_required)  # fails with the line that is missing
    check_output(c.kubectl("describe", "-n", ns, "service", "agnhost-primary").stdout, [
        ["Name:", "agnhost-primary"], ["Namespace:", ns], ["Labels:", "app=agnhost"], ["role=primary"],
        ["Annotations:"], ["Selector:", "app=agnhost", "role=primary"], ["Type:", "ClusterIP"], ["IP:"],
        ["Port:", "<unset>", "6379/TCP"], ["Endpoints:"], ["Session Affinity:", "None"]])
    node = c.core.list_node().items[0].metadata.name
    check_output(c.kubectl("describe", "node", node).stdout, [
        ["Name:", node], ["Labels:"], ["Annotations:"], ["CreationTimestamp:"], ["Conditions:"],
        ["Type", "Status", "LastHeartbeatTime", "LastTransitionTime", "Reason", "Message"],
        ["Addresses:"], ["Capacity:"], ["Version:"], ["Kernel Version:"], ["OS Image:"],
        ["Container Runtime Version:"], ["Kubelet Version:"], ["Kube-Proxy Version:"], ["Pods:"]])
    check_output(c.kubectl("describe", "namespace", ns).stdout, [
        ["Name:", ns], ["Labels:"], ["Annotations:"], ["Status:", "Active"]])


def _validate_service(c: Ctx, name: str, port: int) -> None:
    """The Service's slices list exactly one pod, on agnhost's port; its one port is
    `port`, targeting agnhost's."""
    def one_endpoint() -> bool:
        slices = client.DiscoveryV1Api(c.api).list_namespaced_endpoint_slice(
            c.ns, label_selector=f"kubernetes.io/service-name={name}").items
        by_uid: dict[str, list[int]] = {}
        for s in slices:
            for e in s.endpoints or []:
                if e.target_ref and e.target_ref.kind == "Pod":
                    by_uid.setdefault(e.target_ref.uid, []).extend(p.port for p in s.ports or [])
        assert len(by_uid) <= 1, "Too many endpoints found"
        for ports in by_uid.values():
            assert ports and ports[0] == PORT, f"Wrong endpoint port: {ports}"
        return len(by_uid) == 1
    poll(one_endpoint, SERVICE_START, f"an endpoint of service {name}", 2)
    svc = c.core.read_namespaced_service(name, c.ns)
    assert len(svc.spec.ports) == 1, "1 port is expected"
    assert svc.spec.ports[0].port == port, f"Wrong service port: {svc.spec.ports[0].port}"
    assert svc.spec.ports[0].target_port == PORT, f"Wrong target port: {svc.spec.ports[0].target_port}"


@conformance(K + "expose should create services for rc", basename="kubectl", needs=("containers",))
def expose(c: Ctx) -> None:
    ns = c.ns
    c.kubectl("create", "-n", ns, "-f", "-", input=_controller())
    wait_for_pods(c)
    for_each_pod(c, lambda pod: logs_eventually(c, pod.metadata.name, "agnhost-primary", "Paused",
                                                POD_START))
    for src, name, port in (("rc/agnhost-primary", "rm2", 1234), ("service/rm2", "rm3", 2345)):
        kind, obj = src.split("/")
        c.kubectl("expose", "-n", ns, kind, obj, f"--name={name}", f"--port={port}",
                  f"--target-port={PORT}")
        poll(lambda n=name: c.core.read_namespaced_service(n, ns), SERVICE_START, f"service {name}", 2)
        _validate_service(c, name, port)


@conformance(K + "patch should add annotations for pods in rc", basename="kubectl")
def patch(c: Ctx) -> None:
    ns = c.ns
    c.kubectl("create", "-n", ns, "-f", "-", input=_controller())
    wait_for_pods(c)
    for_each_pod(c, lambda pod: c.kubectl("patch", "-n", ns, "pod", pod.metadata.name, "-p",
                                          '{"metadata":{"annotations":{"x":"y"}}}'))
    for_each_pod(c, lambda pod: _has_annotation(pod))


def _has_annotation(pod: Any) -> None:
    assert (pod.metadata.annotations or {}).get("x") == "y", "Added annotation not found"
