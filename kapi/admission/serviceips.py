"""Service address allocation: clusterIP from the service CIDR and nodePorts (and the
healthCheckNodePort of a LoadBalancer with externalTrafficPolicy Local) from
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
HEALTH_CHECK_ONLY = "may only be set when `type` is 'LoadBalancer' and " \
    "`externalTrafficPolicy` is 'Local'"


def needs_health_check(spec: Obj) -> bool:
    return spec.get("type") == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local"


def _node_ports_of(spec: Obj) -> set[int]:
    """Every node port a Service holds: its ports' and its health check's."""
    out = {p.get("nodePort") for p in spec.get("ports") or [] if p.get("nodePort")}
    return out | ({spec["healthCheckNodePort"]} if spec.get("healthCheckNodePort") else set())


class ServiceAllocator:
    def __init__(self, cache: WatchCache, cidr: str, services: Resource,
                 node_ports: tuple[int, int] = NODE_PORT_RANGE) -> None:
        self.cache = cache
        self.net = ipaddress.ip_network(cidr)
        self.services = services
        self.node_ports = node_ports
        self.rng = random.Random()

    def _existing(self, but: Obj | None = None) -> list[Obj]:
        """Every stored Service except the one being written (by uid)."""
        uid = (but or {}).get("metadata", {}).get("uid")
        return [s for s in self.cache.list(self.services.key_prefix, self.services.key_prefix)
                if not uid or s.get("metadata", {}).get("uid") != uid]

    def allocate_ip(self) -> str:
        used = {s.get("spec", {}).get("clusterIP") for s in self._existing()}
        size = self.net.num_addresses
        # the first ten addresses are left for the well-known ones (kubernetes, kube-dns)
        for _ in range(1000):
            ip = str(self.net.network_address + self.rng.randrange(min(11, size - 2), size - 1))
            if ip not in used:
                return ip
        raise errors.InternalError("failed to allocate a service IP: the range is full")

    def allocate_node_port(self, taken: set[int]) -> int:
        for s in self._existing():
            taken |= _node_ports_of(s.get("spec") or {})
        for _ in range(1000):
            port = self.rng.randint(*self.node_ports)
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
        if spec.get("clusterIP") and spec["clusterIP"] != "None" and (
                op == "CREATE" or spec["clusterIP"] != (old or {}).get("spec", {}).get("clusterIP")):
            self._check_ip(r, new, spec["clusterIP"])
        self._check_node_ports(r, new, op, old)
        if not spec.get("clusterIP"):
            default_ns = new.get("metadata", {}).get("namespace") == "default"
            name = new.get("metadata", {}).get("name")
            if default_ns and name == "kubernetes":
                spec["clusterIP"] = str(self.net.network_address + 1)  # upstream's first IP
            elif name == "kube-dns" and new.get("metadata", {}).get("namespace") == \
                    "kube-system":
                spec["clusterIP"] = str(self.net.network_address + 10)  # the usual DNS IP
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
        self._health_check_port(r, new, op, old)

    def _invalid(self, r: Resource, new: Obj, field: str, value: str, why: str) -> None:
        """value: already in Go's notation, as upstream prints it."""
        name = new.get("metadata", {}).get("name", "")
        raise errors.Invalid.of(r, "Service", name, [{
            "reason": "FieldValueInvalid", "field": field,
            "message": f"Invalid value: {value}: {why}"}])

    def _check_ip(self, r: Resource, new: Obj, ip: str) -> None:
        """An explicit clusterIP must be in the range and free (upstream's messages)."""
        try:
            inside = ipaddress.ip_address(ip) in self.net
        except ValueError:
            return  # validation reports a malformed address
        if not inside:
            self._invalid(r, new, "spec.clusterIPs", f'[]string{{"{ip}"}}',
                          f"failed to allocate IP {ip}: provided IP is not in the valid "
                          f"range. The range of valid IPs is {self.net}")
        if any(s.get("spec", {}).get("clusterIP") == ip for s in self._existing(new)):
            self._invalid(r, new, "spec.clusterIPs", f'[]string{{"{ip}"}}',
                          f"failed to allocate IP {ip}: provided IP is already allocated")

    def _check_node_ports(self, r: Resource, new: Obj, op: str, old: Obj | None) -> None:
        kept = {p.get("nodePort") for p in (old or {}).get("spec", {}).get("ports") or []}
        others = {port for s in self._existing(new) for port in _node_ports_of(s.get("spec") or {})}
        low, high = self.node_ports
        for i, p in enumerate(new.get("spec", {}).get("ports") or []):
            port = p.get("nodePort")
            if not isinstance(port, int) or not port or (op == "UPDATE" and port in kept):
                continue
            field = f"spec.ports[{i}].nodePort"
            if not low <= port <= high:
                self._invalid(r, new, field, str(port), "provided port is not in the valid "
                              f"range. The range of valid ports is {low}-{high}")
            if port in others:
                self._invalid(r, new, field, str(port), "provided port is already allocated")

    def _health_check_port(self, r: Resource, new: Obj, op: str, old: Obj | None) -> None:
        """healthCheckNodePort: allocated when a LoadBalancer's externalTrafficPolicy is
        Local (kept across updates that leave it out), released when no longer needed."""
        spec, old_spec = new["spec"], (old or {}).get("spec") or {}
        port, old_port = spec.get("healthCheckNodePort"), old_spec.get("healthCheckNodePort")
        had = op == "UPDATE" and needs_health_check(old_spec) and bool(old_port)
        field = "spec.healthCheckNodePort"
        if not needs_health_check(spec):
            if port and had and port == old_port:
                del spec["healthCheckNodePort"]  # released, as upstream drops it
            elif port:
                self._invalid(r, new, field, str(port), HEALTH_CHECK_ONLY)
            return
        if had and port and port != old_port:
            name = new.get("metadata", {}).get("name", "")
            raise errors.Invalid.of(r, "Service", name, [{
                "reason": "FieldValueForbidden", "field": field,
                "message": "Forbidden: field is immutable"}])
        if had and not port:
            spec["healthCheckNodePort"] = old_port
        elif not port:
            spec["healthCheckNodePort"] = self.allocate_node_port(_node_ports_of(spec))
        elif not had:
            others = {p for s in self._existing(new) for p in _node_ports_of(s.get("spec") or {})}
            low, high = self.node_ports
            if not isinstance(port, int) or not low <= port <= high:
                self._invalid(r, new, field, str(port), "provided port is not in the valid "
                              f"range. The range of valid ports is {low}-{high}")
            if port in others or port in {p.get("nodePort") for p in spec.get("ports") or []}:
                self._invalid(r, new, field, str(port), "provided port is already allocated")
