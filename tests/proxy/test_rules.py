"""The proxy's rules as text, from Services and EndpointSlices (no host touched): the
chains, the random spread, DNAT, affinity, node ports, the masquerade mark and the
final REJECT of the service CIDR; and parsing our chains out of iptables-save."""

from __future__ import annotations

from typing import Any

from runtime.proxy import rules
from runtime.proxy.hostnet import own_chains

Obj = dict[str, Any]
CFG = rules.ProxyConfig(cluster_id="abc123", service_cidr="10.96.0.0/12",
                        pod_cidr="172.17.0.0/16", node_names=frozenset({"n1"}))


def svc(name: str, **spec: Any) -> Obj:
    spec.setdefault("clusterIP", "10.96.0.20")
    spec.setdefault("ports", [{"name": "http", "port": 80, "protocol": "TCP"}])
    return {"metadata": {"name": name, "namespace": "d"}, "spec": spec}


def eps(name: str, *items: tuple[str, bool, str], port: int = 8080) -> Obj:
    return {"metadata": {"namespace": "d", "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4", "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": [ip], "conditions": {"ready": ready}, "nodeName": node}
                          for ip, ready, node in items]}


def test_ready_endpoints_spread_evenly_and_dnat():
    text = rules.build(CFG, [svc("web")], [eps("web", ("172.17.0.3", True, "n1"),
                                                 ("172.17.0.4", True, "n2"),
                                                 ("172.17.0.5", False, "n1"))]).restore_text()
    lines = text.splitlines()
    assert lines[0] == "*nat" and ":KAPI-SVC-abc123 - [0:0]" in lines
    jump = next(line for line in lines if line.startswith("-A KAPI-SVC-abc123 -d 10.96.0.20/32"))
    chain = jump.split()[-1]
    assert chain.startswith("KAPI-SV-abc123-") and len(chain) <= 28
    spread = [line for line in lines if line.startswith(f"-A {chain} ")]
    assert spread[0] == f"-A {chain} ! -s 172.17.0.0/16 -j MARK --or-mark 0x4000"
    assert "--probability 0.5000000000" in spread[1] and "statistic" not in spread[2]
    dnat = [line for line in lines if "-j DNAT" in line]
    assert [d.split()[-1] for d in dnat] == ["172.17.0.3:8080", "172.17.0.4:8080"]
    assert lines[lines.index("*filter"):] == [
        "*filter", ":KAPI-FW-abc123 - [0:0]", ":KAPI-FWD-abc123 - [0:0]",
        "-A KAPI-FW-abc123 -d 10.96.0.0/12 -m conntrack --ctstate NEW -j REJECT "
        "--reject-with icmp-port-unreachable",
        "-A KAPI-FWD-abc123 -m mark --mark 0x4000/0x4000 -m conntrack --ctstate DNAT -j ACCEPT",
        "-A KAPI-FWD-abc123 -m mark --mark 0x2000/0x2000 -m conntrack --ctstate DNAT -j ACCEPT",
        "COMMIT"]


def test_affinity_node_ports_local_policy_and_headless():
    services = [svc("web", sessionAffinity="ClientIP", type="NodePort",
                    sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}},
                    ports=[{"name": "http", "port": 80, "nodePort": 30080}]),
                svc("loc", clusterIP="10.96.0.21", internalTrafficPolicy="Local"),
                svc("hl", clusterIP="None"), svc("ext", type="ExternalName", clusterIP="")]
    slices = [eps("web", ("172.17.0.3", True, "n1")),
              eps("loc", ("172.17.0.6", True, "n1"), ("172.17.0.7", True, "n2"))]
    text = rules.build(CFG, services, slices).restore_text()
    assert "--rcheck --seconds 60 --reap" in text and "-m recent --name KAPI-EP-" in text
    np = [line for line in text.splitlines() if line.startswith("-A KAPI-NP-abc123")]
    assert len(np) == 1 and "--dport 30080" in np[0]
    assert "172.17.0.7" not in text and "172.17.0.6:8080" in text
    assert text.count("-A KAPI-SVC-abc123 -d ") == 2  # headless and ExternalName: none
    assert "-A KAPI-SVC-abc123 ! -d 10.96.0.0/12 -m addrtype --dst-type LOCAL " \
           "-j KAPI-NP-abc123" in text


def test_no_ready_endpoint_leaves_the_address_to_the_reject():
    text = rules.build(CFG, [svc("web")], [eps("web", ("172.17.0.3", False, "n1"))]).restore_text()
    assert "-j DNAT" not in text and "-j RETURN" in text


