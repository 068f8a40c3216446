"""Services and EndpointSlices as iptables rules (upstream kube-proxy's iptables mode),
as the text of one `iptables-restore --noflush` batch over chains this cluster owns.

nat:    KAPI-SVC-<id>   jumped from PREROUTING and OUTPUT: ClusterIP/externalIP/
                        load-balancer-IP:port -> a per-service-port chain; then, for a
                        local destination address, KAPI-NP-<id> (NodePorts)
        KAPI-SV-<id>-*  one per service port: masquerade mark for traffic not from the
                        pod network (host and node-port clients), ClientIP affinity
                        (`recent`), then a `statistic --mode random` spread over
                        KAPI-EP-<id>-* chains, one per ready endpoint (when none is
                        ready: the serving terminating ones, as upstream), which DNAT
        KAPI-XT-<id>-*  externalTrafficPolicy: Local: node-port and external clients
                        go to the node's own endpoints (KAPI-SL-<id>-*), unmasqueraded
                        so the pod sees their address; pods and the host itself go
                        the cluster-wide way, as upstream
        KAPI-POST-<id>  jumped from POSTROUTING: masquerades marked packets
filter: KAPI-FW-<id>    jumped from INPUT, FORWARD and OUTPUT: a new connection to
                        the service CIDR that no DNAT took is rejected on the machine
        KAPI-FWD-<id>   jumped from FORWARD: lets connections we DNATed for clients
                        off the host through to the pods (Docker's FORWARD drops them)

Pure: data in, text out; no I/O. Names are stable hashes, so a re-sync after a restart
rewrites the same chains.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

Obj = dict[str, Any]
MASQ_MARK = "0x4000"
FORWARD_MARK = "0x2000"  # DNATed by us for a client off the host, not masqueraded
PREFIX = "KAPI-"
PROTOCOLS = ("TCP", "UDP", "SCTP")  # what iptables can match and DNAT by port


@dataclass(frozen=True)
class ProxyConfig:
    cluster_id: str  # a few hex digits: this cluster's chains and route
    service_cidr: str
    pod_cidr: str  # traffic from here is a pod's and needs no masquerade
    node_names: frozenset[str] = frozenset()  # nodes whose endpoints are local (iTP Local)


@dataclass
class Chains:
    nat: list[str] = field(default_factory=list)  # chain names (declared, so flushed)
    nat_rules: list[str] = field(default_factory=list)
    filter: list[str] = field(default_factory=list)
    filter_rules: list[str] = field(default_factory=list)

    def by_chain(self) -> dict[tuple[str, str], list[str]]:
        """(table, chain) -> its rules, every declared chain present."""
        out: dict[tuple[str, str], list[str]] = {}
        for table, chains, lines in (("nat", self.nat, self.nat_rules),
                                     ("filter", self.filter, self.filter_rules)):
            for c in chains:
                out[(table, c)] = []
            for line in lines:
                out[(table, line.split(" ", 2)[1])].append(line)
        return out

    def restore_text(self, stale_nat: Iterable[str] = (), stale_filter: Iterable[str] = ()) -> str:
        """The iptables-restore input: declare (so flush) every chain, fill, and delete
        chains of ours that are no longer wanted."""
        stale_nat, stale_filter = sorted(stale_nat), sorted(stale_filter)
        out = ["*nat"] + [f":{c} - [0:0]" for c in self.nat + stale_nat] + self.nat_rules
        out += [f"-X {c}" for c in stale_nat] + ["COMMIT", "*filter"]
        out += [f":{c} - [0:0]" for c in self.filter + stale_filter] + self.filter_rules
        out += [f"-X {c}" for c in stale_filter] + ["COMMIT", ""]
        return "\n".join(out)


def changed_text(old: dict[tuple[str, str], list[str]],
                 new: dict[tuple[str, str], list[str]]) -> str:
    """The restore input that turns `old` (what we wrote last) into `new`: only chains
    whose rules changed are declared (so flushed) and refilled; gone ones deleted.
    Empty when nothing changed."""
    out = []
    for table in ("nat", "filter"):
        changed = [c for (t, c), lines in new.items() if t == table and old.get((t, c)) != lines]
        gone = sorted(c for (t, c) in old if t == table and (t, c) not in new)
        if not changed and not gone:
            continue
        out += [f"*{table}"] + [f":{c} - [0:0]" for c in changed + gone]
        out += [line for c in changed for line in new[(table, c)]]
        out += [f"-X {c}" for c in gone] + ["COMMIT"]
    return "\n".join(out + [""]) if out else ""


def top_chains(cluster_id: str) -> dict[str, str]:
    return {"svc": f"{PREFIX}SVC-{cluster_id}", "np": f"{PREFIX}NP-{cluster_id}",
            "post": f"{PREFIX}POST-{cluster_id}", "fw": f"{PREFIX}FW-{cluster_id}",
            "fwd": f"{PREFIX}FWD-{cluster_id}"}


def jumps(cluster_id: str, service_cidr: str) -> list[tuple[str, str, list[str]]]:
    """(table, built-in chain, rule spec) of the jumps into our chains."""
    c = top_chains(cluster_id)
    comment = ["-m", "comment", "--comment", f"kapi cluster {cluster_id}"]
    fw = ["-d", service_cidr, *comment, "-j", c["fw"]]
    return [("nat", "PREROUTING", [*comment, "-j", c["svc"]]),
            ("nat", "OUTPUT", [*comment, "-j", c["svc"]]),
            ("nat", "POSTROUTING", [*comment, "-j", c["post"]]),
            ("filter", "INPUT", fw), ("filter", "FORWARD", fw), ("filter", "OUTPUT", fw),
            ("filter", "FORWARD", [*comment, "-j", c["fwd"]])]


def _hash(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:10].upper()


def ready_endpoints(service: Mapping[str, Any], slices: list[Obj], port_name: str,
                    protocol: str, local_nodes: frozenset[str] | None) -> list[tuple[str, int]]:
    """(ip, port) of the ready endpoints serving one service port, sorted; only those on
    local_nodes when given (a traffic policy Local). When none is ready, the ones still
    serving while terminating (upstream's fallback: the last pods of a rollout finish
    their work rather than the Service going dark)."""
    ready: set[tuple[str, int]] = set()
    draining: set[tuple[str, int]] = set()
    for s in slices:
        if s.get("addressType", "IPv4") != "IPv4":
            continue
        ports = [p for p in s.get("ports") or []
                 if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol]
        for e in s.get("endpoints") or []:
            if local_nodes is not None and e.get("nodeName") not in local_nodes:
                continue
            cond = e.get("conditions") or {}
            if cond.get("ready") is not False:
                into = ready
            elif cond.get("serving") and cond.get("terminating"):
                into = draining
            else:
                continue
            into.update((ip, int(p["port"])) for p in ports for ip in e.get("addresses") or [])
    return sorted(ready or draining)


def _external_addresses(svc: Mapping[str, Any]) -> list[str]:
    """externalIPs and load-balancer ingress IPs (what externalTrafficPolicy governs)."""
    ips = list((svc.get("spec") or {}).get("externalIPs") or [])
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    return ips + [i["ip"] for i in ingress if i.get("ip")]


def build(config: ProxyConfig, services: list[Obj], slices: list[Obj]) -> Chains:
    """Every chain and rule for these Services (headless and ExternalName ones get none)."""
    top = top_chains(config.cluster_id)
    out = Chains(nat=[top["svc"], top["np"], top["post"]], filter=[top["fw"]])
    by_service: dict[str, list[Obj]] = {}
    for s in slices:
        md = s.get("metadata") or {}
        name = (md.get("labels") or {}).get("kubernetes.io/service-name")
        if name:
            by_service.setdefault(f"{md.get('namespace')}/{name}", []).append(s)
    node_port_rules: list[str] = []
    for svc in sorted(services, key=lambda s: (s["metadata"].get("namespace", ""),
                                               s["metadata"]["name"])):
        key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
        node_port_rules += _service(config, out, svc, by_service.get(key, []))
    out.nat_rules += node_port_rules
    # node ports answer on every local address but the ClusterIPs (local while we run)
    out.nat_rules.append(f"-A {top['svc']} ! -d {config.service_cidr} -m addrtype "
                         f"--dst-type LOCAL -j {top['np']}")
    out.nat_rules += [f"-A {top['post']} -m mark ! --mark {MASQ_MARK}/{MASQ_MARK} -j RETURN",
                      f"-A {top['post']} -j MARK --xor-mark {MASQ_MARK}",
                      f"-A {top['post']} -j MASQUERADE"]
    # only new connections: replies to a host client whose source came from the CIDR
    # (the local route picks one) and their ICMP errors must pass
    out.filter_rules.append(f"-A {top['fw']} -d {config.service_cidr} -m conntrack "
                            "--ctstate NEW -j REJECT --reject-with icmp-port-unreachable")
    out.filter.append(top["fwd"])
    out.filter_rules += [f"-A {top['fwd']} -m mark --mark {m}/{m} -m conntrack --ctstate "
                         "DNAT -j ACCEPT" for m in (MASQ_MARK, FORWARD_MARK)]
    return out


def _service(config: ProxyConfig, out: Chains, svc: Obj, slices: list[Obj]) -> list[str]:
    """Adds one Service's chains and rules to `out`; returns its NodePort rules."""
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "", "None"):
        return []
    top = top_chains(config.cluster_id)
    key = f"{svc['metadata'].get('namespace')}/{svc['metadata']['name']}"
    local = config.node_names if spec.get("internalTrafficPolicy") == "Local" else None
    affinity = spec.get("sessionAffinity") == "ClientIP"
    timeout = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get(
        "timeoutSeconds") or 10800)
    external_local = spec.get("externalTrafficPolicy") == "Local"
    node_ports = []
    for port in spec.get("ports") or []:
        proto = port.get("protocol") or "TCP"
        if proto not in PROTOCOLS:
            continue
        name, p = port.get("name") or "", proto.lower()
        digest = _hash(key, name, proto)
        chain = f"{PREFIX}SV-{config.cluster_id}-{digest}"
        comment = f'-m comment --comment "{key}:{name}"'
        out.nat.append(chain)
        # node-port and external clients: through the masquerading chain, or the
        # local-endpoints one (externalTrafficPolicy: Local)
        outside = f"{PREFIX}{'XT' if external_local else 'MQ'}-{config.cluster_id}-{digest}"
        targets = [(spec["clusterIP"], chain)] + [(ip, outside) for ip in _external_addresses(svc)]
        for ip, target in targets:
            out.nat_rules.append(f"-A {top['svc']} -d {ip}/32 -p {p} -m {p} --dport "
                                 f"{port['port']} {comment} -j {target}")
        if port.get("nodePort"):
            node_ports.append(f"-A {top['np']} -p {p} -m {p} --dport {port['nodePort']} "
                              f"{comment} -j {outside}")
        exposed = len(targets) > 1 or bool(port.get("nodePort"))
        if exposed and external_local:
            local_eps = ready_endpoints(svc, slices, name, proto, config.node_names)
            _local_chain(config, out, outside, chain, local_eps,
                         (p, key, affinity, timeout))
        elif exposed:
            _node_port_chain(out, outside, chain)
        eps = ready_endpoints(svc, slices, name, proto, local)
        _endpoints(config, out, chain, eps, p, key, affinity, timeout)
    return node_ports


