"""Ports of test/e2e/apimachinery/garbage_collector.go (Garbage collector), with upstream's
timeouts (gcInformerResyncRetryTimeout of one minute added where upstream adds it). Pods
run the nginx image, so simulated nodes suffice: only their objects are counted."""

from __future__ import annotations

import itertools
import time
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, is_not_found, poll
from conformance.images import build as images

G = "[sig-api-machinery] Garbage collector "
NGINX = images.NGINX
RESYNC = 60  # gcInformerResyncRetryTimeout
REPLICA_SYNC = 120  # replicaSyncTimeout
SMP = "application/strategic-merge-patch+json"
_count = itertools.count(1)


def uniq_label(key: str, value: str) -> dict[str, str]:
    n = next(_count)
    return {f"{key}-{n:05d}": f"{value}-{n:05d}"}


def template(labels: dict[str, str]) -> client.V1PodTemplateSpec:
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(termination_grace_period_seconds=0,
                              containers=[client.V1Container(name="nginx", image=NGINX)]))


def owner_rc(name: str, replicas: int, labels: dict[str, str]) -> client.V1ReplicationController:
    return client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ReplicationControllerSpec(replicas=replicas, selector=labels,
                                                template=template(labels)))


def owner_deployment(name: str, labels: dict[str, str]) -> client.V1Deployment:
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1DeploymentSpec(replicas=2, selector=client.V1LabelSelector(match_labels=labels),
                                     strategy=client.V1DeploymentStrategy(type="RollingUpdate"),
                                     template=template(labels)))


def estimate_max_pods(c: Ctx, lo: int, hi: int) -> int:
    """Half the allocatable pods of ready schedulable nodes, bounded to [lo, hi]."""
    total = 0
    for n in c.core.list_node().items:
        ready = any(x.type == "Ready" and x.status == "True" for x in n.status.conditions or [])
        if not ready or n.spec.unschedulable:
            continue
        pods = (n.status.allocatable or {}).get("pods")
        total += int(pods) if pods and str(pods).isdigit() else 10
    return max(lo, min(hi, int(total * 0.5)))


def delete_opts(policy: str, uid: str) -> client.V1DeleteOptions:
    return client.V1DeleteOptions(propagation_policy=policy,
                                  preconditions=client.V1Preconditions(uid=uid))


def wait_for_replicas(c: Ctx, rc: Any) -> None:
    def ready() -> bool:
        cur = c.core.read_namespaced_replication_controller(rc.metadata.name, c.ns)
        return bool(cur.status.replicas == cur.spec.replicas)
    poll(ready, REPLICA_SYNC, f"rc {rc.metadata.name} status.replicas to reach spec.replicas", 1)


_LISTS = {"pods": lambda c: c.core.list_namespaced_pod(c.ns),
          "rcs": lambda c: c.core.list_namespaced_replication_controller(c.ns),
          "rs": lambda c: c.apps.list_namespaced_replica_set(c.ns),
          "deployments": lambda c: c.apps.list_namespaced_deployment(c.ns)}


def counts(c: Ctx, *kinds: str) -> dict[str, int]:
    """upstream's verifyRemainingObjects: list only the kinds asked about."""
    return {k: len(_LISTS[k](c).items) for k in kinds}


def remaining(c: Ctx, **want: int) -> bool:
    return counts(c, *want) == want


@conformance(G + "should delete pods created by rc when not orphaning [Conformance]", basename="gc")
def delete_pods_background(c: Ctx) -> None:
    labels = uniq_label("gctest", "delete_pods")
    rc = c.core.create_namespaced_replication_controller(c.ns, owner_rc("simpletest.rc", 2, labels))
    poll(lambda: c.core.list_namespaced_pod(c.ns).items, 30, "the rc to create some pods", 1)
    c.core.delete_namespaced_replication_controller(
        rc.metadata.name, c.ns, body=delete_opts("Background", rc.metadata.uid))
    poll(lambda: remaining(c, rcs=0, pods=0), 60 + RESYNC,
         "all pods to be garbage collected", 1)


def _delete_full_rc(c: Ctx, label: str, propagation: str) -> Any:
    """An rc with as many pods as the nodes take (10 to 100), all running, then deleted
    with `propagation`; the rc as created."""
    rc = c.core.create_namespaced_replication_controller(c.ns, owner_rc(
        "simpletest.rc", estimate_max_pods(c, 10, 100), uniq_label("gctest", label)))
    wait_for_replicas(c, rc)
    c.core.delete_namespaced_replication_controller(
        rc.metadata.name, c.ns, body=delete_opts(propagation, rc.metadata.uid))
    return rc


@conformance(G + "should orphan pods created by rc if delete options say so [Conformance]",
             basename="gc")
def orphan_pods(c: Ctx) -> None:
    rc = _delete_full_rc(c, "orphan_pods", "Orphan")
    poll(lambda: not c.core.list_namespaced_replication_controller(c.ns).items, 120 + RESYNC,
         "the rc to be deleted", 1)
    time.sleep(30)  # upstream: see whether the garbage collector mistakenly deletes the pods
    pods = c.core.list_namespaced_pod(c.ns).items
    assert len(pods) == rc.spec.replicas, f"expect {rc.spec.replicas} pods, got {len(pods)} pods"


def _wait_first_rs(c: Ctx) -> Any:
    return poll(lambda: c.apps.list_namespaced_replica_set(c.ns).items, 60,
                "the Deployment to create a new ReplicaSet")[0]


@conformance(G + "should delete RS created by deployment when not orphaning [Conformance]",
             basename="gc")
