"""NamespaceLifecycle admission and the namespaces every cluster starts with.

Creating in a namespace that does not exist is 404; in one being deleted, 403
Forbidden (upstream's NamespaceLifecycle plugin). The system namespaces are created at
start; default, kube-system and kube-public may not be deleted (deleting kube-system
would stop leader election, and with it every controller).
"""

from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.meta.resources import Resource, Scheme
from kapi.storage.cacher import WatchCache

Obj = dict[str, Any]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


class NamespaceLifecycle:
    def __init__(self, cache: WatchCache, scheme: Scheme) -> None:
        self.cache = cache
        self.ns_resource = scheme.get("", "v1", "namespaces")

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        if op == "DELETE" and r.kind == "Namespace" and not r.group:
            name = new["metadata"].get("name")
            if name in IMMORTAL_NAMESPACES:
                raise errors.Forbidden(f'namespaces "{name}" is forbidden: this namespace may '
                                       "not be deleted",
                                       details={"name": name, "kind": "namespaces"})
        if op != "CREATE" or not r.namespaced:
            return
        assert self.ns_resource is not None
        ns_name = new["metadata"].get("namespace")
        ns = self.cache.get(self.ns_resource.key_prefix, self.ns_resource.key(None, ns_name))
        if ns is None:
            # the cache may lag a just-created namespace: ask storage before refusing
            kv = await self.cache.storage.get(self.ns_resource.key(None, ns_name))
            if kv is None:
                raise errors.NotFound.of(self.ns_resource, ns_name)
            return
        if ns["metadata"].get("deletionTimestamp") and not (
                r.strategy is not None and r.strategy.create_in_terminating_namespace):
            name = new["metadata"].get("name") or new["metadata"].get("generateName", "")
            group = f".{r.group}" if r.group else ""
            raise errors.Forbidden(
                f'{r.resource}{group} "{name}" is forbidden: unable to create new content in '
                f"namespace {ns_name} because it is being terminated",
                details={"name": name, "kind": r.resource, "causes": [{
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {ns_name} is being terminated",
                    "field": "metadata.namespace"}]})


async def bootstrap(store: Any, scheme: Scheme, *, api_port: int) -> None:
    """Create the system namespaces and the `kubernetes` Service if they are missing."""
    ns = scheme.get("", "v1", "namespaces")
    svc = scheme.get("", "v1", "services")
    assert ns is not None and svc is not None
    wanted: list[tuple[Resource, str | None, Obj]] = [
        (ns, None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        for name in SYSTEM_NAMESPACES]
    wanted.append((svc, "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "labels": {"component": "apiserver",
                                                       "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP",
                            "targetPort": api_port}]}}))
    for r, namespace, obj in wanted:
        if await store.storage.get(r.key(namespace, obj["metadata"]["name"])) is None:
            try:
                await store.create(r, namespace, obj)
            except errors.AlreadyExists:
                pass
