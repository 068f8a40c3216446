"""The Services end-to-end tests' cluster and small helpers (tests/e2e/test_service_proxy.py):
a `kapi up --nodes 1` cluster whose `kapi proxy` runs beside it (so a test can restart
it), its own rules and their clean-up, pod and Service builders, and bounded HTTP
probes (one request each, or a counted handful). Traffic goes only to loopback, the
node's bridge address and this cluster's containers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from runtime.proxy.hostnet import HostNetwork
from runtime.proxy.rules import ProxyConfig
from tests.conftest import REPO, Kubectl, Server
from tests.helpers import wait_for

Obj = dict[str, Any]

def cidr_for(salt: int) -> str:
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



HTTPD = ("mkdir -p /w && hostname > /w/index.html && echo ok > /w/ready && "
         "exec httpd -f -p 8080 -h /w")


def deployment(name: str, replicas: int, ready_path: str = "/ready") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}}, "spec": {
                         "terminationGracePeriodSeconds": 1,
                         "containers": [httpd_container(ready_path)]}}}}


def httpd_container(ready_path: str) -> Obj:
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
