"""Reaching a webhook or an aggregated API server: a service reference resolved through
the cluster (Service -> its EndpointSlices -> a ready endpoint's IP and port, else the
ClusterIP for kapi's proxy to carry), and HTTPS clients that trust exactly the given
caBundle and check the server's name (`<service>.<namespace>.svc` for a service, the
URL's host otherwise), as upstream's webhook ClientManager does.

Reads only the watch cache; opens connections only to the addresses it resolved.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ssl
from dataclasses import dataclass
from typing import Any

import httpx

from kapi.meta.resources import Scheme
from kapi.storage.cacher import WatchCache

Obj = dict[str, Any]


class Unreachable(Exception):
    """No address for a service reference (str() says why, as upstream words it)."""


@dataclass(frozen=True)
class Target:
    """Where to connect, and the name the server's certificate must carry."""

    base: str  # https://host:port
    server_name: str


def _slice_port(ports: Any, want: str) -> int | None:
    for p in ports or []:
        if (p.get("name") or "") == want and p.get("port"):
            return int(p["port"])
    return None


class ServiceResolver:
    """A service reference -> a ready endpoint (or the ClusterIP) to connect to."""

    def __init__(self, cache: WatchCache, scheme: Scheme) -> None:
        self.cache = cache
        self.services = scheme.get("", "v1", "services")
        self.slices = scheme.get("discovery.k8s.io", "v1", "endpointslices")

    def resolve(self, namespace: str, name: str, port: int) -> Target:
        assert self.services is not None and self.slices is not None
        svc = self.cache.get(self.services.key_prefix, self.services.key(namespace, name))
        if svc is None:
            raise Unreachable(f'service "{name}" not found')
        server_name = f"{name}.{namespace}.svc"
        spec = svc.get("spec") or {}
        sport = next((p for p in spec.get("ports") or [] if p.get("port") == port), None)
        if sport is None:
            raise Unreachable(f"service port {port} not found in service {name}")
        if spec.get("type") == "ExternalName":
            return Target(f"https://{spec.get('externalName')}:{port}", server_name)
        for sl in self.cache.list(self.slices.key_prefix, f"{self.slices.key_prefix}{namespace}/"):
            labels = (sl.get("metadata") or {}).get("labels") or {}
            if labels.get("kubernetes.io/service-name") != name:
                continue
            target_port = _slice_port(sl.get("ports"), sport.get("name") or "")
            for ep in sl.get("endpoints") or []:
                ready = (ep.get("conditions") or {}).get("ready")
                if ready is not False and ep.get("addresses") and target_port:
                    return Target(_url(ep["addresses"][0], target_port), server_name)
        ip = spec.get("clusterIP")
        if ip and ip != "None":
            return Target(_url(ip, port), server_name)
        raise Unreachable(f'no endpoints available for service "{name}"')


def _url(host: str, port: int) -> str:
    return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"


def ca_pem(ca_bundle: Any) -> str | None:
    """A caBundle field (base64 of PEM) as PEM text; None when absent or unreadable."""
    if not ca_bundle:
        return None
    try:
        return base64.b64decode(ca_bundle, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class Clients:
    """One pooled HTTPS client per trust setting (a caBundle, or none: the system's)."""

    def __init__(self) -> None:
        self._clients: dict[str, httpx.AsyncClient] = {}

    def get(self, ca_bundle: Any, *, insecure: bool = False) -> httpx.AsyncClient:
        pem = ca_pem(ca_bundle)
        key = "insecure" if insecure else hashlib.sha256((pem or "").encode()).hexdigest()
        client = self._clients.get(key)
        if client is None:
            client = httpx.AsyncClient(verify=_context(pem, insecure), timeout=30.0)
            self._clients[key] = client
        return client

    async def close(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()


def _context(pem: str | None, insecure: bool) -> ssl.SSLContext:
    if insecure:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if pem is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cadata=pem)
    except ssl.SSLError:  # an unreadable bundle trusts nothing rather than everything
        return ssl.create_default_context(cadata=None, cafile=None, capath="/nonexistent")
