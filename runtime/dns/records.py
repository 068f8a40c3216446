"""The cluster's DNS names (the Kubernetes DNS specification, as CoreDNS's kubernetes
plugin serves it), as a pure lookup over Services and EndpointSlices:

  <svc>.<ns>.svc.<domain>              A: the ClusterIP; a headless Service: every ready
                                       endpoint; ExternalName: a CNAME
  <hostname>.<svc>.<ns>.svc.<domain>   A: the endpoint with that hostname (StatefulSet
                                       pods under their headless Service)
  _<port>._<proto>.<svc>.<ns>.svc.<domain>  SRV per named port
  <a-b-c-d>.<ns>.pod.<domain>          A: a-b-c-d (CoreDNS's "pods insecure")

Answers are (rcode, records) with records as (name, type, ttl, data) tuples; a name that
exists but has no record of the asked type is NOERROR with none (so AAAA lookups of a
Service don't fail the A lookup). Never does I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Callable, Mapping

Obj = dict[str, Any]
Record = tuple[str, str, int, str]  # name, type (A, CNAME, SRV), ttl, data (text form)
TTL = 5
NOERROR, NXDOMAIN, NOTZONE = "NOERROR", "NXDOMAIN", "NOTZONE"


@dataclass
class View:
    """What the lookup reads: a Service by ns/name, and a Service's EndpointSlices."""
    service: Callable[[str], Mapping[str, Any] | None]
    slices: Callable[[str], list[Obj]]
    domain: str = "cluster.local"


def _ready(svc: Mapping[str, Any], slices: list[Obj]) -> list[Obj]:
    publish = bool((svc.get("spec") or {}).get("publishNotReadyAddresses"))
    out = []
    for s in slices:
        if s.get("addressType", "IPv4") != "IPv4":
            continue
        for e in s.get("endpoints") or []:
            if publish or (e.get("conditions") or {}).get("ready") is not False:
                out.append(e)
    return out


def _dashed(ip: str) -> str:
    return ip.replace(".", "-")


def lookup(view: View, qname: str, qtype: str) -> tuple[str, list[Record]]:
    name = qname.lower().rstrip(".")
    suffix = "." + view.domain
    if not name.endswith(suffix) and name != view.domain:
        return NOTZONE, []
    labels = name[: -len(suffix)].split(".") if name != view.domain else []
    if len(labels) >= 2 and labels[-1] == "pod":
        return _pod(name, labels[:-1], qtype)
    if labels and labels[-1] == "svc":
        return _svc(view, name, labels[:-1], qtype)
    # the domain itself, <ns>.svc and friends exist as empty non-terminals
    exists = len(labels) <= 1 or labels == ["svc"]
    return (NOERROR if exists else NXDOMAIN), []


def _pod(name: str, labels: list[str], qtype: str) -> tuple[str, list[Record]]:
    if len(labels) != 2:
        return NXDOMAIN, []
    try:
        ip = str(ipaddress.IPv4Address(labels[0].replace("-", ".")))
    except ValueError:
        return NXDOMAIN, []
    return NOERROR, [(name, "A", TTL, ip)] if qtype in ("A", "ANY") else []


def _svc(view: View, name: str, labels: list[str], qtype: str) -> tuple[str, list[Record]]:
    if len(labels) < 2:
        return (NOERROR if len(labels) == 1 else NXDOMAIN), []  # <ns>.svc exists
    ns, svc_name, rest = labels[-1], labels[-2], labels[:-2]
    svc = view.service(f"{ns}/{svc_name}")
    if svc is None:
        return NXDOMAIN, []
    if not rest:
        return NOERROR, _service_records(view, name, svc, qtype, f"{ns}/{svc_name}")
    if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
        return _srv(view, name, svc, rest[0][1:], rest[1][1:], qtype, f"{ns}/{svc_name}")
    if len(rest) == 1:
        for e in _ready(svc, view.slices(f"{ns}/{svc_name}")):
            host = e.get("hostname") or _dashed((e.get("addresses") or [""])[0])
            if host == rest[0]:
                return NOERROR, ([(name, "A", TTL, ip) for ip in e.get("addresses") or []]
                                 if qtype in ("A", "ANY") else [])
    return NXDOMAIN, []


def _service_records(view: View, name: str, svc: Mapping[str, Any], qtype: str,
                     key: str) -> list[Record]:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        target = str(spec.get("externalName") or "").rstrip(".") + "."
        return [(name, "CNAME", TTL, target)]
    if qtype not in ("A", "ANY"):
        return []
    if spec.get("clusterIP") not in (None, "", "None"):
        return [(name, "A", TTL, spec["clusterIP"])]
    ips = sorted({ip for e in _ready(svc, view.slices(key)) for ip in e.get("addresses") or []})
    return [(name, "A", TTL, ip) for ip in ips]


def _srv(view: View, name: str, svc: Mapping[str, Any], port_name: str, proto: str,
         qtype: str, key: str) -> tuple[str, list[Record]]:
    ports = [p for p in (svc.get("spec") or {}).get("ports") or []
             if p.get("name") == port_name and (p.get("protocol") or "TCP").lower() == proto]
    if not ports:
        return NXDOMAIN, []
    if qtype not in ("SRV", "ANY"):
        return NOERROR, []
    base = name.split(".", 2)[2]  # <svc>.<ns>.svc.<domain>
    spec = svc.get("spec") or {}
    if spec.get("clusterIP") not in (None, "", "None"):
        return NOERROR, [(name, "SRV", TTL, f"0 100 {ports[0]['port']} {base}.")]
    out = []
    for e in _ready(svc, view.slices(key)):
        host = e.get("hostname") or _dashed((e.get("addresses") or [""])[0])
        for sp in _slice_ports(view.slices(key), port_name):
            out.append((name, "SRV", TTL, f"0 100 {sp} {host}.{base}."))
    return NOERROR, sorted(set(out))


def _slice_ports(slices: list[Obj], port_name: str) -> list[int]:
    return sorted({int(p["port"]) for s in slices for p in s.get("ports") or []
                   if (p.get("name") or "") == port_name and p.get("port")})
