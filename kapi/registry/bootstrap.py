"""The objects upstream's API server creates at start besides namespaces: the two
system PriorityClasses, the flow-control configuration (mandatory and suggested
FlowSchemas and PriorityLevelConfigurations, each FlowSchema's Dangling condition
False once its level exists) and the default ServiceCIDR `kubernetes` holding the
Service range. Missing objects are created; existing ones are left as
they are (a user's edit survives a restart). It never deletes anything.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi import errors
from kapi.meta.resources import Scheme
from kapi.registry.kinds import flowcontrol
from kapi.validation.cluster import SYSTEM_PRIORITY_CLASSES

Obj = dict[str, Any]


def system_priority_classes() -> list[Obj]:
    return [{"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
             "metadata": {"name": name}, "value": value,
             "description": "Used for system critical pods that must not be moved from their "
                            "current node." if name == "system-node-critical" else
                            "Used for system critical pods that must run in the cluster, but "
                            "can be moved to another node if necessary."}
            for name, value in SYSTEM_PRIORITY_CLASSES.items()]


def _found(now: str) -> Callable[[Obj | None], Any]:
    async def write(current: Obj | None) -> Obj:
        assert current is not None
        current["status"] = {"conditions": [{
            "type": "Dangling", "status": "False", "lastTransitionTime": now, "reason": "Found",
            "message": "This FlowSchema references the PriorityLevelConfiguration object named "
                       f"\"{current['spec']['priorityLevelConfiguration']['name']}\" and it "
                       "exists"}]}
        return current
    return write


def default_service_cidr(cidrs: list[str]) -> Obj:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "ServiceCIDR",
            "metadata": {"name": "kubernetes"}, "spec": {"cidrs": cidrs}}


def _ready(now: str) -> Callable[[Obj | None], Any]:
    async def write(current: Obj | None) -> Obj:
        assert current is not None
        current["status"] = {"conditions": [{
            "type": "Ready", "status": "True", "lastTransitionTime": now,
            "reason": "", "message": "Kubernetes Service CIDR is ready"}]}
        return current
    return write


async def ensure_defaults(store: Any, scheme: Scheme, now: str,
                          service_cidrs: list[str] | None = None) -> None:
    """Create every default object that is missing (now: the RFC 3339 time of start)."""
    wanted = [("scheduling.k8s.io", "priorityclasses", o) for o in system_priority_classes()]
    if service_cidrs:
        wanted.append(("networking.k8s.io", "servicecidrs", default_service_cidr(service_cidrs)))
    wanted += [(flowcontrol.GROUP, "prioritylevelconfigurations", o)
               for o in flowcontrol.DEFAULT_LEVELS]
    wanted += [(flowcontrol.GROUP, "flowschemas", o) for o in flowcontrol.DEFAULT_SCHEMAS]
    for group, resource, obj in wanted:
        r = scheme.get(group, "v1", resource)
        if r is None:  # a scheme without the group (tests serving a few kinds)
            continue
        name = obj["metadata"]["name"]
        if await store.storage.get(r.key(None, name)) is not None:
            continue
        try:
            r.strategy.default(r, obj)
            await store.create(r, None, obj)
        except errors.AlreadyExists:
            continue
        if resource in ("flowschemas", "servicecidrs"):
            write = _found(now) if resource == "flowschemas" else _ready(now)
            await store.guaranteed_update(r, None, name, write, subresource="status")
