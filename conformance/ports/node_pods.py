"""Ports of test/e2e/common/node/pods.go (Pods) that need no real container: pods on
simulated nodes reach Running, get a host IP and are deleted gracefully."""

from __future__ import annotations

import ipaddress
import time
import uuid
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports.apps_common import PAUSE, POD_START, create_pod_sync, retry_on_conflict
from conformance.watching import Watch

P = "[sig-node] Pods "
DELETION_TIMEOUT = 180  # e2epod.DefaultPodDeletionTimeout
FOREVER = 30  # wait.ForeverTestTimeout


def restricted(pod: client.V1Pod) -> client.V1Pod:
    """upstream's MustMixinRestrictedPodSecurity: the restricted pod-security profile."""
    pod.spec.security_context = client.V1PodSecurityContext(
        run_as_non_root=True, run_as_user=1000,
        seccomp_profile=client.V1SeccompProfile(type="RuntimeDefault"))
    for ctr in pod.spec.containers:
        ctr.security_context = client.V1SecurityContext(
            allow_privilege_escalation=False, capabilities=client.V1Capabilities(drop=["ALL"]))
    return pod


def _pause_pod(name: str, labels: dict[str, str] | None = None, cname: str = "pause") -> client.V1Pod:
    return restricted(client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels),
                                   spec=client.V1PodSpec(containers=[client.V1Container(
                                       name=cname, image=PAUSE)])))


def _stamp() -> str:
    return str(time.time_ns() % 1_000_000_000)  # upstream: time.Now().Nanosecond()


@conformance(P + "should get a host IP [NodeConformance] [Conformance]", basename="pods")
def host_ip(c: Ctx) -> None:
    pod = create_pod_sync(c, _pause_pod(f"pod-hostip-{uuid.uuid4()}", cname="test"))

    def host() -> str | None:
        return c.core.read_namespaced_pod(pod.metadata.name, c.ns).status.host_ip or None
    ip = poll(host, 120, f"pod {pod.metadata.name} to get a hostIP", 5)
    ipaddress.ip_address(ip)  # a valid address, as upstream parses it


@conformance(P + "should be submitted and removed [NodeConformance] [Conformance]", basename="pods")
def submitted_and_removed(c: Ctx) -> None:
    value = _stamp()
    pod = _pause_pod(f"pod-submit-remove-{uuid.uuid4()}", {"name": "foo", "time": value})
    sel = f"time={value}"
    listed = c.core.list_namespaced_pod(c.ns, label_selector=sel)
    assert not listed.items
    w = Watch(c.api, c.core.list_namespaced_pod, "V1Pod", c.ns, label_selector=sel,
              resource_version=listed.metadata.resource_version)
    try:
        c.core.create_namespaced_pod(c.ns, pod)
        assert len(c.core.list_namespaced_pod(c.ns, label_selector=sel).items) == 1
        ev = w.next(POD_START)
        assert ev is not None and ev[0] == "ADDED", f"failed to observe pod creation: {ev}"
        name = pod.metadata.name
        poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running",
             POD_START, f"pod {name} to be running", 1)
        c.core.delete_namespaced_pod(name, c.ns, body=client.V1DeleteOptions(grace_period_seconds=30))
        last = _wait_deleted(w)
    finally:
        w.stop()
    assert last.metadata.deletion_timestamp is not None
    assert last.spec.termination_grace_period_seconds, "terminationGracePeriodSeconds is zero"
    assert not c.core.list_namespaced_pod(c.ns, label_selector=sel).items


def _wait_deleted(w: Watch) -> Any:
    deadline = time.monotonic() + DELETION_TIMEOUT
    while (left := deadline - time.monotonic()) > 0:
        ev = w.next(left)
        if ev is None:
            break
        assert ev[0] != "ERROR", f"watch closed with error: {ev[1]}"
        if ev[0] == "DELETED":
            return ev[1]
    raise AssertionError("timed out waiting for pod deletion")


@conformance(P + "should be updated [NodeConformance] [Conformance]", basename="pods")
def updated(c: Ctx) -> None:
    value = _stamp()
    name = f"pod-update-{uuid.uuid4()}"
    create_pod_sync(c, _pause_pod(name, {"name": "foo", "time": value}))
    assert len(c.core.list_namespaced_pod(c.ns, label_selector=f"time={value}").items) == 1
    new_value = _stamp()

    def update() -> Any:
        p = c.core.read_namespaced_pod(name, c.ns)
        p.metadata.labels["time"] = new_value
        return c.core.replace_namespaced_pod(name, c.ns, p)
    retry_on_conflict(update)
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running",
         POD_START, f"pod {name} to be running", 1)
    assert len(c.core.list_namespaced_pod(c.ns, label_selector=f"time={new_value}").items) == 1


@conformance(P + "should allow activeDeadlineSeconds to be updated [NodeConformance] [Conformance]",
             basename="pods")
def active_deadline(c: Ctx) -> None:
    value = _stamp()
    name = f"pod-update-activedeadlineseconds-{uuid.uuid4()}"
    create_pod_sync(c, _pause_pod(name, {"name": "foo", "time": value}))
    assert len(c.core.list_namespaced_pod(c.ns, label_selector=f"time={value}").items) == 1

    def update() -> Any:
        p = c.core.read_namespaced_pod(name, c.ns)
        p.spec.active_deadline_seconds = 5
        return c.core.replace_namespaced_pod(name, c.ns, p)
    retry_on_conflict(update)

    def terminated() -> bool:
        p = c.core.read_namespaced_pod(name, c.ns)
        return p.status.phase == "Failed" and p.status.reason == "DeadlineExceeded"
    poll(terminated, POD_START, f"pod {name} to be terminated with reason DeadlineExceeded", 1)