def _node_port_chain(out: Chains, mq: str, chain: str) -> None:
    """Node-port and external clients always masquerade (the reply must come back
    through us)."""
    out.nat.append(mq)
    out.nat_rules += [f"-A {mq} -j MARK --or-mark {MASQ_MARK}", f"-A {mq} -j {chain}"]


def _local_chain(config: ProxyConfig, out: Chains, xt: str, chain: str,
                 eps: list[tuple[str, int]], how: tuple[str, str, bool, int]) -> None:
    """externalTrafficPolicy: Local. Pods and the host itself reach the Service as they
    would its ClusterIP (the host masqueraded); anyone else goes to this node's
    endpoints with its own address kept, or finds none (nothing listens: refused)."""
    local = xt.replace(f"{PREFIX}XT-", f"{PREFIX}SL-", 1)
    out.nat.append(xt)
    out.nat_rules += [f"-A {xt} -s {config.pod_cidr} -j {chain}",
                      f"-A {xt} -m addrtype --src-type LOCAL -j MARK --or-mark {MASQ_MARK}",
                      f"-A {xt} -m addrtype --src-type LOCAL -j {chain}"]
    if eps:
        out.nat_rules += [f"-A {xt} -j MARK --or-mark {FORWARD_MARK}", f"-A {xt} -j {local}"]
        out.nat.append(local)
        _endpoints(config, out, local, eps, *how, masquerade=False)


