"""kube-system shows the control plane as kubeadm and kind do: a mirror pod per
component on the control plane's node (here the host's Docker node, kapi-node-1),
Running and Ready while the component runs, never run by the kubelet, recreated when
deleted. Needs a Docker engine (skipped without one)."""

from __future__ import annotations

import os
from typing import Any, Iterator

import httpx
import pytest

from runtime.controlplane.mirrorpods import pod_status
from runtime.kubelet.cri import POD_NAME
from tests.conftest import Server
from tests.dockerenv import cluster_containers, docker_cluster, require_docker
from tests.helpers import wait_for

COMPONENTS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
NAMES = {f"{c}-kapi-node-1" for c in COMPONENTS}


@pytest.fixture(scope="module")
def mcluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Any]]:
    engine = require_docker()
    with docker_cluster(engine, tmp_path_factory.mktemp("mirror"), "--nodes", "1",
                        "--simulated-nodes", "0", "--node-cpu", "1",
                        "--node-memory", "1Gi") as s:
        yield s, engine


def all_pods(c: httpx.Client) -> dict[str, dict[str, Any]]:
    items = c.get("/api/v1/namespaces/kube-system/pods").json()["items"]
    return {p["metadata"]["name"]: p for p in items if not p["metadata"].get("deletionTimestamp")}


def mirror_pods(c: httpx.Client) -> dict[str, dict[str, Any]]:
    return {n: p for n, p in all_pods(c).items() if n in NAMES}


def ready(p: dict[str, Any]) -> bool:
    conds = {c["type"]: c["status"] for c in (p.get("status") or {}).get("conditions") or []}
    return p.get("status", {}).get("phase") == "Running" and conds.get("Ready") == "True"


def test_control_plane_mirror_pods(mcluster: tuple[Server, Any]) -> None:
    s, engine = mcluster
    with s.client() as c:
        pods = wait_for(lambda: (m := mirror_pods(c)) and len(m) == 3
                        and all(ready(p) for p in m.values()) and m, "3 ready mirror pods")
        if os.geteuid() == 0:  # as root kapi up also runs its service proxy and DNS
            wanted = {"kube-proxy-kapi-node-1", "kube-dns-kapi-node-1"}
            wait_for(lambda: {n for n, p in all_pods(c).items() if n in wanted and ready(p)}
                     == wanted, "the proxy's and DNS's pods both ready")
        node = c.get("/api/v1/nodes/kapi-node-1").json()
        for p in pods.values():
            assert p["spec"]["nodeName"] == "kapi-node-1"
            assert p["metadata"]["labels"]["tier"] == "control-plane"
            assert "kubernetes.io/config.mirror" in p["metadata"]["annotations"]
            (ref,) = p["metadata"]["ownerReferences"]
            assert (ref["kind"], ref["uid"]) == ("Node", node["metadata"]["uid"])
            assert p["status"]["containerStatuses"][0]["state"]["running"]["startedAt"]
        ns_uid = c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"]
        # the kubelet runs nothing for them
        for name in NAMES:
            assert not cluster_containers(engine, ns_uid, **{POD_NAME: name}), name
        old_uid = pods["kube-scheduler-kapi-node-1"]["metadata"]["uid"]
        c.delete("/api/v1/namespaces/kube-system/pods/kube-scheduler-kapi-node-1")
        wait_for(lambda: (p := mirror_pods(c).get("kube-scheduler-kapi-node-1")) is not None
                 and p["metadata"]["uid"] != old_uid and ready(p), "the pod to come back",
                 timeout=30)


def test_status_of_a_stopped_component_is_not_ready() -> None:
    node = {"status": {"addresses": [{"type": "InternalIP", "address": "10.1.0.1"}]}}
    status = pod_status("kube-scheduler", node, "2026-01-01T00:00:00Z", alive=False)
    conds = {c["type"]: c["status"] for c in status["conditions"]}
    assert conds["Ready"] == "False" and status["phase"] == "Failed"
    assert status["podIP"] == "10.1.0.1" and not status["containerStatuses"][0]["ready"]
