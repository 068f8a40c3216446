"""The kubelet's single-object watches (runtime/kubelet/objectwatch.py) against a real API
server, as a node identity (system:node:NAME, by certificate): a pod bound to the node
makes its Secrets and ConfigMaps readable one by one, a change to one of them is seen,
an object no pod of the node uses stays refused, and a watch stops when its last pod
goes. No Docker: the pods are bound to the node by hand."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Iterator

import pytest

from kapi.auth.kubeconfigs import Kubeconfigs
from kapi.auth.pki import ClusterPKI
from runtime.client.resources import SECRETS
from runtime.client.rest import ApiError, Client
from runtime.kubelet.objectwatch import ObjectWatches
from tests.conftest import Server, start_server, stop_server

NODE = "watch-node"
Obj = dict[str, Any]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("objectwatch"))
    yield s
    stop_server(s.proc)


def pod(name: str, secret: str, configmap: str) -> Obj:
    return {"metadata": {"name": name, "namespace": "default"}, "spec": {
        "nodeName": NODE, "containers": [{"name": "c", "image": "busybox", "env": [
            {"name": "S", "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}}}]}],
        "volumes": [{"name": "v", "configMap": {"name": configmap}}]}}


async def _scenario(server: Server, node_kubeconfig: Path) -> None:
    admin = server.runtime_client()
    node = Client.from_kubeconfig(node_kubeconfig)
    changed: list[tuple[str, str, str]] = []
    watches = ObjectWatches(node, lambda *key: changed.append(key))
    try:
        for kind, name in (("secrets", "used"), ("secrets", "unused"), ("configmaps", "cfg")):
            await admin.request("POST", f"/api/v1/namespaces/default/{kind}",
                                body={"metadata": {"name": name}, "data": {"k": "djE="}
                                      if kind == "secrets" else {"k": "v1"}})
        p = await admin.request("POST", "/api/v1/namespaces/default/pods",
                                body=pod("p1", "used", "cfg"))
        uid = p["metadata"]["uid"]
        watches.track(uid, p)
        await watches.wait_synced(p, timeout=20)  # the node graph may lag the pod a little
        for _ in range(100):
            if watches.get("secrets", "default", "used") and \
                    watches.get("configmaps", "default", "cfg"):
                break
            await asyncio.sleep(0.1)
        assert watches.get("secrets", "default", "used")["data"] == {"k": "djE="}
        assert watches.get("configmaps", "default", "cfg")["data"] == {"k": "v1"}
        assert watches.watched() == {("secrets", "default", "used"),
                                     ("configmaps", "default", "cfg")}
        await admin.request("PATCH", "/api/v1/namespaces/default/secrets/used",
                            body={"data": {"k": "djI="}},
                            content_type="application/merge-patch+json")
        for _ in range(100):
            if (watches.get("secrets", "default", "used") or {}).get("data") == {"k": "djI="}:
                break
            await asyncio.sleep(0.1)
        assert watches.get("secrets", "default", "used")["data"] == {"k": "djI="}
        assert ("secrets", "default", "used") in changed
        with pytest.raises(ApiError) as e:
            await node.list(SECRETS, "default", fieldSelector="metadata.name=unused")
        assert e.value.code == 403
        with pytest.raises(ApiError) as e:
            await node.list(SECRETS, "default")
        assert e.value.code == 403
        watches.forget(uid)
        assert watches.watched() == set()
    finally:
        await watches.stop()
        await node.close()
        await admin.close()


def test_a_node_watches_exactly_its_pods_objects(server: Server, tmp_path: Path) -> None:
    writer = Kubeconfigs(tmp_path, server.url, ClusterPKI(server.data_dir / "pki"))
    asyncio.run(_scenario(server, writer.node(NODE)))