def _endpoints(config: ProxyConfig, out: Chains, chain: str, eps: list[tuple[str, int]],
               proto: str, key: str, affinity: bool, timeout: int, *,
               masquerade: bool = True) -> None:
    if masquerade:
        out.nat_rules.append(f"-A {chain} ! -s {config.pod_cidr} -j MARK --or-mark {MASQ_MARK}")
    if not eps:
        # nothing ready: the filter chain's REJECT answers (the address stays unmatched)
        out.nat_rules.append(f"-A {chain} -j RETURN")
        return
    names = [f"{PREFIX}EP-{config.cluster_id}-{_hash(chain, ip, str(port))}"
             for ip, port in eps]
    if affinity:
        for ep in names:
            out.nat_rules.append(f"-A {chain} -m recent --name {ep} --rcheck --seconds "
                                 f"{timeout} --reap -j {ep}")
    n = len(eps)
    for i, (ep, (ip, port)) in enumerate(zip(names, eps, strict=True)):
        spread = f"-m statistic --mode random --probability {1 / (n - i):.10f} " \
            if i < n - 1 else ""
        out.nat_rules.append(f"-A {chain} {spread}-j {ep}")
        out.nat.append(ep)
        recent = f"-m recent --name {ep} --set " if affinity else ""
        out.nat_rules += [f"-A {ep} -s {ip}/32 -j MARK --or-mark {MASQ_MARK}",  # hairpin
                          f"-A {ep} -p {proto} {recent}-m {proto} -j DNAT "
                          f"--to-destination {ip}:{port}"]


def health_checks(config: ProxyConfig, services: list[Obj], slices: list[Obj]
                  ) -> dict[str, tuple[int, int]]:
    """"ns/name" -> (healthCheckNodePort, endpoints on this node) of every Service that
    has a health check port (a LoadBalancer with externalTrafficPolicy: Local)."""
    out = {}
    for svc in services:
        spec = svc.get("spec") or {}
        port = spec.get("healthCheckNodePort")
        if not port or spec.get("externalTrafficPolicy") != "Local":
            continue
        md = svc["metadata"]
        key = f"{md.get('namespace')}/{md['name']}"
        mine = [s for s in slices if (s.get("metadata") or {}).get("namespace") == md.get(
            "namespace") and ((s.get("metadata") or {}).get("labels") or {}).get(
            "kubernetes.io/service-name") == md["name"]]
        ips = {ip for p in spec.get("ports") or [] for ip, _ in ready_endpoints(
            svc, mine, p.get("name") or "", p.get("protocol") or "TCP", config.node_names)}
        out[key] = (int(port), len(ips))
    return out
