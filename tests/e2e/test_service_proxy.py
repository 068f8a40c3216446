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

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from runtime.proxy.hostnet import HostNetwork
from runtime.proxy.proxier import iptables_usable
from runtime.proxy.rules import ProxyConfig
from tests.conftest import REPO, Kubectl, Server, kubectls, start_server, stop_server
from tests.dockerenv import remove_cluster_containers, require_docker
from tests.helpers import wait_for

Obj = dict[str, Any]


def _cidr(salt: int) -> str:
    return f"10.{200 + (os.getpid() + salt) % 50}.{(os.getpid() // 50) % 250}.0/24"


@dataclass
class Cluster:
    server: Server
    cidr: str
    uid: str
    kubectl: Kubectl
    proxy: subprocess.Popen[bytes] | None = None

    def start_proxy(self) -> None:
        log = (self.server.data_dir / "proxy.log").open("ab")
        self.proxy = subprocess.Popen(
            [sys.executable, "-m", "kapi.cli", "proxy", "--kubeconfig",
             str(self.server.kubeconfig), "--service-cidr", self.cidr,
             "--node-name", "kapi-node-1"], stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        wait_for(lambda: own_rules(self.uid), "the proxy's rules", timeout=30)

    def stop_proxy(self) -> None:
        if self.proxy is not None:
            self.proxy.send_signal(signal.SIGTERM)
            self.proxy.wait(timeout=90)  # generous: the machine may be loaded
            self.proxy = None

    def get(self, *args: str) -> Obj:
        return json.loads(self.kubectl("get", *args, "-o", "json"))  # type: ignore[no-any-return]


def leave_host_clean(uid: str, cidr: str) -> None:
    """After a failure that left rules behind (a proxy killed), remove them anyway."""
    if own_rules(uid):
        HostNetwork(ProxyConfig(cluster_id=uid.replace("-", "")[:6], service_cidr=cidr,
                                pod_cidr="172.17.0.0/16")).cleanup()
    subprocess.run(["ip", "route", "del", "unreachable", cidr], capture_output=True, timeout=30)


def own_rules(uid: str) -> list[str]:
    saved = subprocess.run(["iptables-save"], capture_output=True, text=True, timeout=30).stdout
    tag = uid.replace("-", "")[:6]
    return [line for line in saved.splitlines() if "KAPI-" in line and tag in line]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    engine = require_docker()
    reason = iptables_usable()
    if reason is not None:
        pytest.skip(f"the service proxy needs iptables: {reason}")
    binaries = kubectls()
    if not binaries:
        pytest.skip("no kubectl installed")
    cidr = _cidr(0)
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


HTTPD = ("mkdir -p /w && hostname > /w/index.html && echo ok > /w/ready && "
         "exec httpd -f -p 8080 -h /w")


def deployment(name: str, replicas: int, ready_path: str = "/ready") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [_httpd(ready_path)]}}}}


def _httpd(ready_path: str) -> Obj:
    return {"name": "web", "image": "busybox", "command": ["sh", "-c", HTTPD],
            "ports": [{"name": "web", "containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": ready_path, "port": "web"},
                               "periodSeconds": 1}}


def service(name: str, selector: str, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": selector},
                     "ports": [{"name": "http", "port": 80, "targetPort": "web"}], **spec}}


def apply(cl: Cluster, ns: str, *objs: Obj) -> None:
    cl.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": list(objs)}))


def http_get(host: str, port: int, timeout: float = 2.0) -> str:
    """One HTTP/1.0 GET; the body ('' when refused or timed out)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
    except OSError:
        return ""
    return data.split(b"\r\n\r\n", 1)[-1].decode().strip()


def refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except (ConnectionRefusedError, OSError) as e:
        return not isinstance(e, TimeoutError)
    return False


def ready_ips(cl: Cluster, ns: str, name: str) -> list[str]:
    ep = cl.get("endpoints", name, "-n", ns)
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def pod_names(cl: Cluster, ns: str, app: str) -> set[str]:
    pods = cl.get("pods", "-n", ns, "-l", f"app={app}")["items"]
    return {p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")}


def hits(host: str, port: int, count: int) -> set[str]:
    return {http_get(host, port) for _ in range(count)} - {""}


@pytest.fixture(scope="module")
def web(cluster: Cluster) -> Iterator[tuple[str, Obj]]:
    ns = f"svc-{os.getpid() % 10000}"
    cluster.kubectl("create", "namespace", ns)
    bad = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "never-ready",
                                                           "labels": {"app": "web"}},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [_httpd("/nope")]}}
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
               {**_httpd("/ready"), "command": ["sh", "-c", loop]}]}}
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
    cidr = _cidr(25)
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
