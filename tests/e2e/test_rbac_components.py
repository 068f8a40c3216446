"""kapi's components keep working under their own identities with RBAC on: the
controller manager as system:kube-controller-manager, the scheduler as
system:kube-scheduler and a (simulated) kubelet as system:node:NAME in system:nodes,
each started with a token kubeconfig; a Deployment becomes Ready on the node. The node
identity is held to its own objects (the Node authorizer)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import REPO, Server, start_server, stop_server
from tests.helpers import wait_for

NODE = "rbac-node-0"
TOKENS = f"""kcm-token,system:kube-controller-manager,kcm
sched-token,system:kube-scheduler,sched
node-token,system:node:{NODE},node,system:nodes
other-node-token,system:node:rbac-node-9,node9,system:nodes
proxy-token,system:kube-proxy,proxy
"""
SIM = ("import asyncio, sys\n"
       "from runtime.client.rest import Client\n"
       "from runtime.kubelet.simulated import run_simulated_nodes\n"
       "asyncio.run(run_simulated_nodes(Client.from_kubeconfig(sys.argv[1]), count=1, "
       "prefix='rbac-node-'))\n")


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], cwd=REPO, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def components(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    d = tmp_path_factory.mktemp("rbac-components")
    (d / "tokens.csv").write_text(TOKENS)
    s = start_server(d / "data", extra=("--token-auth-file", str(d / "tokens.csv")))
    kc = {n: s.kubeconfig_for(d / f"{n}.kubeconfig", token=f"{n}-token")
          for n in ("kcm", "sched", "node")}
    procs = [_spawn(["-m", "kapi.cli", "controller-manager", "--kubeconfig", str(kc["kcm"])],
                    d / "kcm.log"),
             _spawn(["-m", "kapi.cli", "scheduler", "--kubeconfig", str(kc["sched"])],
                    d / "sched.log"),
             _spawn(["-c", SIM, str(kc["node"])], d / "node.log")]
    try:
        yield s, d
    finally:
        for p in procs:
            stop_server(p)
        stop_server(s.proc)


def test_deployment_ready_on_a_node_with_component_identities(components):
    s, d = components
    with s.client() as c:
        wait_for(lambda: c.get(f"/api/v1/nodes/{NODE}").status_code == 200, "the node")
        dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                        "template": {"metadata": {"labels": {"app": "web"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
        r = c.post("/apis/apps/v1/namespaces/default/deployments", json=dep)
        assert r.status_code == 201, r.text

        def ready() -> bool:
            st = c.get("/apis/apps/v1/namespaces/default/deployments/web").json().get("status", {})
            return st.get("readyReplicas") == 2
        wait_for(ready, "the Deployment to be Ready", timeout=90)
        pods = c.get("/api/v1/namespaces/default/pods").json()["items"]
        assert {p["spec"]["nodeName"] for p in pods} == {NODE}
    for name in ("kcm", "sched", "node"):  # no component was refused anything
        assert "403" not in (d / f"{name}.log").read_text(), (d / f"{name}.log").read_text()


def test_node_identity_is_held_to_its_own_objects(components):
    s, _ = components
    with s.client() as admin:
        admin.post("/api/v1/namespaces/default/secrets",
                   json={"metadata": {"name": "unrelated"}, "stringData": {"k": "v"}})
    with s.client(token="other-node-token") as other, s.client(token="node-token") as node:
        r = other.get("/api/v1/namespaces/default/secrets/unrelated")
        assert r.status_code == 403
        assert r.json()["message"] == (
            'secrets "unrelated" is forbidden: User "system:node:rbac-node-9" cannot get '
            'resource "secrets" in API group "" in the namespace "default": no relationship '
            "found between node 'rbac-node-9' and this object")
        r = other.patch(f"/api/v1/nodes/{NODE}/status", json={},
                        headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 403
        # a node reads Secrets one by one, never a whole list (upstream's message)
        r = other.get("/api/v1/namespaces/default/secrets")
        assert r.status_code == 403 and r.json()["message"].endswith(
            ": No Object name found"), r.text
        r = other.get("/api/v1/namespaces/default/secrets",
                      params={"fieldSelector": "metadata.name=unrelated", "watch": "true"})
        assert r.status_code == 403 and "no relationship found" in r.json()["message"]
        assert node.get(f"/api/v1/nodes/{NODE}").status_code == 200
        pods = node.get("/api/v1/pods", params={"fieldSelector": f"spec.nodeName={NODE}"})
        assert pods.status_code == 200
        for p in pods.json()["items"]:
            md = p["metadata"]
            assert node.get(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}"
                            ).status_code == 200
            assert other.get(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}"
                             ).status_code == 403
        lease = node.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{NODE}")
        assert lease.status_code == 200
        assert other.get("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"
                         f"{NODE}").status_code == 403


def test_proxy_identity_may_read_what_the_proxy_watches(components):
    s, _ = components
    with s.client(token="proxy-token") as proxy:
        for path in ("/api/v1/services", "/api/v1/endpoints", "/api/v1/nodes",
                     "/apis/discovery.k8s.io/v1/endpointslices"):
            assert proxy.get(path).status_code == 200, path
        assert proxy.get("/api/v1/secrets").status_code == 403
