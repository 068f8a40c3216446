"""A version-conversion webhook end to end: a definition with two versions (v1 stores
`spec.host` and `spec.port`, v2 shows `spec.hostPort`) and the Webhook strategy, served
by a test HTTPS server (loopback, a URL clientConfig trusting its caBundle); kubectl
and the Python client (its dynamic client, list and watch included) read and write
both versions; a failing or unreachable webhook fails the request with upstream's
message and leaves what is stored alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.admission.hookserver import HookServer, make_certs
from tests.conftest import Server, free_port, kubectl_or_skip
from tests.helpers import api_for, wait_for

GROUP = "conv.example.com"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


@pytest.fixture(scope="module")
def hooks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HookServer]:
    cert, key, _ = certs = make_certs(tmp_path_factory.mktemp("certs"))
    with HookServer(cert, key) as s:
        s.ca = certs[2]  # type: ignore[attr-defined]
        yield s


def _version(name: str, storage: bool, props: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "served": True, "storage": storage, "schema": {"openAPIV3Schema": {
        "type": "object", "properties": {"spec": {"type": "object", "properties": props}}}}}


def definition(group: str, url: str, ca: str) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"backends.{group}"},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": "backends", "singular": "backend", "kind": "Backend"},
                 "versions": [
                     _version("v1", True, {"host": {"type": "string"},
                                           "port": {"type": "integer"}}),
                     _version("v2", False, {"hostPort": {"type": "string"}})],
                 "conversion": {"strategy": "Webhook", "webhook": {
                     "conversionReviewVersions": ["v1", "v1beta1"],
                     "clientConfig": {"url": url, "caBundle": ca}}}}}


def backend(group: str, version: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": f"{group}/{version}", "kind": "Backend",
            "metadata": {"name": name, "labels": {"app": "db"}}, "spec": spec}


def conversions(hooks: HookServer) -> list[dict[str, Any]]:
    return [r["request"] for p, _, r in hooks.reviews if r.get("kind") == "ConversionReview"]


@pytest.fixture
def defined(server: Server, hooks: HookServer) -> Iterator[str]:
    group = f"g{free_port()}.{GROUP}"
    with server.client() as c:
        r = c.post(CRDS, json=definition(group, hooks.url + "/convert",
                                         hooks.ca))  # type: ignore[attr-defined]
        assert r.status_code == 201, r.text
    yield group
    with server.client() as c:
        c.delete(f"{CRDS}/backends.{group}")


def test_kubectl_writes_v2_and_reads_both_versions(server: Server, hooks: HookServer,
                                                    defined: str, ns: str,
                                                    tmp_path: Path) -> None:
    kc = kubectl_or_skip("1.33", server.kubeconfig)
    group = defined
    (tmp_path / "b.json").write_text(json.dumps(
        backend(group, "v2", "db", {"hostPort": "db.internal:5432"})))
    hooks.reviews.clear()
    assert "created" in kc("apply", "-n", ns, "-f", str(tmp_path / "b.json"))
    # stored at v1: the create went through the webhook to the storage version
    assert any(r["desiredAPIVersion"] == f"{group}/v1" for r in conversions(hooks))
    v1 = json.loads(kc("get", "-n", ns, f"backends.v1.{group}", "db", "-o", "json"))
    assert v1["apiVersion"] == f"{group}/v1"
    assert v1["spec"] == {"host": "db.internal", "port": 5432}
    assert v1["metadata"]["labels"] == {"app": "db"}
    v2 = json.loads(kc("get", "-n", ns, f"backends.v2.{group}", "db", "-o", "json"))
    assert v2["spec"] == {"hostPort": "db.internal:5432"}
    assert v2["metadata"]["uid"] == v1["metadata"]["uid"]
    # an update at v2 keeps the object's identity and reaches v1 readers
    v2["spec"]["hostPort"] = "db.internal:6543"
    (tmp_path / "b2.json").write_text(json.dumps(v2))
    kc("replace", "-f", str(tmp_path / "b2.json"))
    assert kc("get", "-n", ns, f"backends.v1.{group}", "db",
              "-o", "jsonpath={.spec.port}") == "6543"


def test_the_python_client_lists_and_watches_through_the_webhook(
        server: Server, hooks: HookServer, defined: str, ns: str) -> None:
    from kubernetes import dynamic

    group = defined
    with api_for(server.kubeconfig) as api:
        dyn = dynamic.DynamicClient(api)
        v1 = dyn.resources.get(api_version=f"{group}/v1", kind="Backend")
        v2 = dyn.resources.get(api_version=f"{group}/v2", kind="Backend")
        v1.create(namespace=ns, body=backend(group, "v1", "a", {"host": "a", "port": 1}))
        v2.create(namespace=ns, body=backend(group, "v2", "b", {"hostPort": "b:2"}))
        hooks.reviews.clear()
        listed = v2.get(namespace=ns)
        assert [(i.metadata.name, i.spec.hostPort) for i in listed.items] == [
            ("a", "a:1"), ("b", "b:2")]
        # one review for the whole list, holding both stored (v1) objects
        assert [len(r["objects"]) for r in conversions(hooks)] == [2]
        watched = []
        for e in dyn.watch(v2, namespace=ns, timeout=5):
            watched.append((e["type"], e["object"].spec.hostPort))
            if len(watched) == 2:
                v1.patch(namespace=ns, name="a", body={"spec": {"port": 11}},
                         content_type="application/merge-patch+json")
            if len(watched) == 3:
                break
        assert watched == [("ADDED", "a:1"), ("ADDED", "b:2"), ("MODIFIED", "a:11")]


def test_a_failing_webhook_fails_the_request_and_changes_nothing(
        server: Server, hooks: HookServer, defined: str, ns: str) -> None:
    group = defined
    base = f"/apis/{group}/%s/namespaces/{ns}/backends"
    with server.client() as c:
        r = c.post(base % "v1", json=backend(group, "v1", "x", {"host": "x", "port": 1}))
        assert r.status_code == 201, r.text
        crd = c.get(f"{CRDS}/backends.{group}").json()
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["url"] = hooks.url + "/convert-fail"
        assert c.put(f"{CRDS}/backends.{group}", json=crd).status_code == 200

        def refused() -> Any:
            got = c.get(base % "v2" + "/x")
            return got if got.status_code == 500 else None
        got = wait_for(refused, "the failing webhook in use", timeout=10)
        assert got.json()["message"] == (f"conversion webhook for {group}/v1, Kind=Backend "
                                         "failed: conversion is down for maintenance")
        # the storage version needs no conversion; a write at v2 is refused, not stored
        assert c.get(base % "v1" + "/x").json()["spec"] == {"host": "x", "port": 1}
        r = c.post(base % "v2", json=backend(group, "v2", "y", {"hostPort": "y:2"}))
        assert r.status_code == 500 and "conversion is down" in r.json()["message"]
        assert c.get(base % "v1" + "/y").status_code == 404
        # nobody listening: the call itself fails, named as upstream names it
        port = free_port()
        crd = c.get(f"{CRDS}/backends.{group}").json()
        crd["spec"]["conversion"]["webhook"]["clientConfig"]["url"] = \
            f"https://127.0.0.1:{port}/convert"
        assert c.put(f"{CRDS}/backends.{group}", json=crd).status_code == 200

        def unreachable() -> Any:
            got = c.get(base % "v2" + "/x").json()
            return got if "Post" in got.get("message", "") else None
        msg = wait_for(unreachable, "the unreachable webhook in use", timeout=10)["message"]
        assert msg.startswith(f'conversion webhook for {group}/v1, Kind=Backend failed: '
                              f'Post "https://127.0.0.1:{port}/convert": ')


def test_a_webhook_strategy_needs_a_reachable_config_and_a_review_version(
        server: Server) -> None:
    crd = definition(f"bad.{GROUP}", "http://127.0.0.1/convert", "")
    crd["spec"]["conversion"]["webhook"]["conversionReviewVersions"] = ["v9"]
    with server.client() as c:
        r = c.post(CRDS, json=crd)
        assert r.status_code == 422, r.text
        causes = {x["field"]: x["message"] for x in r.json()["details"]["causes"]}
    assert causes["spec.conversion.webhook.clientConfig.url"].endswith(
        "'https' is the only allowed URL scheme")
    assert causes["spec.conversion.webhook.conversionReviewVersions"].endswith(
        "must include at least one of v1, v1beta1")
