"""Ports of test/e2e/scheduling/predicates.go ([Serial]: they label the cluster's nodes and
count every pod on them) and of test/e2e/architecture/conformance.go.

Upstream's pause pods run registry.k8s.io/pause; this port runs kapi/pause:latest, which
every kapi node has, so the tests also pass where nodes run real containers.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, poll

PAUSE = "kapi/pause:latest"
SP = "[sig-scheduling] SchedulerPredicates [Serial] "
POD_START = 300  # framework.PodStartTimeout
EVENT_WAIT = 120  # observeEventAfterAction's wait for the scheduler's event
NO_SCHEDULE = ("NoSchedule", "NoExecute")


# -- upstream's helpers ------------------------------------------------------------------
def ready_schedulable_nodes(c: Ctx) -> list[Any]:
    """GetReadySchedulableNodes: Ready, not cordoned, no NoSchedule/NoExecute taint."""
    out = []
    for n in c.core.list_node().items:
        ready = any(x.type == "Ready" and x.status == "True" for x in n.status.conditions or [])
        tainted = any(t.effect in NO_SCHEDULE for t in n.spec.taints or [])
        if ready and not n.spec.unschedulable and not tainted:
            out.append(n)
    return out


def pause_pod(name: str, *, labels: dict[str, str] | None = None,
              node_selector: dict[str, str] | None = None, cpu_milli: int | None = None,
              affinity: client.V1Affinity | None = None,
              ports: list[client.V1ContainerPort] | None = None) -> client.V1Pod:
    resources = None
    if cpu_milli is not None:
        q = {"cpu": f"{cpu_milli}m"}
        resources = client.V1ResourceRequirements(limits=q, requests=q)
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {"name": name}),
        spec=client.V1PodSpec(node_selector=node_selector, affinity=affinity,
                              containers=[client.V1Container(name=name, image=PAUSE,
                                                             resources=resources,
                                                             ports=ports)]))


def wait_stable(c: Ctx) -> None:
    """WaitForStableCluster: every pod in the cluster is scheduled."""
    def stable() -> bool:
        pods = c.core.list_pod_for_all_namespaces().items
        return all(p.spec.node_name or p.metadata.deletion_timestamp
                   or p.status.phase in ("Succeeded", "Failed") for p in pods
                   if p.metadata.namespace != c.ns)
    poll(stable, 600, "every pod in the cluster scheduled", 1)


def _scheduling_event(c: Ctx, pod: str, success: bool) -> Callable[[], bool]:
    prefix = f"Successfully assigned {c.ns}/{pod} to "

    def seen() -> bool:
        for e in c.core.list_namespaced_event(c.ns).items:
            obj = e.involved_object
            if obj.kind != "Pod" or obj.name != pod:
                continue
            if success and e.reason == "Scheduled" and (e.message or "").startswith(prefix):
                return True
            if not success and "FailedScheduling" in (e.reason or ""):
                return True
        return False
    return seen


def wait_for_scheduler_after(c: Ctx, action: Callable[[], Any], pod: str, success: bool) -> None:
    """WaitForSchedulerAfterAction: do `action`, then see the scheduler's event for `pod`."""
    action()
    what = "success" if success else "failed"
    poll(_scheduling_event(c, pod, success), EVENT_WAIT,
         f"a {what} scheduling event for pod {pod}", 1)


def verify_result(c: Ctx, workers: set[str], scheduled: int, not_scheduled: int) -> None:
    """verifyResult: count the namespace's pods scheduled on worker nodes and those the
    scheduler marked Unschedulable."""
    done, pending = [], []
    for p in c.core.list_namespaced_pod(c.ns).items:
        cond = next((x for x in p.status.conditions or [] if x.type == "PodScheduled"), None)
        if p.spec.node_name and p.spec.node_name in workers:
            assert cond is not None and cond.status == "True", \
                f"{p.metadata.name} has nodeName but PodScheduled is {cond}"
            done.append(p.metadata.name)
        elif not p.spec.node_name:
            assert cond is not None and cond.status == "False" and cond.reason == "Unschedulable", \
                f"{p.metadata.name} is not scheduled but its PodScheduled is {cond}"
            pending.append(p.metadata.name)
    assert len(pending) == not_scheduled, f"not scheduled pods: {pending}"
    assert len(done) == scheduled, f"scheduled pods: {done}"


def label_node(c: Ctx, node: str, key: str, value: str | None) -> None:
    c.core.patch_node(node, {"metadata": {"labels": {key: value}}})


def node_that_can_run_pod(c: Ctx) -> str:
    """GetNodeThatCanRunPod: where a plain pod lands (the pod is deleted again)."""
    name = "without-label"
    c.core.create_namespaced_pod(c.ns, pause_pod(name))
    node = poll(lambda: c.core.read_namespaced_pod(name, c.ns).spec.node_name, POD_START,
                f"pod {name} scheduled", 0.5)
    c.core.delete_namespaced_pod(name, c.ns, grace_period_seconds=0)
    poll(lambda: not [p for p in c.core.list_namespaced_pod(c.ns).items
                      if p.metadata.name == name], 60, f"pod {name} gone", 0.5)
    return str(node)


def running(c: Ctx, name: str) -> bool:
    return bool(c.core.read_namespaced_pod(name, c.ns).status.phase == "Running")


# -- the tests ------------------------------------------------------------------------------
@conformance(SP + "validates resource limits of pods that are allowed to run [Conformance]",
             basename="sched-pred")
