"""The node lifecycle controller: node health from Leases and heartbeats, node taints,
and taint-based eviction of pods.

A node whose Lease (kube-node-lease/<node>) and Ready heartbeat have not moved for
`node_monitor_grace_period` seconds (option; default 40; a node that never posted
a heartbeat gets `node_startup_grace_period`, default 60) gets its Ready, MemoryPressure,
DiskPressure and PIDPressure conditions set to Unknown ("NodeStatusUnknown"). The
taints it manages follow the conditions (Ready False/Unknown -> not-ready/unreachable
NoExecute and NoSchedule; pressure -> NoSchedule; spec.unschedulable -> unschedulable),
and go when the kubelet posts Ready=True again. A pod on a node with NoExecute taints
it does not tolerate is deleted at once; one it tolerates for tolerationSeconds is
deleted after them (pods without a not-ready/unreachable toleration get one of
`pod_eviction_timeout` seconds, option; default 300). It never sets Ready=True (that is
the kubelet's word), never deletes nodes, and never mutates cached objects.
"""

from __future__ import annotations

import copy
import datetime as dt
import logging
from typing import Any

from runtime.client.informer import key_of
from runtime.client.resources import LEASES, NODES, PODS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.nodelifecycle import health
from runtime.controllers.nodelifecycle.health import HealthTracker
from runtime.util.times import format_time as _fmt

log = logging.getLogger(__name__)

Obj = dict[str, Any]

LEASE_NAMESPACE = "kube-node-lease"
POD_NODE_INDEX = "nodelifecycle/node"




def _taints(node: Obj | None) -> list[Obj]:
    return list(((node or {}).get("spec") or {}).get("taints") or [])


class NodeLifecycleController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.client: Client = ctx.client
        self.grace = ctx.options.node_monitor_grace_period
        self.startup_grace = ctx.options.startup_grace_period
        self.eviction_timeout = ctx.options.pod_eviction_timeout
        self.tracker = HealthTracker()
        self.nodes = ctx.informers.get(NODES)
        self.leases = ctx.informers.get(LEASES)
        self.pods = ctx.informers.get(PODS)
        self.pods.add_index(POD_NODE_INDEX, lambda p: [n] if (
            n := (p.get("spec") or {}).get("nodeName")) else [])
        self.monitor = Controller("nodelifecycle", self.reconcile_node, workers=2)
        self.evictor = Controller("taint-eviction", self.reconcile_pod, workers=2)
        self.nodes.add_handler(self._on_node)
        self.leases.add_handler(self._on_lease)
        self.pods.add_handler(self._on_pod)

    def queues(self) -> tuple[Controller, ...]:
        return self.monitor, self.evictor

    # -- events -------------------------------------------------------------------------
    def _on_node(self, event: str, old: Obj | None, new: Obj | None) -> None:
        node = new if new is not None else old
        if node is None:
            return
        name = node["metadata"]["name"]
        if event == "delete":
            self.tracker.forget(name)
            return
        self.monitor.enqueue(name)
        if _taints(old) != _taints(new):
            for pod in self.pods.by_index(POD_NODE_INDEX, name):
                self.evictor.enqueue(pod)

    def _on_lease(self, event: str, old: Obj | None, new: Obj | None) -> None:
        lease = new if new is not None else old
        if lease is not None and lease["metadata"].get("namespace") == LEASE_NAMESPACE:
            self.monitor.enqueue(lease["metadata"]["name"])

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event == "delete" or new is None:
            return
        node_name = (new.get("spec") or {}).get("nodeName")
        if node_name and any(t.get("effect") == "NoExecute"
                             for t in _taints(self.nodes.get(node_name))):
            self.evictor.enqueue(new)

    # -- node health --------------------------------------------------------------------
    async def reconcile_node(self, name: str) -> float | None:
        node = self.nodes.get(name)
        if node is None:
            self.tracker.forget(name)
            return None
        now = self.ctx.clock()
        lease = self.leases.get(f"{LEASE_NAMESPACE}/{name}")
        self.tracker.observe(name, node, lease, now.timestamp())
        left = self.tracker.remaining(name, now.timestamp(), self.grace, self.startup_grace)
        if left <= 0 and await self._mark_unknown(node, now):
            return None  # the update event brings the node back for its taints
        taints = health.reconciled_taints(node, _fmt(now))
        if taints is not None:
            new = copy.deepcopy(node)
            new.setdefault("spec", {})["taints"] = taints
            await self.client.update(NODES, new)
            log.info("node %s: taints now %s", name,
                     [f"{t['key']}:{t['effect']}" for t in taints])
        return left + 0.05 if left > 0 else None

    async def _mark_unknown(self, node: Obj, now: dt.datetime) -> bool:
        conds = health.unknown_conditions(node, _fmt(now))
        if conds is None:
            return False
        new = copy.deepcopy(node)
        new.setdefault("status", {})["conditions"] = conds
        await self.client.update_status(NODES, new)
        name = node["metadata"]["name"]
        was = (health.condition(node, "Ready") or {}).get("status")
        log.warning("node %s: no heartbeat for %ss; Ready %s -> Unknown", name, self.grace, was)
        await self.ctx.recorder.normal(node, "NodeNotReady", f"Node {name} status is now: "
                                       "NodeNotReady")
        return True

    # -- taint-based eviction -----------------------------------------------------------
    async def reconcile_pod(self, key: str) -> float | None:
        pod = self.pods.get(key)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            return None
        node = self.nodes.get((pod.get("spec") or {}).get("nodeName") or "")
        if node is None:
            return None
        delay = health.eviction_delay(pod, _taints(node), self.eviction_timeout, self.ctx.clock())
        if delay is None:
            return None
        if delay > 0:
            return delay
        meta = pod["metadata"]
        try:
            await self.client.delete(PODS, meta["name"], meta["namespace"],
                                     preconditions={"uid": meta["uid"]})
        except ApiError as e:
            if e.not_found or e.conflict:
                return None
            raise
        log.info("evicted pod %s from node %s", key_of(pod), node["metadata"]["name"])
        await self.ctx.recorder.normal(pod, "TaintManagerEviction",
                                       f"Marking for deletion Pod {key_of(pod)}")
        return None
