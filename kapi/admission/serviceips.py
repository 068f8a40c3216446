"""Service address allocation: clusterIP from the service CIDR and nodePorts from
30000-32767, as upstream's service REST does on create. Never routes anything; it only
picks numbers not used by another Service.
"""

from __future__ import annotations

import ipaddress
import random
from typing import Any

from kapi import errors
from kapi.meta.resources import Resource
from kapi.storage.cacher import WatchCache

Obj = dict[str, Any]
NODE_PORT_RANGE = (30000, 32767)


class ServiceAllocator:
    def __init__(self, cache: WatchCache, cidr: str, services: Resource) -> None:
        self.cache = cache
        self.net = ipaddress.ip_network(cidr)
        self.services = services
        self.rng = random.Random()

    def _existing(self) -> list[Obj]:
        return self.cache.list(self.services.key_prefix, self.services.key_prefix)

    def allocate_ip(self) -> str:
        used = {s.get("spec", {}).get("clusterIP") for s in self._existing()}
        size = self.net.num_addresses
        for _ in range(1000):
            ip = str(self.net.network_address + self.rng.randrange(2, size - 1))
            if ip not in used:
                return ip
        raise errors.InternalError("failed to allocate a service IP: the range is full")

    def allocate_node_port(self, taken: set[int]) -> int:
        for s in self._existing():
            for p in s.get("spec", {}).get("ports") or []:
                if p.get("nodePort"):
                    taken.add(p["nodePort"])
        for _ in range(1000):
            port = self.rng.randint(*NODE_PORT_RANGE)
            if port not in taken:
                return port
        raise errors.InternalError("failed to allocate a node port: the range is full")

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        """The admission step the Service strategy asks for ("ServiceIPs")."""
        spec = new.get("spec")
        if not isinstance(spec, dict):
            return
        if op == "UPDATE" and old is not None:
            old_spec = old.get("spec") or {}
            for f in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"):
                if f in old_spec and not spec.get(f):
                    spec[f] = old_spec[f]
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            default_ns = new.get("metadata", {}).get("namespace") == "default"
            if default_ns and new.get("metadata", {}).get("name") == "kubernetes":
                spec["clusterIP"] = str(self.net.network_address + 1)  # upstream's first IP
            else:
                spec["clusterIP"] = self.allocate_ip()
        if spec["clusterIP"] != "None":
            spec.setdefault("clusterIPs", [spec["clusterIP"]])
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            taken = {p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort")}
            for p in spec.get("ports") or []:
                if not p.get("nodePort"):
                    p["nodePort"] = self.allocate_node_port(taken)
                    taken.add(p["nodePort"])
            spec.setdefault("externalTrafficPolicy", "Cluster")
