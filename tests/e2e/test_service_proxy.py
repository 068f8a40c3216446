"""Services that load-balance, end to end on the host's real Docker engine and iptables:
`kapi up --nodes 1` with `kapi proxy` run beside it (so the test can restart it), a
3-replica busybox httpd Deployment behind a NodePort Service and a pod that never turns
ready. From the host and from a client pod, the ClusterIP reaches every ready backend
and never the unready one; the NodePort answers on 127.0.0.1 and the node address;
scaling changes the endpoints; ClientIP affinity pins; a pod reaches itself through its
Service (hairpin); after a proxy restart traffic flows again; after shutdown no rule of
the cluster is left and the service CIDR is still refused. `kapi up` starts a proxy of
its own, and removes its rules when it stops.

Traffic goes only to loopback, the node's bridge address and this cluster's containers;
every request loop is bounded. Each cluster uses a /24 service CIDR of its own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from runtime.proxy.proxier import iptables_usable
from tests.conftest import Kubectl, kubectls, start_server, stop_server
from tests.dockerenv import remove_cluster_containers, require_docker
from tests.e2e.svcenv import (
    HTTPD,
    Cluster,
    Obj,
    apply,
    cidr_for,
    deployment,
    hits,
    http_get,
    httpd_container,
    leave_host_clean,
    own_rules,
    pod_names,
    ready_ips,
    refused,
    service,
)
from tests.helpers import wait_for


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    engine = require_docker()
    reason = iptables_usable()
    if reason is not None:
        pytest.skip(f"the service proxy needs iptables: {reason}")
    binaries = kubectls()
    if not binaries:
        pytest.skip("no kubectl installed")
    cidr = cidr_for(0)
    s = start_server(tmp_path_factory.mktemp("svcproxy"), command="up",
                     extra=("--nodes", "1", "--no-proxy", "--service-cidr", cidr))
    with s.client() as c:
        uid = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]
    binary = binaries[max(binaries)]
    cl = Cluster(s, cidr, uid, Kubectl(max(binaries), binary, s.kubeconfig))
    try:
        cl.start_proxy()
        yield cl
    finally:
        cl.stop_proxy()
        stop_server(s.proc)
        remove_cluster_containers(engine, uid)
        leave_host_clean(uid, cidr)


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Iterator[tuple[str, Obj]]:
    ns = f"svc-{os.getpid() % 10000}"
    cluster.kubectl("create", "namespace", ns)
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "never-ready",
                                                           "labels": {"app": "web"}},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [httpd_container("/nope")]}}
    apply(cluster, ns, deployment("web", 3), bad, service("web", "web", type="NodePort"))
    wait_for(lambda: len(ready_ips(cluster, ns, "web")) == 3, "3 ready endpoints", timeout=90)
    yield ns, cluster.get("service", "web", "-n", ns)


def test_cluster_ip_reaches_every_ready_backend_from_the_host(cluster: Cluster, web: Any) -> None:
    ns, svc = web
    names = pod_names(cluster, ns, "web")
    assert len(names) == 4 and "never-ready" in names
    ep = cluster.get("endpoints", "web", "-n", ns)
    assert [a["targetRef"]["name"] for a in ep["subsets"][0]["notReadyAddresses"]] == [
        "never-ready"]
    got = hits(svc["spec"]["clusterIP"], 80, 60)
    assert got == names - {"never-ready"}
    port = svc["spec"]["ports"][0]["nodePort"]
    assert hits("127.0.0.1", port, 30) == names - {"never-ready"}
    node = cluster.get("node", "kapi-node-1")["status"]["addresses"][0]["address"]
    assert http_get(node, port) in names - {"never-ready"}
    # an address of the CIDR no Service has, and a port the Service lacks: refused here
    assert refused(cluster.cidr.replace(".0/24", ".250"), 80)
    assert refused(svc["spec"]["clusterIP"], 81)


def test_views_of_endpoints_and_slices(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    ips = ready_ips(cluster, ns, "web")
    out = cluster.kubectl("get", "endpoints", "web", "-n", ns)
    assert all(f"{ip}:8080" in out for ip in ips)
    slices = cluster.get("endpointslices", "-n", ns, "-l", "kubernetes.io/service-name=web")
    conds = {e["targetRef"]["name"]: e["conditions"]["ready"]
             for s in slices["items"] for e in s["endpoints"]}
    assert conds["never-ready"] is False and sum(conds.values()) == 3
    described = cluster.kubectl("describe", "service", "web", "-n", ns)
    assert "Endpoints:" in described and ips[0] in described


def test_client_pod_reaches_every_ready_backend(cluster: Cluster, web: Any) -> None:
    ns, svc = web
    ip = svc["spec"]["clusterIP"]
    # busybox's nc: a bare HTTP/1.0 request per connection, 30 of them
    loop = (f"for i in $(seq 1 30); do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {ip} 80 "
            "| tail -n 1; done")
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
              "spec": {"restartPolicy": "Never", "containers": [
                  {"name": "c", "image": "busybox", "command": ["sh", "-c", loop]}]}}
    apply(cluster, ns, client)
    wait_for(lambda: cluster.get("pod", "client", "-n", ns)["status"].get("phase") ==
             "Succeeded", "the client pod to finish", timeout=60)
    seen = set(cluster.kubectl("logs", "client", "-n", ns).split())
    assert seen == pod_names(cluster, ns, "web") - {"never-ready"}


def test_scaling_updates_endpoints_and_traffic(cluster: Cluster, web: Any) -> None:
    ns, svc = web
    cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas", "4")
    wait_for(lambda: len(ready_ips(cluster, ns, "web")) == 4, "4 ready endpoints", timeout=60)
    wait_for(lambda: len(hits(svc["spec"]["clusterIP"], 80, 40)) == 4, "traffic to all 4",
             timeout=20)
    cluster.kubectl("scale", "deployment", "web", "-n", ns, "--replicas", "2")
    wait_for(lambda: len(ready_ips(cluster, ns, "web")) == 2, "2 ready endpoints", timeout=60)
    wait_for(lambda: hits(svc["spec"]["clusterIP"], 80, 30) == pod_names(cluster, ns, "web")
             - {"never-ready"}, "traffic to the 2 left", timeout=20)


def test_expose_as_load_balancer_gets_the_node_address(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    cluster.kubectl("expose", "deployment", "web", "-n", ns, "--name", "lb", "--port", "8081",
                    "--target-port", "8080", "--type", "LoadBalancer")
    node = cluster.get("node", "kapi-node-1")["status"]["addresses"][0]["address"]
    lb = wait_for(lambda: (s := cluster.get("service", "lb", "-n", ns))["status"].get(
        "loadBalancer", {}).get("ingress") and s, "an ingress address", timeout=30)
    assert lb["status"]["loadBalancer"]["ingress"] == [{"ip": node, "ipMode": "VIP"}]
    assert node in cluster.kubectl("get", "service", "lb", "-n", ns)  # EXTERNAL-IP
    backends = pod_names(cluster, ns, "web") - {"never-ready"}
    wait_for(lambda: http_get(node, 8081) in backends, "the ingress address to answer",
             timeout=20)
    assert http_get("127.0.0.1", lb["spec"]["ports"][0]["nodePort"]) in backends


def test_client_ip_affinity_pins_the_host(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    apply(cluster, ns, service("sticky", "web", sessionAffinity="ClientIP"))
    wait_for(lambda: len(ready_ips(cluster, ns, "sticky")) >= 2, "endpoints", timeout=30)
    ip = cluster.get("service", "sticky", "-n", ns)["spec"]["clusterIP"]
    wait_for(lambda: hits(ip, 80, 1), "the sticky service to answer", timeout=20)
    assert len(hits(ip, 80, 20)) == 1


def test_a_pod_reaches_itself_through_its_service(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    apply(cluster, ns, service("selfie", "selfie"))
    ip = cluster.get("service", "selfie", "-n", ns)["spec"]["clusterIP"]
    loop = (f"({HTTPD}) & for i in $(seq 1 40); do sleep 0.5; printf 'GET / HTTP/1.0\\r\\n\\r\\n'"
            f" | nc -w 2 {ip} 80 | tail -n 1; done; sleep 3600")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "selfie",
                                                           "labels": {"app": "selfie"}},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [
               {**httpd_container("/ready"), "command": ["sh", "-c", loop]}]}}
    apply(cluster, ns, pod)
    wait_for(lambda: "selfie" in cluster.kubectl.run("logs", "selfie", "-n", ns,
                                                     check=False).stdout.split(),
             "the pod to reach itself", timeout=60)


def dns_query(cl: Cluster, name: str, qtype: str = "A") -> tuple[str, list[str]]:
    """Ask kube-dns's ClusterIP from the host (through the proxy's rules)."""
    import dns.exception
    import dns.message
    import dns.query
    import dns.rcode
    server = cl.cidr.replace(".0/24", ".10")
    try:
        m = dns.query.udp(dns.message.make_query(name, qtype), server, timeout=2)
    except dns.exception.Timeout:
        return "TIMEOUT", []
    return dns.rcode.to_text(m.rcode()), sorted(r.to_text() for rr in m.answer for r in rr)


def test_dns_answers_through_the_kube_dns_service(cluster: Cluster, web: Any) -> None:
    ns, svc = web
    kube_dns = cluster.get("service", "kube-dns", "-n", "kube-system")
    assert kube_dns["spec"]["clusterIP"] == cluster.cidr.replace(".0/24", ".10")
    wait_for(lambda: dns_query(cluster, f"web.{ns}.svc.cluster.local")[0] == "NOERROR",
             "kube-dns to answer", timeout=30)
    assert dns_query(cluster, f"web.{ns}.svc.cluster.local") == (
        "NOERROR", [svc["spec"]["clusterIP"]])
    assert dns_query(cluster, f"_http._tcp.web.{ns}.svc.cluster.local", "SRV") == (
        "NOERROR", [f"0 100 80 web.{ns}.svc.cluster.local."])
    assert dns_query(cluster, f"nope.{ns}.svc.cluster.local")[0] == "NXDOMAIN"
    assert dns_query(cluster, f"172-17-0-9.{ns}.pod.cluster.local") == ("NOERROR",
                                                                       ["172.17.0.9"])


def test_headless_and_statefulset_names(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
           "spec": {"serviceName": "db", "replicas": 2,
                    "selector": {"matchLabels": {"app": "db"}},
                    "template": deployment("db", 1)["spec"]["template"]}}
    apply(cluster, ns, service("db", "db", clusterIP="None"), sts)
    wait_for(lambda: len(ready_ips(cluster, ns, "db")) == 2, "2 ready db pods", timeout=90)
    ips = ready_ips(cluster, ns, "db")
    wait_for(lambda: dns_query(cluster, f"db.{ns}.svc.cluster.local") == ("NOERROR", ips),
             "headless answers", timeout=20)
    pod_ip = cluster.get("pod", "db-1", "-n", ns)["status"]["podIP"]
    assert dns_query(cluster, f"db-1.db.{ns}.svc.cluster.local") == ("NOERROR", [pod_ip])


def test_pods_resolve_service_names(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    script = ("cat /etc/resolv.conf; nslookup web; nslookup db; "
              "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 web 80 | tail -n 1")
    apply(cluster, ns, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "resolver"},
                        "spec": {"restartPolicy": "Never", "containers": [
                            {"name": "c", "image": "busybox", "command": ["sh", "-c", script]}]}})
    wait_for(lambda: cluster.get("pod", "resolver", "-n", ns)["status"].get("phase") in (
        "Succeeded", "Failed"), "the resolver pod to finish", timeout=60)
    out = cluster.kubectl("logs", "resolver", "-n", ns)
    assert f"search {ns}.svc.cluster.local svc.cluster.local cluster.local" in out
    assert "options ndots:5" in out
    assert cluster.get("service", "web", "-n", ns)["spec"]["clusterIP"] in out
    assert all(ip in out for ip in ready_ips(cluster, ns, "db"))
    assert out.split()[-1] in pod_names(cluster, ns, "web")


def test_api_server_proxy_subresources(cluster: Cluster, web: Any) -> None:
    from kubernetes import client as k8s

    from tests.helpers import api_for

    ns, _ = web
    backends = pod_names(cluster, ns, "web") - {"never-ready"}
    base = f"/api/v1/namespaces/{ns}"
    for target in ("web", "web:http", "web:80", "http:web:80"):
        got = cluster.kubectl("get", "--raw", f"{base}/services/{target}/proxy/").strip()
        assert got in backends, (target, got)
    pod = sorted(backends)[0]
    assert cluster.kubectl("get", "--raw", f"{base}/pods/{pod}/proxy/index.html").strip() == pod
    assert cluster.kubectl("get", "--raw", f"{base}/pods/{pod}:web/proxy/ready").strip() == "ok"
    apply(cluster, ns, service("empty", "nothing-matches"))
    out = cluster.kubectl.run("get", "--raw", f"{base}/services/empty/proxy/", check=False)
    assert out.returncode != 0 and 'no endpoints available for service "empty"' in out.stderr
    with api_for(cluster.server.kubeconfig) as api:
        body = k8s.CoreV1Api(api).connect_get_namespaced_service_proxy_with_path(
            "web:http", ns, "index.html")
        assert body.strip() in backends
    proxy = subprocess.Popen([str(cluster.kubectl.binary), "--kubeconfig",
                              str(cluster.server.kubeconfig), "proxy", "--port=0"],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert proxy.stdout is not None
        line = proxy.stdout.readline()  # Starting to serve on 127.0.0.1:PORT
        port = int(line.rsplit(":", 1)[1])
        import httpx
        r = httpx.get(f"http://127.0.0.1:{port}{base}/services/web:http/proxy/", timeout=10)
        assert r.status_code == 200 and r.text.strip() in backends
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=10)


def _lingering(name: str, app: str) -> Obj:
    """An httpd pod that ignores SIGTERM (it keeps serving while it terminates, for up to
    its 60 s grace period) and whose readiness is the file /w/ready."""
    script = f"trap '' TERM; ({HTTPD}) & while true; do sleep 1; done"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"terminationGracePeriodSeconds": 60, "containers": [
                {**httpd_container("/ready"), "command": ["sh", "-c", script]}]}}


@pytest.fixture(scope="module")
def drain(cluster: Cluster, web: Any) -> Iterator[tuple[str, str]]:
    ns, _ = web
    apply(cluster, ns, _lingering("drain-a", "drain"), _lingering("drain-b", "drain"),
          service("drain", "drain"))
    wait_for(lambda: len(ready_ips(cluster, ns, "drain")) == 2, "2 ready endpoints", timeout=90)
    ip = cluster.get("service", "drain", "-n", ns)["spec"]["clusterIP"]
    wait_for(lambda: hits(ip, 80, 20) == {"drain-a", "drain-b"}, "traffic to both", timeout=20)
    yield ns, ip
    cluster.kubectl.run("delete", "pod", "drain-a", "drain-b", "-n", ns, "--grace-period=0",
                        "--force", "--wait=false", check=False)


def test_a_pod_failing_readiness_leaves_and_gets_no_traffic(cluster: Cluster,
                                                            drain: Any) -> None:
    ns, ip = drain
    cluster.kubectl("exec", "drain-a", "-n", ns, "--", "rm", "/w/ready")
    wait_for(lambda: len(ready_ips(cluster, ns, "drain")) == 1, "drain-a to leave", timeout=30)
    ep = cluster.get("endpoints", "drain", "-n", ns)["subsets"][0]
    assert [a["targetRef"]["name"] for a in ep["notReadyAddresses"]] == ["drain-a"]
    wait_for(lambda: hits(ip, 80, 20) == {"drain-b"}, "traffic to drain-b only", timeout=20)
    assert hits(ip, 80, 30) == {"drain-b"}
    cluster.kubectl("exec", "drain-a", "-n", ns, "--", "sh", "-c", "echo ok > /w/ready")
    wait_for(lambda: len(ready_ips(cluster, ns, "drain")) == 2, "drain-a back", timeout=30)
    wait_for(lambda: hits(ip, 80, 20) == {"drain-a", "drain-b"}, "traffic to both",
             timeout=20)


def _conditions(cl: Cluster, ns: str, service_name: str) -> dict[str, dict[str, bool]]:
    slices = cl.get("endpointslices", "-n", ns, "-l",
                    f"kubernetes.io/service-name={service_name}")
    return {e["targetRef"]["name"]: e["conditions"] for s in slices["items"]
            for e in s.get("endpoints") or []}


def test_a_terminating_pod_stops_getting_new_connections(cluster: Cluster, drain: Any) -> None:
    ns, ip = drain
    pod_ip = cluster.get("pod", "drain-a", "-n", ns)["status"]["podIP"]
    cluster.kubectl("delete", "pod", "drain-a", "-n", ns, "--wait=false")
    wait_for(lambda: _conditions(cluster, ns, "drain").get("drain-a") == {
        "ready": False, "serving": True, "terminating": True}, "drain-a terminating",
        timeout=30)
    wait_for(lambda: hits(ip, 80, 20) == {"drain-b"}, "new connections to drain-b only",
             timeout=20)
    assert hits(ip, 80, 30) == {"drain-b"}
    assert http_get(pod_ip, 8080) == "drain-a"  # still serving: only the rules left it
    # every endpoint terminating: the serving ones take traffic rather than none (upstream)
    cluster.kubectl("delete", "pod", "drain-b", "-n", ns, "--wait=false")
    wait_for(lambda: _conditions(cluster, ns, "drain").get("drain-b", {}).get("terminating"),
             "drain-b terminating", timeout=30)
    wait_for(lambda: hits(ip, 80, 30) == {"drain-a", "drain-b"},
             "traffic to both terminating pods", timeout=20)


def test_external_traffic_policy_local(cluster: Cluster, web: Any) -> None:
    ns, _ = web
    local = service("web-local", "web", type="LoadBalancer", externalTrafficPolicy="Local")
    apply(cluster, ns, local, service("nobody-local", "nobody", type="LoadBalancer",
                                      externalTrafficPolicy="Local", ports=[
                                          {"name": "http", "port": 8083, "targetPort": "web"}]))
    svc = cluster.get("service", "web-local", "-n", ns)
    health = svc["spec"]["healthCheckNodePort"]
    assert health != svc["spec"]["ports"][0]["nodePort"]
    expected = len(ready_ips(cluster, ns, "web"))  # every web pod runs on this one node

    def check(port: int) -> tuple[int, Obj]:
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except httpx.HTTPError:
            return 0, {}
        return r.status_code, r.json()
    got = wait_for(lambda: (c := check(health))[0] == 200 and c, "a healthy check", timeout=20)
    assert got == (200, {"service": {"namespace": ns, "name": "web-local"},
                         "localEndpoints": expected, "serviceProxyHealthy": True})
    empty = cluster.get("service", "nobody-local", "-n", ns)["spec"]["healthCheckNodePort"]
    got = wait_for(lambda: (c := check(empty))[0] and c, "the other health check", timeout=20)
    assert got[0] == 503 and got[1]["localEndpoints"] == 0
    # from the host, the node port still reaches the Service (masqueraded, as upstream)
    port = svc["spec"]["ports"][0]["nodePort"]
    assert http_get("127.0.0.1", port) in pod_names(cluster, ns, "web") - {"never-ready"}


WHO = ("mkdir -p /w/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\n"
       "echo $REMOTE_ADDR\\n' > /w/cgi-bin/ip && chmod +x /w/cgi-bin/ip && echo ok > /w/ready"
       " && exec httpd -f -p 8080 -h /w")


# one GET of the CGI script from inside the namespace (Python: busybox's static wget
# crashed there); prints the client address seen, nothing when refused or timed out
ASK = """import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3) as s:
        s.sendall(b"GET /cgi-bin/ip HTTP/1.0\\r\\n\\r\\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    # the script's last line: busybox httpd writes REMOTE_ADDR as [::ffff:a.b.c.d]
    print(data.decode().strip().splitlines()[-1].strip("[]").removeprefix("::ffff:"))
except (OSError, IndexError):
    pass
"""


@pytest.fixture
def outside(cluster: Cluster) -> Iterator[tuple[str, str]]:
    """A network namespace of this test's own, linked to the host by a veth pair: a
    client that is neither the host nor a pod (as one on another machine would be).
    Yields (namespace, the host's address on the link)."""
    if Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != "1":
        pytest.skip("the host does not forward IPv4")
    tag = f"{os.getpid() % 100000}"
    ns, host_if, ns_if = f"kapi-svc-{tag}", f"ksv{tag}h", f"ksv{tag}n"
    net = f"198.18.{200 + os.getpid() % 50}"  # RFC 2544 (benchmarking): on this link only
    steps = [["ip", "netns", "add", ns],
             ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
             ["ip", "link", "set", ns_if, "netns", ns],
             ["ip", "addr", "add", f"{net}.1/30", "dev", host_if],
             ["ip", "link", "set", host_if, "up"],
             ["ip", "-n", ns, "addr", "add", f"{net}.2/30", "dev", ns_if],
             ["ip", "-n", ns, "link", "set", ns_if, "up"],
             ["ip", "-n", ns, "route", "add", "default", "via", f"{net}.1"]]
    try:
        for step in steps:
            subprocess.run(step, check=True, capture_output=True, timeout=30)
        yield ns, f"{net}.1"
    finally:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=30)


def test_external_clients_keep_their_address_with_policy_local(
        cluster: Cluster, web: Any, outside: tuple[str, str]) -> None:
    ns, _ = web
    netns, host_address = outside
    who = deployment("who", 1)
    who["spec"]["template"]["spec"]["containers"][0]["command"] = ["sh", "-c", WHO]
    apply(cluster, ns, who, service("who-local", "who", type="NodePort",
                                    externalTrafficPolicy="Local"),
          service("who-cluster", "who", type="NodePort"))
    wait_for(lambda: ready_ips(cluster, ns, "who-local"), "who's endpoint", timeout=90)

    def client_seen(service_name: str) -> str:
        port = cluster.get("service", service_name, "-n", ns)["spec"]["ports"][0]["nodePort"]
        p = subprocess.run(["ip", "netns", "exec", netns, sys.executable, "-c", ASK,
                            host_address, str(port)], capture_output=True, text=True, timeout=30)
        return p.stdout.strip()
    client = host_address.rsplit(".", 1)[0] + ".2"
    assert wait_for(lambda: client_seen("who-local"), "who-local from outside",
                    timeout=20) == client
    seen = wait_for(lambda: client_seen("who-cluster"), "who-cluster from outside", timeout=20)
    assert seen and seen != client  # policy Cluster: masqueraded to the node's address


def test_upgrades_through_the_api_servers_proxy(cluster: Cluster, web: Any) -> None:
    """A pod answering any upgrade with 101 and then echoing: the API server's
    pods/proxy joins the client to it."""
    ns, _ = web
    # the answering script comes in an environment variable: no shell quoting needed
    upgrade = ("while read -r line; do [ \"$(printf '%s' \"$line\" | tr -d '\\r')\" = '' ] "
               "&& break; done\nprintf 'HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: echo"
               "\\r\\nConnection: Upgrade\\r\\n\\r\\n'\nexec cat\n")
    script = ("mkdir -p /w && echo ok > /w/ready && printf '%s' \"$UP\" > /w/up.sh && "
              "httpd -p 8081 -h /w && exec nc -ll -p 8080 -e sh /w/up.sh")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "upgrader"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
               "name": "c", "image": "busybox", "command": ["sh", "-c", script],
               "env": [{"name": "UP", "value": upgrade}],
               "ports": [{"name": "echo", "containerPort": 8080}],
               "readinessProbe": {"httpGet": {"path": "/ready", "port": 8081},
                                  "periodSeconds": 1}}]}}
    apply(cluster, ns, pod)
    wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in cluster.get(
        "pod", "upgrader", "-n", ns)["status"].get("conditions") or []), "upgrader ready",
        timeout=60)
    server = cluster.server
    host, port = server.url.split("://", 1)[1].rsplit(":", 1)
    ctx = server.ssl_context()
    assert ctx is not None
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(f"GET /api/v1/namespaces/{ns}/pods/upgrader:echo/proxy/ HTTP/1.1\r\n"
                  f"Host: {host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            head += s.recv(4096) or b"!"  # "!": closed, stop
        assert head.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"), head
        assert b"upgrade: echo" in head.lower()
        for word in (b"ping\n", b"pong\n"):
            s.sendall(word)
            assert s.recv(100) == word


def test_proxy_restart_and_shutdown(cluster: Cluster, web: Any) -> None:
    ns, svc = web
    ip = svc["spec"]["clusterIP"]
    cluster.stop_proxy()
    assert own_rules(cluster.uid) == []
    assert refused(ip, 80)
    routes = subprocess.run(["ip", "route", "show", "table", "all"], capture_output=True,
                            text=True, timeout=30).stdout
    assert f"unreachable {cluster.cidr}" in routes and f"local {cluster.cidr}" not in routes
    cluster.start_proxy()
    wait_for(lambda: hits(ip, 80, 10), "traffic after the restart", timeout=20)
    cluster.stop_proxy()
    assert own_rules(cluster.uid) == [] and refused(ip, 80)


def test_kapi_up_runs_a_proxy_and_removes_its_rules(tmp_path: Path) -> None:
    engine = require_docker()
    if iptables_usable() is not None:
        pytest.skip("the service proxy needs iptables")
    cidr = cidr_for(25)
    s = start_server(tmp_path, command="up", extra=("--nodes", "1", "--service-cidr", cidr))
    uid = ""
    try:
        with s.client() as c:
            uid = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]
        wait_for(lambda: own_rules(uid), "kapi up's proxy rules", timeout=30)
        # the `kubernetes` Service reaches the API server from the host, whose
        # certificate names that ClusterIP
        first = cidr.replace(".0/24", ".1")

        def version() -> bool:
            try:
                with httpx.Client(base_url=f"https://{first}:443", timeout=2,
                                  verify=s.ssl_context(cert=False)) as c:
                    return c.get("/version").status_code == 200
            except httpx.HTTPError:
                return False
        wait_for(version, "kubernetes ClusterIP", timeout=20)
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(timeout=90) == 0  # generous: the machine may be loaded
        assert own_rules(uid) == [] and refused(first, 443)
    finally:
        if s.proc.poll() is None:
            stop_server(s.proc)
        if uid:
            remove_cluster_containers(engine, uid)
            leave_host_clean(uid, cidr)
