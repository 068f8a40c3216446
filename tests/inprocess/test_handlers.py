"""Handlers and registry in process: what a client sees for CRUD, conflicts, missing
objects, selectors and paging, the status subresource and dry runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import deployment

pytestmark = pytest.mark.anyio

CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def names(items: list[dict[str, Any]]) -> list[str]:
    return [o["metadata"]["name"] for o in items]


async def test_create_get_update_delete(api: httpx.AsyncClient) -> None:
    r = await api.post(CMS, json=cm("a", x="1"))
    assert r.status_code == 201
    created = r.json()
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    got = (await api.get(f"{CMS}/a")).json()
    assert got["data"] == {"x": "1"} and got["metadata"]["uid"] == created["metadata"]["uid"]
    got["data"]["x"] = "2"
    r = await api.put(f"{CMS}/a", json=got)
    assert r.status_code == 200
    assert int(r.json()["metadata"]["resourceVersion"]) > int(got["metadata"]["resourceVersion"])
    assert (await api.get(f"{CMS}/a")).json()["data"] == {"x": "2"}
    r = await api.delete(f"{CMS}/a")
    assert r.status_code == 200
    assert (await api.get(f"{CMS}/a")).status_code == 404


async def test_conflicts_are_409_statuses(api: httpx.AsyncClient) -> None:
    first = (await api.post(CMS, json=cm("c", x="1"))).json()
    r = await api.post(CMS, json=cm("c", x="again"))
    assert r.status_code == 409
    assert r.json()["reason"] == "AlreadyExists"
    assert r.json()["message"] == 'configmaps "c" already exists'
    await api.put(f"{CMS}/c", json=first | {"data": {"x": "2"}})
    r = await api.put(f"{CMS}/c", json=first | {"data": {"x": "stale"}})  # the old resourceVersion
    assert r.status_code == 409
    assert r.json()["reason"] == "Conflict"
    assert "the object has been modified" in r.json()["message"]
    assert (await api.get(f"{CMS}/c")).json()["data"] == {"x": "2"}


async def test_missing_object_is_a_404_status(api: httpx.AsyncClient) -> None:
    r = await api.get(f"{CMS}/nope")
    assert r.status_code == 404
    assert r.json() == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": 'configmaps "nope" not found', "reason": "NotFound",
        "details": {"name": "nope", "kind": "configmaps"}, "code": 404}
    assert (await api.delete(f"{CMS}/nope")).status_code == 404
    assert (await api.get("/api/v1/namespaces/default/nosuchthings")).status_code == 404


async def test_list_with_selectors_and_continue(api: httpx.AsyncClient) -> None:
    for i in range(5):
        await api.post(CMS, json=cm(f"l{i}", labels={"tier": "web" if i % 2 else "db"}))
    got = (await api.get(CMS, params={"labelSelector": "tier=web"})).json()
    assert got["kind"] == "ConfigMapList" and names(got["items"]) == ["l1", "l3"]
    got = (await api.get(CMS, params={"labelSelector": "tier in (db),tier!=web"})).json()
    assert names(got["items"]) == ["l0", "l2", "l4"]
    got = (await api.get(CMS, params={"fieldSelector": "metadata.name=l2"})).json()
    assert names(got["items"]) == ["l2"]
    r = await api.get(CMS, params={"fieldSelector": "data.x=1"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 2, "labelSelector": "tier"}
    while True:
        page = (await api.get(CMS, params=params)).json()
        assert len(page["items"]) <= 2
        seen += names(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            break
        params["continue"] = token
    assert seen == ["l0", "l1", "l2", "l3", "l4"]


async def test_status_subresource_and_main_resource_keep_to_their_part(api: httpx.AsyncClient) -> None:
    d = (await api.post(DEPLOYS, json=deployment("web"))).json()
    d["status"] = {"replicas": 7, "observedGeneration": 1}
    d["spec"]["replicas"] = 3
    r = await api.put(f"{DEPLOYS}/web/status", json=d)
    assert r.status_code == 200
    assert r.json()["status"]["replicas"] == 7
    assert r.json()["spec"]["replicas"] == 1  # spec changes through /status are dropped
    d = (await api.get(f"{DEPLOYS}/web")).json()
    d["spec"]["replicas"] = 4
    d["status"]["replicas"] = 0
    r = await api.put(f"{DEPLOYS}/web", json=d)
    assert r.json()["spec"]["replicas"] == 4
    assert r.json()["status"]["replicas"] == 7  # status changes through the main resource too
    assert r.json()["metadata"]["generation"] == 2


async def test_dry_run_changes_nothing(api: httpx.AsyncClient) -> None:
    r = await api.post(CMS, params={"dryRun": "All"}, json=cm("dry", x="1"))
    assert r.status_code == 201 and r.json()["metadata"]["name"] == "dry"
    assert (await api.get(f"{CMS}/dry")).status_code == 404
    await api.post(CMS, json=cm("dry", x="1"))
    r = await api.patch(f"{CMS}/dry", params={"dryRun": "All"}, json={"data": {"x": "2"}},
                  headers={"content-type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["data"] == {"x": "2"}
    assert (await api.delete(f"{CMS}/dry", params={"dryRun": "All"})).status_code == 200
    assert (await api.get(f"{CMS}/dry")).json()["data"] == {"x": "1"}
    r = await api.post(CMS, params={"dryRun": "Some"}, json=cm("dry2"))
    assert r.status_code == 422  # upstream's CreateOptions.meta.k8s.io "" is invalid


@pytest.mark.parametrize(("resource", "kind", "body"), [
    ("serviceaccounts", "ServiceAccount", {}),
    ("resourcequotas", "ResourceQuota", {"spec": {"hard": {"pods": "2"}}}),
])
async def test_delete_answers_with_the_deleted_object(api: httpx.AsyncClient, resource: str,
                                                      kind: str, body: dict[str, Any]) -> None:
    # upstream's stores for these kinds set ReturnDeletedObject: the body is the object
    path = f"/api/v1/namespaces/default/{resource}"
    await api.post(path, json={"apiVersion": "v1", "kind": kind, "metadata": {"name": "x"}} | body)
    r = await api.delete(f"{path}/x")
    assert r.status_code == 200
    assert (r.json()["kind"], r.json()["metadata"]["name"]) == (kind, "x")
    assert (await api.get(f"{path}/x")).status_code == 404


async def test_delete_of_a_configmap_answers_with_a_status(api: httpx.AsyncClient) -> None:
    await api.post(CMS, json=cm("gone"))
    r = await api.delete(f"{CMS}/gone")
    assert r.status_code == 200
    assert r.json()["kind"] == "Status" and r.json()["status"] == "Success"
    assert r.json()["details"]["name"] == "gone"
