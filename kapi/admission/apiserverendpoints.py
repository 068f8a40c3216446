"""The `kubernetes` Service's Endpoints and EndpointSlice, kept by the API server itself
(upstream's endpoint reconciler): they point at the address and port this server really
listens on; a second API server on the same store adds its own address next to the
first ones (same port) instead of replacing them. The Service's targetPort follows the
real port too.

The Endpoints carry endpointslice.kubernetes.io/skip-mirror=true, so the mirroring
controller leaves them alone, and the EndpointSlice is written here directly, as
upstream does. Writes go through the registry store; this module never routes traffic.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from kapi import errors
from kapi.meta.resources import Resource, Scheme

Obj = dict[str, Any]
NAME, NAMESPACE = "kubernetes", "default"


def advertised_address(host: str) -> str:
    """The address to publish: the listening one, or loopback for an unspecified one
    (the API server does not guess which of the host's addresses clients can reach)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "127.0.0.1"
    return "127.0.0.1" if ip.is_unspecified else str(ip)


async def _get(store: Any, r: Resource, name: str) -> Obj | None:
    try:
        obj: Obj = await store.get(r, NAMESPACE, name)
        return obj
    except errors.NotFound:
        return None


def _addresses(current: Obj | None, ip: str, port: int) -> list[str]:
    """This server's address plus those already published for the same port."""
    ips = {ip}
    for subset in (current or {}).get("subsets") or []:
        if any(p.get("port") == port for p in subset.get("ports") or []):
            ips |= {a["ip"] for a in subset.get("addresses") or [] if a.get("ip")}
    return sorted(ips)


async def _put(store: Any, r: Resource, name: str, current: Obj | None, obj: Obj) -> None:
    if current is None:
        try:
            await store.create(r, NAMESPACE, obj)
        except errors.AlreadyExists:
            pass
        return
    if all(current.get(k) == v for k, v in obj.items() if k != "metadata") and \
            (current["metadata"].get("labels") or {}) == obj["metadata"]["labels"]:
        return

    async def apply(old: Obj | None) -> Obj:
        base = old or {}
        return {**base, **{k: v for k, v in obj.items() if k != "metadata"},
                "metadata": {**base.get("metadata", {}), "labels": obj["metadata"]["labels"]}}
    await store.guaranteed_update(r, NAMESPACE, name, apply)


async def _retarget_service(store: Any, r: Resource, port: int) -> None:
    """A Service left by a run on another port gets this run's targetPort."""
    svc = await _get(store, r, NAME)
    if svc is None or all(p.get("targetPort") == port for p in svc["spec"].get("ports") or []):
        return

    async def apply(old: Obj | None) -> Obj:
        assert old is not None
        for p in old["spec"].get("ports") or []:
            p["targetPort"] = port
        return old
    await store.guaranteed_update(r, NAMESPACE, NAME, apply)


async def reconcile(store: Any, scheme: Scheme, *, host: str, port: int) -> None:
    services = scheme.get("", "v1", "services")
    assert services is not None
    await _retarget_service(store, services, port)
    endpoints = scheme.get("", "v1", "endpoints")
    slices = scheme.get("discovery.k8s.io", "v1", "endpointslices")
    assert endpoints is not None and slices is not None
    current = await _get(store, endpoints, NAME)
    ips = _addresses(current, advertised_address(host), port)
    await _put(store, endpoints, NAME, current, {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": NAME, "labels": {
            "endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                     "ports": [{"name": "https", "port": port, "protocol": "TCP"}]}]})
    await _put(store, slices, NAME, await _get(store, slices, NAME), {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": NAME, "labels": {"kubernetes.io/service-name": NAME}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [ip], "conditions": {"ready": True}} for ip in ips],
        "ports": [{"name": "https", "port": port, "protocol": "TCP"}]})
