"""A pod's resolv.conf as Docker's dns options, per dnsPolicy (upstream kubelet's
pkg/kubelet/network/dns): ClusterFirst (the default) and ClusterFirstWithHostNet give
the cluster DNS, the `<ns>.svc.<domain> svc.<domain> <domain>` search path and ndots:5;
Default keeps the host's resolv.conf; None takes dnsConfig alone; dnsConfig's
nameservers, searches and options are added to what the policy gives.

Pure: a pod in, keyword arguments for docker's create_host_config out.
"""

from __future__ import annotations

from typing import Any, Mapping

Obj = dict[str, Any]


def dns_options(pod: Mapping[str, Any], cluster_dns: tuple[str, ...],
                domain: str = "cluster.local") -> Obj:
    spec = pod.get("spec") or {}
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    host_network = bool(spec.get("hostNetwork"))
    cluster = cluster_dns and (policy == "ClusterFirstWithHostNet" or (
        policy == "ClusterFirst" and not host_network))
    servers: list[str] = list(cluster_dns) if cluster else []
    ns = (pod.get("metadata") or {}).get("namespace") or "default"
    search = [f"{ns}.svc.{domain}", f"svc.{domain}", domain] if cluster else []
    options: dict[str, str | None] = {"ndots": "5"} if cluster else {}
    config = spec.get("dnsConfig") or {}
    if policy == "None" or cluster or config:
        servers += [s for s in config.get("nameservers") or [] if s not in servers]
        search += [s for s in config.get("searches") or [] if s not in search]
        for o in config.get("options") or []:
            options[o.get("name", "")] = o.get("value")
    out: Obj = {}
    if servers:
        out["dns"] = servers[:3]  # resolv.conf's limit
    if search:
        out["dns_search"] = search[:32]
    if options:
        out["dns_opt"] = [k if v is None else f"{k}:{v}" for k, v in options.items() if k]
    return out
