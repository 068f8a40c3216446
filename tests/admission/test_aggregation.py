"""API aggregation end to end: an APIService whose Service resolves (through a
selector-less Service and its EndpointSlice) to a test HTTPS API server on loopback;
kubectl lists its resources through kapi, discovery shows the group, the backend sees
the caller as X-Remote-User; the local APIServices and their Available condition."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.admission.hookserver import GROUP, VERSION, HookServer, make_certs
from tests.conftest import Kubectl, Server
from tests.helpers import wait_for

AGG = "/apis/apiregistration.k8s.io/v1/apiservices"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HookServer, str]]:
    cert, key, ca = make_certs(tmp_path_factory.mktemp("agg"), ("wardle.default.svc",))
    with HookServer(cert, key) as s:
        yield s, ca


def _service_to(server: Server, port: int) -> None:
    with server.client() as c:
        r = c.post("/api/v1/namespaces/default/services", json={
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "wardle"},
            "spec": {"ports": [{"port": 443, "targetPort": port}]}})
        assert r.status_code == 201, r.text
        r = c.post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", json={
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": "wardle-1",
                         "labels": {"kubernetes.io/service-name": "wardle"}},
            "addressType": "IPv4", "ports": [{"name": "", "port": port, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]})
        assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def apiservice(server: Server, backend: tuple[HookServer, str]) -> Iterator[HookServer]:
    hooks, ca = backend
    _service_to(server, hooks.server_address[1])
    with server.client() as c:
        r = c.post(AGG, json={
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": f"{VERSION}.{GROUP}"},
            "spec": {"group": GROUP, "version": VERSION, "caBundle": ca,
                     "groupPriorityMinimum": 2000, "versionPriority": 200,
                     "service": {"namespace": "default", "name": "wardle"}}})
        assert r.status_code == 201, r.text
    yield hooks
    with server.client() as c:  # the backend's port changes if this module runs again
        c.delete(f"{AGG}/{VERSION}.{GROUP}")
        c.delete("/api/v1/namespaces/default/services/wardle")
        c.delete("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/wardle-1")


def _available(server: Server, name: str) -> Any:
    with server.client() as c:
        conds = (c.get(f"{AGG}/{name}").json().get("status") or {}).get("conditions") or []
    return conds[0] if conds and conds[0]["status"] == "True" else None


def test_local_apiservices(server: Server, kubectl: Kubectl) -> None:
    cond = wait_for(lambda: _available(server, "v1.apps"), "v1.apps Available", 15)
    assert (cond["reason"], cond["message"]) == ("Local", "Local APIServices are always "
                                                          "available")
    out = kubectl("get", "apiservices")
    for name in ("v1.", "v1.apps", "v1beta1.metrics.k8s.io",
                 "v1.admissionregistration.k8s.io"):
        assert any(line.split()[:3] == [name, "Local", "True"]
                   for line in out.splitlines()), out


def test_aggregated_api_through_kubectl(server: Server, apiservice: HookServer,
                                        kubectl: Kubectl) -> None:
    cond = wait_for(lambda: _available(server, f"{VERSION}.{GROUP}"), "Available", 60)
    assert (cond["reason"], cond["message"]) == ("Passed", "all checks passed")
    out = kubectl("get", "flunders", "-n", "default")
    assert [line.split()[0] for line in out.splitlines()[1:]] == \
        ["flunder-0", "flunder-1", "flunder-2"]
    assert "wardle.example.com" in kubectl("api-versions")
    path, headers = apiservice.gets[-1]
    assert path.endswith("/namespaces/default/flunders")
    assert headers.get("X-Remote-User") == "kubernetes-admin"  # the kubeconfig's client certificate
    assert "authorization" not in {k.lower() for k in headers}
    with server.client() as c:
        r = c.get(f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders/nope")
        assert r.status_code == 404 and r.json()["message"] == 'flunders "nope" not found'
        groups = c.get("/apis").json()["groups"]
        assert any(g["name"] == GROUP for g in groups)


def test_watch_streams_through_the_aggregator(server: Server, apiservice: HookServer) -> None:
    wait_for(lambda: _available(server, f"{VERSION}.{GROUP}"), "Available", 60)
    with server.client() as c, c.stream(
            "GET", f"/apis/{GROUP}/{VERSION}/namespaces/default/flunders",
            params={"watch": "true"}) as r:
        assert r.status_code == 200
        events = [json.loads(line) for line in r.iter_lines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "flunder-0"), ("ADDED", "flunder-1"), ("ADDED", "flunder-2")]


def test_unreachable_apiservice_is_unavailable(server: Server, tmp_path: Path) -> None:
    with server.client() as c:
        r = c.post(AGG, json={
            "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
            "metadata": {"name": "v1.missing.example.com"},
            "spec": {"group": "missing.example.com", "version": "v1",
                     "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100,
                     "versionPriority": 10,
                     "service": {"namespace": "default", "name": "nowhere"}}})
        assert r.status_code == 201, r.text

        def condition() -> Any:
            got = c.get(f"{AGG}/v1.missing.example.com").json()
            conds = (got.get("status") or {}).get("conditions") or []
            return conds[0] if conds else None
        cond = wait_for(condition, "a condition", 15)
        assert (cond["status"], cond["reason"], cond["message"]) == (
            "False", "ServiceNotFound", 'service/nowhere in "default" is not present')
        r = c.get("/apis/missing.example.com/v1/things")
        assert r.status_code == 503
        c.delete(f"{AGG}/v1.missing.example.com")


def test_openapi_merges_the_aggregated_servers_documents(
        server: Server, apiservice: HookServer, kubectl: Kubectl) -> None:
    """Its /openapi/v2 definitions and paths join kapi's, its v3 document of the group
    version is listed and served, so `kubectl explain` describes the aggregated kind;
    a changed APIService has its documents fetched again."""
    definition = "com.example.wardle.v1alpha1.Flunder"
    gv_key = f"apis/{GROUP}/{VERSION}"
    with server.client() as c:
        v2 = wait_for(lambda: (lambda d: d if definition in d["definitions"] else None)(
            c.get("/openapi/v2").json()), "the merged v2 document", 60)
        assert f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders/{{name}}" in \
            v2["paths"]
        assert "io.k8s.api.core.v1.Pod" in v2["definitions"]  # kapi's own stay
        url = c.get("/openapi/v3").json()["paths"][gv_key]["serverRelativeURL"]
        doc = c.get(url).json()
        assert doc["components"]["schemas"][definition]["description"].startswith(
            "A Flunder is")
    explained = kubectl("explain", "flunders")
    assert "KIND:" in explained and "Flunder" in explained
    assert "A Flunder is a test kind of the wardle aggregated server." in explained
    assert "The name of another flunder it refers to." in \
        kubectl("explain", "flunders.spec.reference")
    fetched = sum(1 for p, _ in apiservice.gets if p == "/openapi/v2")
    with server.client() as c:
        now = c.get(f"{AGG}/{VERSION}.{GROUP}").json()["spec"]["versionPriority"]
        r = c.patch(f"{AGG}/{VERSION}.{GROUP}", json={"spec": {"versionPriority": now + 1}},
                    headers={"content-type": "application/merge-patch+json"})
        assert r.status_code == 200, r.text
    wait_for(lambda: sum(1 for p, _ in apiservice.gets if p == "/openapi/v2") > fetched,
             "the documents fetched again", 30)
