"""NodeRestriction in process: a request authenticated as system:node:NAME (an injected
authenticate step, keyed by bearer token) may write only its own Node, its mirror pods,
its own pods' status and deletion, and its own Lease; everyone else is unaffected."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator

import httpx
import pytest
from starlette.requests import HTTPConnection

from kapi.app import build_app
from kapi.auth import ADMIN, User
from kapi.config import Config
from kapi.storage import MemoryStorage

pytestmark = pytest.mark.anyio

NODE_ONE = User("system:node:one", ("system:nodes", "system:authenticated"))
PODS = "/api/v1/namespaces/default/pods"


async def authenticate(request: HTTPConnection) -> User:
    token = request.headers.get("authorization", "")
    return NODE_ONE if token == "Bearer node-one" else ADMIN


@pytest.fixture
async def clients(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    # no controller manager makes default service accounts here: ServiceAccount admission off
    app = build_app(Config(storage="memory", data_dir=tmp_path,
                           disable_admission_plugins=("ServiceAccount",)),
                    storage=MemoryStorage())
    app.state.server.authenticate = authenticate
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kapi.test") as admin, \
                httpx.AsyncClient(transport=transport, base_url="http://kapi.test",
                                  headers={"Authorization": "Bearer node-one"}) as node:
            yield admin, node


def node(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}}


def pod(name: str, node_name: str, *, mirror: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if mirror:
        meta["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "busybox"}]}}


def message(r: httpx.Response) -> str:
    assert r.status_code == 403, r.text
    return str(r.json()["message"])


async def test_a_node_writes_only_its_own_node(clients) -> None:
    admin, me = clients
    assert (await admin.post("/api/v1/nodes", json=node("two"))).status_code == 201
    assert (await me.post("/api/v1/nodes", json=node("one"))).status_code == 201
    assert message(await me.patch("/api/v1/nodes/two", json={"metadata": {"labels": {"a": "b"}}},
                                  headers={"content-type": "application/merge-patch+json"})) \
        == 'nodes "two" is forbidden: node "one" is not allowed to modify node "two"'
    assert message(await me.post("/api/v1/nodes", json=node("three"))) == \
        'nodes "three" is forbidden: node "one" is not allowed to modify node "three"'
    patch = {"metadata": {"labels": {"node-restriction.kubernetes.io/dedicated": "db"}}}
    assert message(await me.patch("/api/v1/nodes/one", json=patch,
                                  headers={"content-type": "application/merge-patch+json"})) == (
        'nodes "one" is forbidden: is not allowed to modify labels: '
        "node-restriction.kubernetes.io/dedicated")
    ok = {"metadata": {"labels": {"topology.kubernetes.io/zone": "z1", "example.com/x": "y"}}}
    r = await me.patch("/api/v1/nodes/one", json=ok,
                       headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    r = await admin.patch("/api/v1/nodes/one", json=patch,
                          headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200  # the admin may


async def test_a_node_creates_only_its_mirror_pods(clients) -> None:
    admin, me = clients
    assert message(await me.post(PODS, json=pod("plain", "one"))) == (
        'pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "one" can only create mirror pods')
    assert message(await me.post(PODS, json=pod("elsewhere", "two", mirror=True))) == (
        'pods "elsewhere" is forbidden: node "one" can only create pods with spec.nodeName '
        "set to itself")
    assert (await me.post(PODS, json=pod("static", "one", mirror=True))).status_code == 201


async def test_a_node_updates_status_and_deletes_only_its_pods(clients) -> None:
    admin, me = clients
    for name, where in (("mine", "one"), ("theirs", "two")):
        assert (await admin.post(PODS, json=pod(name, where))).status_code == 201
    status = {"status": {"phase": "Running"}}
    merge = {"content-type": "application/merge-patch+json"}
    r = await me.patch(f"{PODS}/mine/status", json=status, headers=merge)
    assert r.status_code == 200, r.text
    assert message(await me.patch(f"{PODS}/theirs/status", json=status, headers=merge)) == (
        'pods "theirs" is forbidden: node "one" can only update pod status for pods with '
        "spec.nodeName set to itself")
    assert message(await me.patch(f"{PODS}/mine", json={"metadata": {"labels": {"a": "b"}}},
                                  headers=merge)) == (
        # upstream's system:node role has no pods update/patch: the authorizer refuses first
        'pods "mine" is forbidden: User "system:node:one" cannot patch resource "pods" in API '
        'group "" in the namespace "default"')
    assert message(await me.delete(f"{PODS}/theirs")) == (
        'pods "theirs" is forbidden: node "one" can only delete pods with spec.nodeName set '
        "to itself")
    assert (await me.delete(f"{PODS}/mine")).status_code == 200
    assert (await admin.get(f"{PODS}/theirs")).status_code == 200


async def test_a_node_touches_only_its_own_lease(clients) -> None:
    _, me = clients
    leases = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "one"}, "spec": {"holderIdentity": "one"}}
    assert (await me.post(leases, json=lease)).status_code == 201
    lease["metadata"]["name"] = "two"
    assert message(await me.post(leases, json=lease)) == (
        'leases.coordination.k8s.io "two" is forbidden: can only access node lease with the '
        "same name as the requesting node")
