"""The Endpoints object a Service with a selector should have (upstream
pkg/controller/endpoint): one address per included pod, ready or not ready, grouped
into subsets by the ports each pod resolves, capped at 1,000 addresses with the
`endpoints.kubernetes.io/over-capacity: truncated` annotation.

Pure: dicts in, a fresh dict out; no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.controllers.common import endpointpods as ep
from runtime.util.meta import meta

Obj = dict[str, Any]

MAX_ADDRESSES = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"


def _address(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    return {"ip": pod["status"]["podIP"], "targetRef": ep.target_ref(pod),
            **ep.placement(service, pod)}


def _port_key(ports: list[Obj]) -> tuple[tuple[str, int, str], ...]:
    return tuple(sorted((p.get("name", ""), p["port"], p["protocol"]) for p in ports))


def subsets(service: Mapping[str, Any], pods: list[Obj]) -> list[Obj]:
    """Addresses grouped by identical resolved port sets, each list sorted by IP."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    groups: dict[tuple[tuple[str, int, str], ...], Obj] = {}
    for pod in ep.selected_pods(service, pods):
        if not ep.should_include(pod, include_terminating=publish):
            continue
        ports = ep.endpoint_ports(service, pod) or []
        if (service.get("spec") or {}).get("ports") and not ports:
            continue  # no Service port resolves for this pod
        group = groups.setdefault(_port_key(ports), {"ports": ports})
        ready = publish or (ep.serving(pod) and not ep.terminating(pod))
        group.setdefault("addresses" if ready else "notReadyAddresses", []).append(
            _address(service, pod))
    out = []
    for key in sorted(groups):
        s = groups[key]
        for field in ("addresses", "notReadyAddresses"):
            if field in s:
                s[field].sort(key=lambda a: _ip_key(a["ip"]))
        if not s["ports"]:
            del s["ports"]
        out.append(s)
    return out


def _ip_key(ip: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in ip.split("."))
    except ValueError:
        return (1 << 16,)


def truncate(subs: list[Obj]) -> bool:
    """Keep at most MAX_ADDRESSES addresses in place: ready ones first, then not-ready
    ones spread over the subsets in proportion to their size. True if any were cut."""
    ready = sum(len(s.get("addresses") or []) for s in subs)
    total = ready + sum(len(s.get("notReadyAddresses") or []) for s in subs)
    if total <= MAX_ADDRESSES:
        return False
    field, budget, count = ("addresses", MAX_ADDRESSES, ready) if ready >= MAX_ADDRESSES \
        else ("notReadyAddresses", MAX_ADDRESSES - ready, total - ready)
    if field == "addresses":
        for s in subs:
            s.pop("notReadyAddresses", None)
    left = budget
    for i, s in enumerate(subs):
        items = s.get(field) or []
        keep = left if i == len(subs) - 1 else min(left, len(items) * budget // max(count, 1))
        if items:
            s[field] = items[:keep]
            left -= len(s[field])
    for s in subs:
        for f in ("addresses", "notReadyAddresses"):
            if f in s and not s[f]:
                del s[f]
    subs[:] = [s for s in subs if s.get("addresses") or s.get("notReadyAddresses")]
    return True


def desired(service: Mapping[str, Any], pods: list[Obj],
            current: Mapping[str, Any] | None) -> Obj:
    """The Endpoints object to write: the current one's metadata kept (resourceVersion,
    annotations others set), labels and subsets recomputed."""
    m = meta(service)
    subs = subsets(service, pods)
    truncated = truncate(subs)
    base: Obj = dict(current or {})
    md: Obj = dict((current or {}).get("metadata") or {})
    md.update({"name": m["name"], "namespace": m.get("namespace")})
    md["labels"] = ep.service_labels(service)
    ann = {k: v for k, v in (md.get("annotations") or {}).items() if k != OVER_CAPACITY}
    if truncated:
        ann[OVER_CAPACITY] = "truncated"
    if ann:
        md["annotations"] = ann
    else:
        md.pop("annotations", None)
    base.update({"apiVersion": "v1", "kind": "Endpoints", "metadata": md, "subsets": subs})
    if not subs:
        base.pop("subsets")
    return base


def differs(current: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    if current is None:
        return True
    cm, wm = current.get("metadata") or {}, wanted.get("metadata") or {}
    return (current.get("subsets") or []) != (wanted.get("subsets") or []) or \
        (cm.get("labels") or {}) != (wm.get("labels") or {}) or \
        (cm.get("annotations") or {}) != (wm.get("annotations") or {})
