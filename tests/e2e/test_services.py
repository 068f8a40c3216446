"""Service addresses as a user sees them over HTTP and through kubectl: ClusterIPs from
the configured service CIDR (`kubernetes` first, kube-dns tenth), explicit and headless
clusterIPs, NodePorts from the configured range with upstream's refusals, the
healthCheckNodePort of a LoadBalancer with externalTrafficPolicy Local, and the
`kubernetes` Service's Endpoints at the server's real port."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from tests.conftest import Kubectl, kubectls, start_server, stop_server


def svc(name: str, **spec: object) -> dict[str, object]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, **spec}}


@pytest.fixture(scope="module")
def small_cidr(tmp_path_factory):  # type: ignore[no-untyped-def]
    s = start_server(tmp_path_factory.mktemp("svc"), extra=(
        "--service-cidr", "10.123.0.0/24", "--service-node-port-range", "31000-31010"))
    yield s
    stop_server(s.proc)


def test_cluster_ips_come_from_the_configured_range(small_cidr):
    with small_cidr.client() as c:
        k = c.get("/api/v1/namespaces/default/services/kubernetes").json()
        assert k["spec"]["clusterIP"] == "10.123.0.1"
        r = c.post("/api/v1/namespaces/default/services", json=svc("a"))
        assert r.status_code == 201, r.text
        ip = ipaddress.ip_address(r.json()["spec"]["clusterIP"])
        assert ip in ipaddress.ip_network("10.123.0.0/24") and int(ip) & 0xFF > 10
        chosen = "10.123.0.77" if str(ip) != "10.123.0.77" else "10.123.0.78"  # a's is random
        r = c.post("/api/v1/namespaces/default/services", json=svc("b", clusterIP=chosen))
        assert r.json()["spec"]["clusterIPs"] == [chosen]
        r = c.post("/api/v1/namespaces/default/services", json=svc("c", clusterIP=chosen))
        assert r.status_code == 422
        assert r.json()["message"] == (
            f'Service "c" is invalid: spec.clusterIPs: Invalid value: []string{{"{chosen}"}}: '
            f"failed to allocate IP {chosen}: provided IP is already allocated")
        r = c.post("/api/v1/namespaces/default/services", json=svc("d", clusterIP="10.9.0.1"))
        assert r.status_code == 422 and "The range of valid IPs is 10.123.0.0/24" in \
            r.json()["message"]
        r = c.post("/api/v1/namespaces/default/services", json=svc("h", clusterIP="None"))
        assert r.json()["spec"]["clusterIPs"] == ["None"]
        assert c.get("/api/v1/namespaces/default/services/d").status_code == 404


def test_node_ports_come_from_the_configured_range(small_cidr):
    with small_cidr.client() as c:
        r = c.post("/api/v1/namespaces/default/services", json=svc("np", type="NodePort"))
        taken = r.json()["spec"]["ports"][0]["nodePort"]
        assert 31000 <= taken <= 31010
        chosen = 31005 if taken != 31005 else 31006  # np's port is random: pick another
        r = c.post("/api/v1/namespaces/default/services",
                   json=svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": chosen}]))
        assert r.status_code == 201, r.text
        r = c.post("/api/v1/namespaces/default/services",
                   json=svc("np3", type="NodePort", ports=[{"port": 80, "nodePort": chosen}]))
        assert r.json()["message"] == ('Service "np3" is invalid: spec.ports[0].nodePort: '
                                       f"Invalid value: {chosen}: provided port is already "
                                       "allocated")
        r = c.post("/api/v1/namespaces/default/services",
                   json=svc("np4", type="NodePort", ports=[{"port": 80, "nodePort": 30000}]))
        assert r.json()["message"].endswith("provided port is not in the valid range. "
                                             "The range of valid ports is 31000-31010")
        # an update that keeps its own port is no clash with itself
        r = c.patch("/api/v1/namespaces/default/services/np2", json={"metadata": {
            "labels": {"x": "y"}}}, headers={"Content-Type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text


def test_health_check_node_port_follows_the_traffic_policy(small_cidr):
    found = kubectls()
    if not found:
        pytest.skip("no kubectl installed")
    kubectl = Kubectl(max(found), found[max(found)], small_cidr.kubeconfig)
    with small_cidr.client() as c:
        base = "/api/v1/namespaces/default/services"
        r = c.post(base, json=svc("lb", type="LoadBalancer", externalTrafficPolicy="Local"))
        assert r.status_code == 201, r.text
        spec = r.json()["spec"]
        health = spec["healthCheckNodePort"]
        assert 31000 <= health <= 31010 and health != spec["ports"][0]["nodePort"]
        assert f"HealthCheck NodePort:     {health}" in kubectl("describe", "service", "lb")
        merge = {"Content-Type": "application/merge-patch+json"}
        # an update that leaves it out keeps it; one that changes it is refused
        r = c.put(f"{base}/lb", json={**r.json(), "spec": {
            k: v for k, v in spec.items() if k != "healthCheckNodePort"}})
        assert r.json()["spec"]["healthCheckNodePort"] == health, r.text
        other = 31000 if health != 31000 else 31001
        r = c.patch(f"{base}/lb", json={"spec": {"healthCheckNodePort": other}}, headers=merge)
        assert r.status_code == 422 and r.json()["message"] == (
            'Service "lb" is invalid: spec.healthCheckNodePort: Forbidden: field is immutable')
        r = c.patch(f"{base}/lb", json={"spec": {"externalTrafficPolicy": "Cluster"}},
                    headers=merge)
        assert r.status_code == 200 and "healthCheckNodePort" not in r.json()["spec"]
        r = c.post(base, json=svc("plain", healthCheckNodePort=31002))
        assert r.status_code == 422 and r.json()["message"] == (
            'Service "plain" is invalid: spec.healthCheckNodePort: Invalid value: 31002: '
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is "
            "'Local'")
        assert c.get(f"{base}/plain").status_code == 404


def test_bad_ranges_are_refused_at_start(tmp_path):
    for args in (("--service-cidr", "10.96.0.0/30"), ("--service-cidr", "nonsense"),
                 ("--service-node-port-range", "40000-30000")):
        p = subprocess.run([sys.executable, "-m", "kapi.cli", "apiserver",
                            "--data-dir", str(tmp_path), *args],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 2 and p.stderr.startswith("kapi: "), p.stderr


def test_kubernetes_endpoints_and_kubectl_views(server, kubectl):  # type: ignore[no-untyped-def]
    ep = json.loads(kubectl("get", "endpoints", "kubernetes", "-n", "default", "-o", "json"))
    assert ep["subsets"][0]["ports"][0]["port"] == server.port
    assert f"127.0.0.1:{server.port}" in kubectl("get", "endpoints", "kubernetes", "-n", "default")
    out = kubectl("get", "endpointslices", "-n", "default")
    assert "kubernetes" in out and f"{server.port}" in out and "127.0.0.1" in out
