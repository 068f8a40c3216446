"""A node that reaches its API server over the network rather than loopback: the API
server (`kapi up` on etcd) listens only on an address of a veth pair this test creates (this
machine owns it; the pair's other end leads nowhere, so nothing outside can reach it), and
`kapi kubelet --server --token --ca-cert-hash` (a bootstrap token from `kapi token create`)
joins through that address, gets its certificate through a CSR, and runs a pod on the real
Docker engine. (tests/e2e/test_netns_join.py joins from a network namespace; the Docker
kubelet serves on the Docker bridge's address, which a namespace does not have.)

Needs root (ip link), Docker and etcd; skips without them (unless KAPI_REQUIRE_DOCKER /
KAPI_REQUIRE_ETCD say otherwise). The interface, the server, the kubelet and the
containers of this test's cluster are removed at the end.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import REPO, Server, free_port, stop_server
from tests.dockerenv import remove_cluster_containers, require_docker
from tests.etcdenv import start_etcd
from tests.helpers import wait_for


def new_link(prefix: str) -> tuple[str, str]:
    """(a fresh link name with this prefix, `ip -o addr` now); skips without root."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to add links and addresses")
    return (f"{prefix}{uuid.uuid4().hex[:6]}",
            subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout)


@pytest.fixture
def address() -> Iterator[str]:
    """A /32 on one end of a veth pair named for this test (never a shared link)."""
    link, in_use = new_link("kapi-j")
    addr = next(a for a in (f"10.253.{random.randrange(256)}.{random.randrange(1, 255)}"
                            for _ in range(100)) if f" {a}/" not in in_use)
    subprocess.run(["ip", "link", "add", link, "type", "veth", "peer", "name", link + "p"],
                   check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{addr}/32", "dev", link], check=True)
        subprocess.run(["ip", "link", "set", link, "up"], check=True)
        subprocess.run(["ip", "link", "set", link + "p", "up"], check=True)
        yield addr
    finally:
        subprocess.run(["ip", "link", "del", link], check=False)  # takes its peer along


def _ready(server: Server) -> bool:
    if not server.ca.exists():
        return False
    try:
        with server.client(cert=False, timeout=2) as c:
            return c.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def test_kubelet_joins_over_a_non_loopback_address(address: str, tmp_path: Path) -> None:
    engine = require_docker()
    etcd = start_etcd()
    port, data = free_port(), tmp_path / "server"
    url = f"https://{address}:{port}"
    node = f"joined-{uuid.uuid4().hex[:6]}"
    server: subprocess.Popen[bytes] | None = None
    kubelet: subprocess.Popen[bytes] | None = None
    cluster_uid = ""
    try:
        server = subprocess.Popen(
            [sys.executable, "-m", "kapi.cli", "up", "--storage", "etcd",
             "--etcd-servers", etcd.url, "--host", address, "--port", str(port),
             "--data-dir", str(data), "--nodes", "0", "--no-dns", "--no-proxy"],
            stdout=(tmp_path / "server.log").open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
        srv = Server(url, data, data / "kubeconfig", server, port, tmp_path / "server.log")
        wait_for(lambda: _ready(srv), "the API server on its address", timeout=60)
        kubeconfig = data / "kubeconfig"
        assert f"server: {url}" in kubeconfig.read_text()
        log = tmp_path / "kubelet.log"
        made = subprocess.run([sys.executable, "-m", "kapi.cli", "token", "create",
                               "--kubeconfig", str(kubeconfig), "--print-join-command"],
                              capture_output=True, text=True, cwd=REPO, check=True)
        join = made.stdout.split()  # kapi kubelet --server URL --token T --ca-cert-hash H ...
        assert join[3] == url
        kubelet = subprocess.Popen(
            [sys.executable, "-m", "kapi.cli", "kubelet", "--node-name", node,
             "--server", url, "--token", join[5], "--ca-cert-hash", join[7],
             "--kubeconfig", str(tmp_path / "node.kubeconfig"), "--node-cpu", "1"],
            stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=REPO)
        with srv.client() as c:
            cluster_uid = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]

            def ready() -> Any:
                n = c.get(f"/api/v1/nodes/{node}")
                conds = n.json().get("status", {}).get("conditions", []) if n.is_success else []
                return any(x["type"] == "Ready" and x["status"] == "True" for x in conds)
            wait_for(ready, "the joined node to be Ready", timeout=60)
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"nodeName": node, "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "c", "image": "busybox",
                                            "command": ["sh", "-c", "sleep 600"]}]}}
            assert c.post("/api/v1/namespaces/default/pods", json=pod).status_code == 201

            def running() -> Any:
                st = c.get("/api/v1/namespaces/default/pods/p").json().get("status", {})
                return st.get("phase") == "Running" and st
            st = wait_for(running, "the pod to run on the joined node", timeout=90)
            assert st["containerStatuses"][0]["ready"] is True
    finally:
        if kubelet is not None:
            stop_server(kubelet)
        if server is not None:
            stop_server(server)
        etcd.stop()
        if cluster_uid:
            remove_cluster_containers(engine, cluster_uid)
