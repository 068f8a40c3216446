"""The kinds table (kapi/registry/kinds): every served row comes from one strategy, a
kind added as one object is served like a built-in one, and a kind's name rule is the
one both the validated and the unvalidated write paths apply. In-process: the real app
over memory storage, driven through httpx's ASGI transport."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import httpx
import pytest

from kapi.app import build_app
from kapi.config import Config
from kapi.meta.conversion import storage_api_version
from kapi.meta.resources import Resource, Scheme, status_of
from kapi.registry.kinds import KINDS, SCHEME, Strategy, scheme_of

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"

# A toy namespaced kind with a status subresource, served through the generic strategy:
# what serving a custom resource amounts to.
WIDGETS = Strategy(
    Resource("example.com", "v1", "widgets", "Widget", short_names=("wd",),
             subresources=(status_of("Widget"),)),
    tracks_generation=True, initial_status={"ready": False})


Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def serve(tmp_path: Path, scenario: Scenario, scheme: Scheme = SCHEME, **config: Any) -> None:
    """Run scenario against a started in-process API server."""
    async def main() -> None:
        app = build_app(Config(storage="memory", data_dir=tmp_path, insecure_http=True, **config),
                        scheme=scheme)
        server = app.state.server
        await server.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kapi") as api:
                await scenario(api)
        finally:
            await server.stop()
    asyncio.run(main())


WITH_WIDGETS = scheme_of((*KINDS, WIDGETS))


def test_every_row_is_served_by_the_strategy_that_declares_it() -> None:
    rows = [r for k in KINDS for r in k.rows]
    assert list(SCHEME.resources) == rows
    assert len({(r.group, r.version, r.resource) for r in rows}) == len(rows)
    for k in KINDS:
        assert all(r.strategy is k for r in k.rows)


def test_rows_and_conversion_agree_on_storage_versions() -> None:
    for r in SCHEME.resources:
        stored = SCHEME.storage_resource(r)
        assert storage_api_version(r.api_version, r.kind) == stored.api_version, r.resource


def test_a_kind_defined_as_one_object_is_served(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        base = "/apis/example.com/v1/namespaces/default/widgets"
        widget = {"apiVersion": "example.com/v1", "kind": "Widget",
                  "metadata": {"name": "w1"}, "spec": {"size": 3}, "status": {"ready": True}}
        r = await api.post(base, json=widget)
        assert r.status_code == 201, r.text
        created = r.json()
        assert created["status"] == {"ready": False}  # a create never sets status
        assert created["metadata"]["generation"] == 1
        assert (await api.get(f"{base}/w1")).json()["spec"] == {"size": 3}
        assert [o["metadata"]["name"] for o in (await api.get(base)).json()["items"]] == ["w1"]

        created["status"] = {"ready": True}
        created["spec"] = {"size": 99}  # ignored by a status write
        r = await api.put(f"{base}/w1/status", json=created)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == {"ready": True} and r.json()["spec"] == {"size": 3}

        table = (await api.get(base, headers={"accept": TABLE})).json()
        assert table["kind"] == "Table"
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Created At"]
        assert table["rows"][0]["cells"][0] == "w1"
    serve(tmp_path, scenario, WITH_WIDGETS)


def test_a_kind_defined_as_one_object_is_discovered(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        assert "example.com" in [g["name"] for g in (await api.get("/apis")).json()["groups"]]
        listed = (await api.get("/apis/example.com/v1")).json()["resources"]
        assert {r["name"] for r in listed} == {"widgets", "widgets/status"}
        assert (await api.get("/apis/example.com/v1/widgets")).json()["items"] == []
    serve(tmp_path, scenario, WITH_WIDGETS)


@pytest.mark.parametrize("name", ["1abc", "a.b"])
def test_a_service_name_is_a_dns1035_label(tmp_path: Path, name: str) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
               "spec": {"ports": [{"port": 80}]}}
        r = await api.post("/api/v1/namespaces/default/services", json=svc)
        assert r.status_code == 422, r.text
        assert r.json()["message"] == (
            f'Service "{name}" is invalid: metadata.name: Invalid value: "{name}": a DNS-1035 '
            "label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
            "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
    serve(tmp_path, scenario, WITH_WIDGETS)


def test_a_configmap_name_is_a_dns1123_subdomain(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a.b"}}
        assert (await api.post("/api/v1/namespaces/default/configmaps", json=cm)).status_code == 201
    serve(tmp_path, scenario, WITH_WIDGETS)


def test_the_unvalidated_path_applies_the_same_name_rule(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "1abc"},
               "spec": {"ports": [{"port": 80}]}}
        r = await api.post("/api/v1/namespaces/default/services", json=svc)
        assert r.status_code == 422 and "a DNS-1035 label must" in r.json()["message"], r.text
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a.b"}}
        assert (await api.post("/api/v1/namespaces/default/configmaps", json=cm)).status_code == 201
    serve(tmp_path, scenario, validation=False)


def test_a_deleted_namespace_stays_terminating_until_finalized(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient) -> None:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
        assert (await api.post("/api/v1/namespaces", json=ns)).status_code == 201
        r = await api.delete("/api/v1/namespaces/doomed", params={"propagationPolicy": "Orphan"})
        assert r.status_code == 200, r.text
        assert r.json()["status"]["phase"] == "Terminating"
        assert "finalizers" not in r.json()["metadata"]  # the policy adds no orphan finalizer
        current = (await api.get("/api/v1/namespaces/doomed")).json()
        assert current["spec"]["finalizers"] == ["kubernetes"]
        current["spec"]["finalizers"] = []
        r = await api.put("/api/v1/namespaces/doomed/finalize", json=current)
        assert r.status_code == 200, r.text
        assert (await api.get("/api/v1/namespaces/doomed")).status_code == 404
    serve(tmp_path, scenario, WITH_WIDGETS)


def test_a_kind_asking_for_an_admission_step_nobody_supplies_stops_start_up(
        tmp_path: Path) -> None:
    odd = Strategy(Resource("example.com", "v1", "odds", "Odd"), admission=("Missing",))
    with pytest.raises(ValueError, match="no admission step named"):
        build_app(Config(storage="memory", data_dir=tmp_path), scheme=scheme_of((*KINDS, odd)))