def delete_rs_background(c: Ctx) -> None:
    d = c.apps.create_namespaced_deployment(
        c.ns, owner_deployment("simpletest.deployment", uniq_label("gctest", "delete_rs")))
    _wait_first_rs(c)
    c.apps.delete_namespaced_deployment(d.metadata.name, c.ns,
                                        body=delete_opts("Background", d.metadata.uid))
    poll(lambda: remaining(c, deployments=0, rs=0, pods=0), 60 + RESYNC,
         "all rs to be garbage collected")


@conformance(G + "should orphan RS created by deployment when deleteOptions.PropagationPolicy "
             "is Orphan [Conformance]", basename="gc")
def orphan_rs(c: Ctx) -> None:
    d = c.apps.create_namespaced_deployment(
        c.ns, owner_deployment("simpletest.deployment", uniq_label("gctest", "orphan_rs")))
    rs = _wait_first_rs(c)

    def settled() -> bool:
        cur = c.apps.read_namespaced_replica_set(rs.metadata.name, c.ns)
        return bool((cur.status.observed_generation or 0) >= rs.metadata.generation
                    and cur.status.replicas == rs.spec.replicas)
    poll(settled, 60, f"replicaset {rs.metadata.name} status.replicas to equal spec.replicas", 0.1)
    c.apps.delete_namespaced_deployment(d.metadata.name, c.ns,
                                        body=delete_opts("Orphan", d.metadata.uid))
    poll(lambda: not c.apps.list_namespaced_deployment(c.ns).items, 60 + RESYNC,
         "the Deployment to be deleted")
    got = counts(c, "deployments", "rs", "pods")
    assert got == {"deployments": 0, "rs": 1, "pods": 2}, f"remaining objects: {got}"
    for r in c.apps.list_namespaced_replica_set(c.ns).items:
        ctrl = [o for o in r.metadata.owner_references or [] if o.controller]
        assert not ctrl, f"Found ReplicaSet with non nil ownerRef {ctrl}"


def _wait_rc_gone(c: Ctx, name: str, timeout: float) -> None:
    poll(lambda: is_not_found(lambda: c.core.read_namespaced_replication_controller(name, c.ns)),
         timeout, f"rc {name} to be deleted", 1)


@conformance(G + "should keep the rc around until all its pods are deleted if the deleteOptions "
             "says so [Conformance]", basename="gc")
def foreground_rc(c: Ctx) -> None:
    rc = _delete_full_rc(c, "delete_pods_foreground", "Foreground")
    _wait_rc_gone(c, rc.metadata.name, 30 + RESYNC)
    pods = c.core.list_namespaced_pod(c.ns).items
    assert not pods, f"expected no pods, got {[p.metadata.name for p in pods]}"


@conformance(G + "should not delete dependents that have both valid owner and owner that's "
             "waiting for dependents to be deleted [Conformance]", basename="gc")
def multiple_owners(c: Ctx) -> None:
    replicas = estimate_max_pods(c, 10, 100)
    half = replicas // 2
    rc1 = c.core.create_namespaced_replication_controller(c.ns, owner_rc(
        "simpletest-rc-to-be-deleted", replicas, uniq_label("gctest_d", "valid_and_pending_owners_d")))
    rc2 = c.core.create_namespaced_replication_controller(c.ns, owner_rc(
        "simpletest-rc-to-stay", 0, uniq_label("gctest_s", "valid_and_pending_owners_s")))
    wait_for_replicas(c, rc1)
    patch = {"metadata": {"ownerReferences": [{"apiVersion": "v1", "kind": "ReplicationController",
                                               "name": rc2.metadata.name, "uid": rc2.metadata.uid}]}}
    for pod in c.core.list_namespaced_pod(c.ns).items[:half]:
        c.core.patch_namespaced_pod(pod.metadata.name, c.ns, patch, _content_type=SMP)
    c.core.delete_namespaced_replication_controller(
        rc1.metadata.name, c.ns, body=delete_opts("Foreground", rc1.metadata.uid))
    _wait_rc_gone(c, rc1.metadata.name, 90)
    pods = c.core.list_namespaced_pod(c.ns).items
    assert len(pods) == half, f"expected {half} pods, got {len(pods)}"
    for p in pods:
        assert p.metadata.deletion_timestamp is None, f"pod {p.metadata.name} is being deleted"
        assert len(p.metadata.owner_references or []) == 1, \
            f"expected pod to only have 1 owner, got {p.metadata.owner_references}"


def _gc_pod(name: str) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        termination_grace_period_seconds=0, containers=[client.V1Container(name="nginx", image=NGINX)]))


@conformance(G + "should not be blocked by dependency circle [Conformance]", basename="gc")
def dependency_circle(c: Ctx) -> None:
    p1, p2, p3 = (c.core.create_namespaced_pod(c.ns, _gc_pod(n)) for n in ("pod1", "pod2", "pod3"))

    def ref(p: Any) -> dict[str, Any]:
        return {"metadata": {"ownerReferences": [{
            "apiVersion": "v1", "kind": "Pod", "name": p.metadata.name, "uid": p.metadata.uid,
            "controller": True, "blockOwnerDeletion": True}]}}
    p1 = c.core.patch_namespaced_pod("pod1", c.ns, ref(p3), _content_type=SMP)
    p2 = c.core.patch_namespaced_pod("pod2", c.ns, ref(p1), _content_type=SMP)
    c.core.patch_namespaced_pod("pod3", c.ns, ref(p2), _content_type=SMP)
    c.core.delete_namespaced_pod("pod1", c.ns, body=delete_opts("Foreground", p1.metadata.uid))
    poll(lambda: not c.core.list_namespaced_pod(c.ns).items, 90 + RESYNC,
         "all pods to be deleted", 1)