def test_restart_deletes_stale_chains_of_ours_only():
    saved = "\n".join(["*nat", ":PREROUTING ACCEPT [0:0]", ":KAPI-SVC-abc123 - [0:0]",
                       ":KAPI-SV-abc123-0123456789 - [0:0]", ":KAPI-SVC-ffffff - [0:0]",
                       ":DOCKER - [0:0]", "COMMIT", "*filter", ":KAPI-FW-abc123 - [0:0]",
                       "COMMIT"])
    nat, filt = own_chains(saved, "abc123")
    assert nat == {"KAPI-SVC-abc123", "KAPI-SV-abc123-0123456789"}
    assert filt == {"KAPI-FW-abc123"}
    chains = rules.build(CFG, [], [])
    text = chains.restore_text(nat - set(chains.nat), filt - set(chains.filter))
    assert "-X KAPI-SV-abc123-0123456789" in text and "ffffff" not in text


def test_a_change_rewrites_only_the_chains_it_touches():
    one = eps("web", ("172.17.0.3", True, "n1"), ("172.17.0.4", True, "n1"))
    before = rules.build(CFG, [svc("web"), svc("db", clusterIP="10.96.0.30")], [one])
    two = eps("web", ("172.17.0.3", True, "n1"), ("172.17.0.5", True, "n1"))
    after = rules.build(CFG, [svc("web"), svc("db", clusterIP="10.96.0.30")], [two])
    text = rules.changed_text(before.by_chain(), after.by_chain())
    declared = [line for line in text.splitlines() if line.startswith(":")]
    assert len(declared) == 3  # web's service chain, the new endpoint's, the old one's
    assert "172.17.0.5:8080" in text and "10.96.0.30" not in text
    assert len([line for line in text.splitlines() if line.startswith("-X ")]) == 1
    assert rules.changed_text(after.by_chain(), after.by_chain()) == ""


def test_terminating_endpoints_serve_only_when_none_is_ready():
    def slice_of(*items: tuple[str, dict[str, bool]]) -> Obj:
        return {**eps("web"), "endpoints": [{"addresses": [ip], "conditions": cond,
                                             "nodeName": "n1"} for ip, cond in items]}
    draining = ("172.17.0.8", {"ready": False, "serving": True, "terminating": True})
    gone = ("172.17.0.9", {"ready": False, "serving": False, "terminating": True})
    both = rules.build(CFG, [svc("web")], [slice_of(("172.17.0.3", {"ready": True}),
                                                    draining, gone)]).restore_text()
    assert "172.17.0.3:8080" in both and "172.17.0.8" not in both
    alone = rules.build(CFG, [svc("web")], [slice_of(draining, gone)]).restore_text()
    assert "172.17.0.8:8080" in alone and "172.17.0.9" not in alone


def test_external_traffic_policy_local():
    spec = {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
            "ports": [{"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"}]}
    lb = {**svc("web", **spec), "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}}}
    text = rules.build(CFG, [lb], [eps("web", ("172.17.0.3", True, "n1"),
                                       ("172.17.0.4", True, "n2"))]).restore_text()
    lines = text.splitlines()
    xt = next(line for line in lines if "--dport 30080" in line).split()[-1]
    assert xt.startswith("KAPI-XT-abc123-")
    assert next(line for line in lines if "-d 192.0.2.1/32" in line).endswith(xt)
    cluster = next(line for line in lines if "-d 10.96.0.20/32" in line).split()[-1]
    local = xt.replace("XT", "SL")
    assert [line for line in lines if line.startswith(f"-A {xt} ")] == [
        f"-A {xt} -s 172.17.0.0/16 -j {cluster}",
        f"-A {xt} -m addrtype --src-type LOCAL -j MARK --or-mark 0x4000",
        f"-A {xt} -m addrtype --src-type LOCAL -j {cluster}",
        f"-A {xt} -j MARK --or-mark 0x2000", f"-A {xt} -j {local}"]
    # the local chain: n1's endpoint only, and no masquerade mark (the source is kept)
    sl = [line for line in lines if line.startswith(f"-A {local} ")]
    assert len(sl) == 1 and "MARK" not in sl[0]
    ep = sl[0].split()[-1]
    assert f"-A {ep} -p tcp -m tcp -j DNAT --to-destination 172.17.0.3:8080" in lines
    none_here = rules.build(CFG, [lb], [eps("web", ("172.17.0.4", True, "n2"))]).restore_text()
    assert f":{local}" not in none_here and f"-A {xt} -j MARK --or-mark 0x2000" not in none_here


def test_sctp_ports_are_matched_and_dnatted():
    sctp = svc("sig", ports=[{"name": "sig", "port": 3868, "protocol": "SCTP"}])
    slices = [{**eps("sig", ("172.17.0.3", True, "n1")),
               "ports": [{"name": "sig", "port": 3868, "protocol": "SCTP"}]}]
    text = rules.build(CFG, [sctp], slices).restore_text()
    assert "-d 10.96.0.20/32 -p sctp -m sctp --dport 3868" in text
    assert "-p sctp -m sctp -j DNAT --to-destination 172.17.0.3:3868" in text