def resource_limits(c: Ctx) -> None:
    workers = {n.metadata.name for n in ready_schedulable_nodes(c)}
    wait_stable(c)
    free: dict[str, int] = {}
    biggest = 0
    for n in ready_schedulable_nodes(c):
        label_node(c, n.metadata.name, "node", n.metadata.name)
        cpu = milli((n.status.allocatable or {}).get("cpu", "0"))
        free[n.metadata.name] = cpu
        biggest = max(biggest, cpu)
    try:
        for p in c.core.list_pod_for_all_namespaces().items:
            if p.spec.node_name in free and p.status.phase not in ("Succeeded", "Failed"):
                free[p.spec.node_name] -= requested_cpu(p)
        fillers = []
        for node, cpu in free.items():
            name = f"filler-pod-{uuid.uuid4()}"
            c.core.create_namespaced_pod(c.ns, pause_pod(
                name, cpu_milli=cpu * 7 // 10, affinity=_node_in("node", [node])))
            fillers.append(name)
        for name in fillers:
            poll(lambda name=name: running(c, name), POD_START, f"{name} running", 1)
        extra = pause_pod("additional-pod", labels={"name": "additional"},
                          cpu_milli=biggest * 5 // 10)
        wait_for_scheduler_after(c, lambda: c.core.create_namespaced_pod(c.ns, extra),
                                 "additional-pod", success=False)
        verify_result(c, workers, len(fillers), 1)
    finally:
        for node in free:
            label_node(c, node, "node", None)


@conformance(SP + "validates that NodeSelector is respected if not matching [Conformance]",
             basename="sched-pred")
def node_selector_not_matching(c: Ctx) -> None:
    workers = {n.metadata.name for n in ready_schedulable_nodes(c)}
    wait_stable(c)
    pod = pause_pod("restricted-pod", labels={"name": "restricted"},
                    node_selector={"label": "nonempty"})
    wait_for_scheduler_after(c, lambda: c.core.create_namespaced_pod(c.ns, pod),
                             "restricted-pod", success=False)
    verify_result(c, workers, 0, 1)


@conformance(SP + "validates that NodeSelector is respected if matching [Conformance]",
             basename="sched-pred")
def node_selector_matching(c: Ctx) -> None:
    node = node_that_can_run_pod(c)
    key, value = f"kubernetes.io/e2e-{uuid.uuid4()}", "42"
    label_node(c, node, key, value)
    try:
        assert (c.core.read_node(node).metadata.labels or {}).get(key) == value
        c.core.create_namespaced_pod(c.ns, pause_pod("with-labels", node_selector={key: value}))
        poll(lambda: c.core.read_namespaced_pod("with-labels", c.ns).status.phase != "Pending",
             POD_START, "pod with-labels not pending", 1)
        got = c.core.read_namespaced_pod("with-labels", c.ns).spec.node_name
        assert got == node, f"scheduled on {got}, expected {node}"
    finally:
        label_node(c, node, key, None)


@conformance(SP + "validates that there exists conflict between pods with same hostPort and "
             "protocol but one using 0.0.0.0 hostIP [Conformance]", basename="sched-pred")
def host_port_conflict(c: Ctx) -> None:
    node = node_that_can_run_pod(c)
    host_ip = next(a.address for a in c.core.read_node(node).status.addresses or []
                   if a.type == "InternalIP")
    key, value = f"kubernetes.io/e2e-{uuid.uuid4()}", "95"
    label_node(c, node, key, value)
    try:
        port = 54322
        _host_port_pod(c, "pod4", "", port, {key: value}, scheduled=True)
        _host_port_pod(c, "pod5", host_ip, port, {key: value}, scheduled=False)
    finally:
        label_node(c, node, key, None)


def _host_port_pod(c: Ctx, name: str, host_ip: str, port: int, selector: dict[str, str], *,
                   scheduled: bool) -> None:
    """createHostPortPodOnNode: a pod holding hostPort `port` on `host_ip` (all if empty)."""
    ports = [client.V1ContainerPort(container_port=8080, host_port=port, protocol="TCP",
                                    host_ip=host_ip or None)]
    c.core.create_namespaced_pod(c.ns, pause_pod(name, node_selector=selector, ports=ports))
    if scheduled:
        poll(lambda: running(c, name), POD_START, f"{name} running", 1)
        return

    def unschedulable() -> bool:
        p = c.core.read_namespaced_pod(name, c.ns)
        return not p.spec.node_name and any(
            x.type == "PodScheduled" and x.status == "False" and x.reason == "Unschedulable"
            for x in p.status.conditions or [])
    poll(unschedulable, 60, f"{name} unschedulable", 1)  # f.Timeouts.PodStartShort


@conformance("[sig-architecture] Conformance Tests should have at least two untainted nodes "
             "[Conformance]", basename="conformance-tests")
def two_untainted_nodes(c: Ctx) -> None:
    nodes = ready_schedulable_nodes(c)
    assert len(nodes) >= 2, f"Conformance requires at least two nodes, found {len(nodes)}"


# -- quantities ---------------------------------------------------------------------------
def milli(q: str) -> int:
    """A CPU quantity in millicores ("2", "1500m", "0.5")."""
    q = str(q)
    if q.endswith("m"):
        return int(q[:-1])
    return int(round(float(q) * 1000))


def requested_cpu(pod: Any) -> int:
    """getRequestedCPU: the sum of the containers' cpu requests, in millicores."""
    return sum(milli((ctr.resources.requests or {}).get("cpu", "0"))
               for ctr in pod.spec.containers if ctr.resources and ctr.resources.requests)


def _node_in(key: str, values: list[str]) -> client.V1Affinity:
    req = client.V1NodeSelectorRequirement(key=key, operator="In", values=values)
    return client.V1Affinity(node_affinity=client.V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=client.V1NodeSelector(
            node_selector_terms=[client.V1NodeSelectorTerm(match_expressions=[req])])))
