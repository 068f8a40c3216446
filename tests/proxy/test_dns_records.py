"""Cluster DNS names over plain data (records.lookup), and the resolver's wire answers
(dnspython messages in and out, no socket); resolv.conf per dnsPolicy."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.message
import dns.rcode

from runtime.dns import records
from runtime.dns.server import Resolver
from runtime.kubelet.dnsconfig import dns_options

Obj = dict[str, Any]
SERVICES = {
    "d/web": {"spec": {"clusterIP": "10.96.0.20", "ports": [
        {"name": "http", "port": 80, "protocol": "TCP"}]}},
    "d/db": {"spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}]}},
    "d/ext": {"spec": {"type": "ExternalName", "externalName": "example.test"}},
}
SLICES = {"d/db": [{"addressType": "IPv4", "ports": [{"name": "pg", "port": 5432}],
                    "endpoints": [
                        {"addresses": ["172.17.0.5"], "hostname": "db-0",
                         "conditions": {"ready": True}},
                        {"addresses": ["172.17.0.6"], "hostname": "db-1",
                         "conditions": {"ready": True}},
                        {"addresses": ["172.17.0.7"], "conditions": {"ready": False}}]}]}
VIEW = records.View(service=SERVICES.get, slices=lambda k: SLICES.get(k, []))


def data(name: str, qtype: str = "A") -> tuple[str, list[str]]:
    rcode, found = records.lookup(VIEW, name, qtype)
    return rcode, [r[3] for r in found]


def test_service_names():
    assert data("web.d.svc.cluster.local.") == ("NOERROR", ["10.96.0.20"])
    assert data("db.d.svc.cluster.local") == ("NOERROR", ["172.17.0.5", "172.17.0.6"])
    assert data("db-1.db.d.svc.cluster.local") == ("NOERROR", ["172.17.0.6"])
    assert data("ext.d.svc.cluster.local") == ("NOERROR", ["example.test."])
    assert data("web.d.svc.cluster.local", "AAAA") == ("NOERROR", [])
    assert data("nope.d.svc.cluster.local")[0] == "NXDOMAIN"
    assert data("db-9.db.d.svc.cluster.local")[0] == "NXDOMAIN"
    assert data("example.org")[0] == "NOTZONE"


def test_srv_and_pod_names():
    assert data("_http._tcp.web.d.svc.cluster.local", "SRV") == (
        "NOERROR", ["0 100 80 web.d.svc.cluster.local."])
    assert data("_pg._tcp.db.d.svc.cluster.local", "SRV")[1] == [
        "0 100 5432 db-0.db.d.svc.cluster.local.", "0 100 5432 db-1.db.d.svc.cluster.local."]
    assert data("_nope._tcp.web.d.svc.cluster.local", "SRV")[0] == "NXDOMAIN"
    assert data("172-17-0-9.d.pod.cluster.local") == ("NOERROR", ["172.17.0.9"])
    assert data("not-an-ip.d.pod.cluster.local")[0] == "NXDOMAIN"


def test_wire_answers():
    resolver = Resolver(VIEW, forward=False)

    def ask(name: str, qtype: str) -> dns.message.Message:
        wire = dns.message.make_query(name, qtype).to_wire()
        out = asyncio.run(resolver.respond(wire))
        assert out is not None
        return dns.message.from_wire(out)
    m = ask("db.d.svc.cluster.local", "A")
    assert sorted(r.address for r in m.answer[0]) == ["172.17.0.5", "172.17.0.6"]
    assert m.answer[0].ttl == 5
    assert ask("nope.d.svc.cluster.local", "A").rcode() == dns.rcode.NXDOMAIN
    assert ask("example.org", "A").rcode() == dns.rcode.REFUSED
    assert asyncio.run(resolver.respond(b"\x00garbage")) is None


def test_a_kept_answer_carries_the_askers_id_until_a_change():
    services = dict(SERVICES)
    resolver = Resolver(records.View(service=services.get, slices=lambda k: []),
                        forward=False)

    def ask(query_id: int) -> dns.message.Message:
        query = dns.message.make_query("web.d.svc.cluster.local", "A")
        query.id = query_id
        out = asyncio.run(resolver.respond(query.to_wire()))
        assert out is not None
        return dns.message.from_wire(out)
    assert ask(1).id == 1
    services["d/web"] = {"spec": {"clusterIP": "10.96.0.21", "ports": []}}
    again = ask(2)  # the same question, no change seen: the kept answer, with ID 2
    assert again.id == 2 and again.answer[0][0].address == "10.96.0.20"
    resolver.forget()  # what an informer event does
    assert ask(3).answer[0][0].address == "10.96.0.21"


def test_resolv_conf_per_dns_policy():
    pod: Obj = {"metadata": {"namespace": "d"}, "spec": {}}
    assert dns_options(pod, ("10.96.0.10",)) == {
        "dns": ["10.96.0.10"], "dns_search": ["d.svc.cluster.local", "svc.cluster.local",
                                              "cluster.local"], "dns_opt": ["ndots:5"]}
    assert dns_options({"spec": {"dnsPolicy": "Default"}}, ("10.96.0.10",)) == {}
    assert dns_options({"spec": {"hostNetwork": True}}, ("10.96.0.10",)) == {}
    assert dns_options({"spec": {"hostNetwork": True, "dnsPolicy": "ClusterFirstWithHostNet"}},
                       ("10.96.0.10",))["dns"] == ["10.96.0.10"]
    none = {"spec": {"dnsPolicy": "None", "dnsConfig": {
        "nameservers": ["1.2.3.4"], "searches": ["a.b"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}}}
    assert dns_options(none, ("10.96.0.10",)) == {"dns": ["1.2.3.4"], "dns_search": ["a.b"],
                                                 "dns_opt": ["ndots:2", "edns0"]}
