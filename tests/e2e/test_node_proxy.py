"""nodes/proxy: the API server forwards /api/v1/nodes/NAME/proxy/PATH to the node's
kubelet (its published InternalIP and kubelet endpoint port), here the simulated nodes'
kubelet API of the shared `kapi up` cluster: /healthz, /pods (the node's pods, a
PodList) and /stats/summary, through real kubectl `get --raw` and the Python client;
unknown nodes and paths answer as upstream's do."""

from __future__ import annotations

import json

import pytest
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from tests.conftest import Server, kubectl_or_skip
from tests.helpers import api_for, wait_for

NODE = "kapi-sim-0"


@pytest.mark.parametrize("version", ["1.27", "1.33"])
def test_kubectl_reaches_the_kubelet_through_nodes_proxy(cluster: Server,
                                                         version: str) -> None:
    kc = kubectl_or_skip(version, cluster.kubeconfig)
    base = f"/api/v1/nodes/{NODE}/proxy"
    assert kc("get", "--raw", f"{base}/healthz").strip() == "ok"
    summary = json.loads(kc("get", "--raw", f"{base}/stats/summary"))
    assert summary["node"]["nodeName"] == NODE
    pods = json.loads(kc("get", "--raw", f"{base}/pods"))
    assert pods["kind"] == "PodList"
    assert all(p["spec"]["nodeName"] == NODE for p in pods["items"])
    missing = kc.run("get", "--raw", "/api/v1/nodes/no-such-node/proxy/healthz", check=False)
    assert missing.returncode != 0 and 'nodes "no-such-node" not found' in missing.stderr


def test_python_client_lists_a_nodes_pods_through_its_kubelet(cluster: Server) -> None:
    with api_for(cluster.kubeconfig) as api:
        core = k8s.CoreV1Api(api)
        ns = "node-proxy"
        core.create_namespace({"metadata": {"name": ns}})
        try:
            core.create_namespaced_pod(ns, {"metadata": {"name": "here"}, "spec": {
                "nodeName": NODE, "containers": [{"name": "c", "image": "busybox"}]}})

            def listed() -> bool:
                raw = core.connect_get_node_proxy_with_path(NODE, "pods",
                                                            _preload_content=False)
                return any(p["metadata"]["name"] == "here" and p["metadata"]["namespace"] == ns
                           for p in json.loads(raw.data)["items"])
            wait_for(listed, "the pod to be listed by its node's kubelet", timeout=30)
            with pytest.raises(ApiException) as e:
                core.connect_get_node_proxy_with_path(NODE, "no/such/path")
            assert e.value.status == 404
        finally:
            core.delete_namespace(ns)
