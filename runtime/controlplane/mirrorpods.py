"""Mirror pods of the control plane: kube-system shows the components `kapi up` runs
(kube-apiserver, kube-controller-manager, kube-scheduler, and with Docker nodes
kube-proxy and kube-dns, kapi's service proxy and cluster DNS) as kubeadm and kind show
theirs, one pod each named `<component>-<node>` on the node the control plane runs on.

That node is the host's own Docker node: the only node that is this machine. Each pod
carries upstream's mirror-pod marks (the `kubernetes.io/config.mirror` annotation, an
owner reference to its Node), so kubelets leave it alone and the garbage collector
removes it with the node. Its status says only what is true: Running and Ready since
this run started while the component's task is alive, not Ready once it has ended; the
pods are deleted when the components stop. An API client only; never runs anything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from typing import Any, Callable

import httpx

from runtime.client.resources import NODES, PODS
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)

Obj = dict[str, Any]
NAMESPACE = "kube-system"
MIRROR = "kubernetes.io/config.mirror"
Alive = Callable[[], bool]


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def mirror_pod(component: str, node: Obj, run_hash: str, seen: str) -> Obj:
    name = node["metadata"]["name"]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{component}-{name}", "namespace": NAMESPACE,
            "labels": {"component": component, "tier": "control-plane"},
            "annotations": {MIRROR: run_hash, "kubernetes.io/config.hash": run_hash,
                            "kubernetes.io/config.seen": seen,
                            "kubernetes.io/config.source": "file"},
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": name,
                                 "uid": node["metadata"]["uid"], "controller": True}]},
        "spec": {"nodeName": name, "hostNetwork": True, "restartPolicy": "Always",
                 "containers": [{"name": component, "image": "kapi",
                                 "imagePullPolicy": "Never", "command": ["kapi", "up"]}],
                 "tolerations": [{"operator": "Exists", "effect": "NoExecute"}]},
    }


def pod_status(component: str, node: Obj, started: str, alive: bool) -> Obj:
    """Running and Ready while the component runs; its container terminated once not."""
    ip = next((a["address"] for a in (node.get("status") or {}).get("addresses") or []
               if a.get("type") == "InternalIP"), "")
    ready = "True" if alive else "False"
    conditions = [{"type": t, "status": s, "lastProbeTime": None,
                   "lastTransitionTime": started} for t, s in (
        ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", ready),
        ("ContainersReady", ready), ("PodScheduled", "True"))]
    state = ({"running": {"startedAt": started}} if alive else
             {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started}})
    status: Obj = {"phase": "Running" if alive else "Failed", "conditions": conditions,
                   "startTime": started, "qosClass": "BestEffort",
                   "containerStatuses": [{"name": component, "state": state, "lastState": {},
                                          "ready": alive, "restartCount": 0, "image": "kapi",
                                          "imageID": "", "started": alive}]}
    if ip:
        status |= {"hostIP": ip, "hostIPs": [{"ip": ip}], "podIP": ip, "podIPs": [{"ip": ip}]}
    return status


async def publish(client: Client, *, node_name: str, components: dict[str, Alive],
                  period: float = 5.0) -> None:
    """Keep the mirror pods of `components` (name -> is its task alive) on node_name until
    cancelled, then delete them."""
    node = await _wait_for_node(client, node_name, period)
    run_hash, started = uuid.uuid4().hex, _now()
    try:
        while True:
            for component, alive in components.items():
                try:
                    await _ensure(client, component, node, run_hash, started, alive())
                except (ApiError, httpx.HTTPError) as e:
                    log.warning("mirror pod of %s: %s", component, e)
            await asyncio.sleep(period)
    finally:
        for component in components:
            try:
                await client.delete(PODS, f"{component}-{node_name}", NAMESPACE,
                                    grace_period_seconds=0)
            except (ApiError, httpx.HTTPError):
                pass  # already gone, or the server is going down with us


async def _wait_for_node(client: Client, name: str, period: float) -> Obj:
    """The node once its kubelet has registered it (a failure here must not end `kapi
    up`: it is retried)."""
    while True:
        try:
            return await client.get(NODES, name)
        except (ApiError, httpx.HTTPError) as e:
            if not (isinstance(e, ApiError) and e.not_found):
                log.warning("mirror pods: reading node %s: %s", name, e)
        await asyncio.sleep(min(period, 1.0))


async def _ensure(client: Client, component: str, node: Obj, run_hash: str, started: str,
                  alive: bool) -> None:
    """The pod exists, is this run's, and has the status that is true now."""
    want = mirror_pod(component, node, run_hash, started)
    name = want["metadata"]["name"]
    try:
        pod = await client.get(PODS, name, NAMESPACE)
    except ApiError as e:
        # as a node, a pod not (yet) bound to this node is 403 rather than 404 (the Node
        # authorizer lets a node read only its own pods): either way, one to make
        if not (e.not_found or e.code == 403):
            raise
        pod = None
    if pod is not None and ((pod["metadata"].get("annotations") or {}).get(MIRROR) != run_hash
                            or pod["metadata"].get("deletionTimestamp")):
        # a previous run's pod (its start and status are not this run's), or one being
        # deleted, which no kubelet finishes: removed now and made again, as upstream's
        # kubelet does with mirror pods
        await client.delete(PODS, name, NAMESPACE, grace_period_seconds=0)
        pod = None
    if pod is None:
        pod = await client.create(PODS, want, NAMESPACE)
    status = pod_status(component, node, started, alive)
    if pod.get("status") != status:
        await client.update_status(PODS, dict(pod, status=status))
