"""Ports of test/e2e/apimachinery/custom_resource_definition.go (CustomResourceDefinition
resources), crd_watch.go (CustomResourceDefinition Watch) and the CRD cases of
aggregated_discovery.go, over plain REST calls of the Python client (its typed CRD models
refuse the condition-less status the status test writes)."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance, poll, rand_suffix
from conformance.ports.apimachinery_discovery import get_json

CRD_RES = "[sig-api-machinery] CustomResourceDefinition resources [Privileged:ClusterAdmin] "
SIMPLE = CRD_RES + "Simple CustomResourceDefinition "
WATCH = "[sig-api-machinery] CustomResourceDefinition Watch [Privileged:ClusterAdmin] "
AGG = "[sig-api-machinery] AggregatedDiscovery "
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
TIMEOUT = 30.0  # wait.ForeverTestTimeout


def send(c: Ctx, method: str, path: str, body: Any = None,
         content_type: str = "application/json", accept: str = "application/json") -> Any:
    """One REST call; the decoded answer, or ApiException on an error status."""
    headers = {"Accept": accept, "Content-Type": content_type}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], path, method, None)
    resp = c.api.call_api(method, c.api.configuration.host + path, header_params=headers,
                          body=body)
    data = resp.read()
    if not 200 <= resp.status <= 299:
        raise ApiException(status=resp.status, reason=resp.reason, body=data.decode())
    return json.loads(data) if data else None


def random_crd(scope: str = "Cluster", *, labels: dict[str, str] | None = None) -> dict:
    """fixtures.NewRandomNameV1CustomResourceDefinition: a random kind in
    mygroup.example.com whose schema preserves every field."""
    name = f"e2e-test-{rand_suffix()}-crd"
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{name}s.mygroup.example.com", "labels": labels or {}},
        "spec": {
            "group": "mygroup.example.com", "scope": scope,
            "names": {"plural": name + "s", "singular": name, "kind": name.capitalize(),
                      "listKind": name.capitalize() + "List"},
            "versions": [{"name": "v1beta1", "served": True, "storage": True,
                          "schema": {"openAPIV3Schema": {
                              "type": "object", "x-kubernetes-preserve-unknown-fields": True}}}],
        },
    }


def established(crd: dict) -> bool:
    return any(x.get("type") == "Established" and x.get("status") == "True"
               for x in (crd.get("status") or {}).get("conditions") or [])


def create_crd(c: Ctx, crd: dict) -> dict:
    """CreateNewV1CustomResourceDefinitionWatchUnsafe: create, wait for Established and
    for the resource to be served."""
    send(c, "POST", CRDS, crd)
    name = crd["metadata"]["name"]
    got = poll(lambda: (lambda o: o if established(o) else None)(
        send(c, "GET", f"{CRDS}/{name}")), TIMEOUT, f"{name} to be Established")
    spec = got["spec"]
    path = f"/apis/{spec['group']}/{spec['versions'][0]['name']}/{spec['names']['plural']}"
    poll(lambda: _served(c, path), TIMEOUT, f"{path} to be served")
    return got


def _served(c: Ctx, path: str) -> bool:
    try:
        send(c, "GET", path)
        return True
    except ApiException:
        return False


def delete_crd(c: Ctx, name: str) -> None:
    send(c, "DELETE", f"{CRDS}/{name}")
    poll(lambda: not _served(c, f"{CRDS}/{name}"), TIMEOUT, f"{name} to be deleted")


@conformance(SIMPLE + "creating/deleting custom resource definition objects works "
             "[Conformance]", basename="custom-resource-definition")
def create_delete(c: Ctx) -> None:
    crd = create_crd(c, random_crd())
    delete_crd(c, crd["metadata"]["name"])


@conformance(SIMPLE + "listing custom resource definition objects works [Conformance]",
             basename="custom-resource-definition")
def listing(c: Ctx) -> None:
    test_uuid = str(uuid.uuid4())
    made = {}
    for _ in range(10):
        crd = create_crd(c, random_crd(labels={"e2e-list-test-uuid": test_uuid}))
        made[crd["metadata"]["name"]] = crd
    other = create_crd(c, random_crd())
    try:
        selector = f"?labelSelector=e2e-list-test-uuid%3D{test_uuid}"
        items = send(c, "GET", CRDS + selector)["items"]
        assert len(items) == 10, f"listed {len(items)} labelled definitions, want 10"
        for actual in items:
            expected = made.get(actual["metadata"]["name"])
            assert expected is not None, actual["metadata"]["name"]
            assert actual["spec"] == expected["spec"], actual["metadata"]["name"]
        send(c, "DELETE", CRDS + selector)
        poll(lambda: not send(c, "GET", CRDS + selector)["items"], TIMEOUT,
             "the labelled definitions to be deleted")
        send(c, "GET", f"{CRDS}/{other['metadata']['name']}")  # still there
    finally:
        delete_crd(c, other["metadata"]["name"])


@conformance(SIMPLE + "getting/updating/patching custom resource definition status "
             "sub-resource works [Conformance]", basename="custom-resource-definition")
def status_subresource(c: Ctx) -> None:
    crd = create_crd(c, random_crd())
    name = crd["metadata"]["name"]
    try:
        updated = None
        for _ in range(5):  # retry.RetryOnConflict
            status = send(c, "GET", f"{CRDS}/{name}/status")
            assert status["spec"] == crd["spec"], "the status sub-resource's spec differs"
            status["status"]["conditions"] = [*(status["status"].get("conditions") or []),
                                              {"message": "updated"}]
            try:
                updated = send(c, "PUT", f"{CRDS}/{name}/status", status)
                break
            except ApiException as e:
                if e.status != 409:
                    raise
        assert updated is not None, "could not update the status"
        assert {"message": "updated"} in updated["status"]["conditions"]
        patched = send(c, "PATCH", f"{CRDS}/{name}/status",
                       [{"op": "add", "path": "/status/conditions",
                         "value": [{"message": "patched"}]}],
                       content_type="application/json-patch+json")
        assert {"message": "patched"} in patched["status"]["conditions"], patched["status"]
    finally:
        delete_crd(c, name)


@conformance(CRD_RES + "should include custom resource definition resources in discovery "
             "documents [Conformance]", basename="custom-resource-definition")
def discovery(c: Ctx) -> None:
    groups = get_json(c, "/apis")["groups"]
    group = next((g for g in groups if g["name"] == "apiextensions.k8s.io"), None)
    assert group is not None, "apiextensions.k8s.io API group not found in /apis"
    assert any(v["version"] == "v1" for v in group["versions"]), "v1 not in /apis"
    group = get_json(c, "/apis/apiextensions.k8s.io")
    assert group["name"] == "apiextensions.k8s.io"
    assert any(v["version"] == "v1" for v in group["versions"])
    resources = get_json(c, "/apis/apiextensions.k8s.io/v1")
    assert resources["groupVersion"] == "apiextensions.k8s.io/v1"
    assert any(r["name"] == "customresourcedefinitions" for r in resources["resources"])


@conformance(CRD_RES + "custom resource defaulting for requests and from storage works "
             "[Conformance]", basename="custom-resource-definition")
def defaulting(c: Ctx) -> None:
    crd = random_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"] = {
        "a": {"type": "string"}, "b": {"type": "string"}}
    crd = create_crd(c, crd)
    name, spec = crd["metadata"]["name"], crd["spec"]
    base = f"/apis/{spec['group']}/v1beta1/{spec['names']['plural']}"
    api_version, kind = f"{spec['group']}/v1beta1", spec["names"]["kind"]
    try:
        name1 = "cr-1" + rand_suffix()
        send(c, "POST", base, {"apiVersion": api_version, "kind": kind,
                               "metadata": {"name": name1}})
        send(c, "PATCH", f"{CRDS}/{name}", [
            {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default",
             "value": "A"}], content_type="application/json-patch+json")
        poll(lambda: send(c, "GET", f"{base}/{name1}").get("a") == "A", TIMEOUT,
             "the CR to be defaulted on read")
        name2 = "cr-2" + rand_suffix()
        u2 = send(c, "POST", base, {"apiVersion": api_version, "kind": kind,
                                    "metadata": {"name": name2}})
        assert u2.get("a") == "A", f"field `a` should have been defaulted in {u2}"
        send(c, "PATCH", f"{CRDS}/{name}", [
            {"op": "remove", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/a/default"},
            {"op": "add", "path": "/spec/versions/0/schema/openAPIV3Schema/properties/b/default",
             "value": "B"}], content_type="application/json-patch+json")

        def both() -> bool:
            got = send(c, "GET", f"{base}/{name2}")
            assert got.get("a") == "A", f"expected a:\"A\" to be unchanged, got {got}"
            return got.get("b") == "B"
        poll(both, TIMEOUT, "the CR to be defaulted on read for b and a staying the same")
    finally:
        delete_crd(c, name)


@conformance(WATCH + "CustomResourceDefinition Watch watch on custom resource definition "
             "objects [Conformance]", basename="crd-watch")
def watch(c: Ctx) -> None:
    crd = create_crd(c, random_crd())
    spec = crd["spec"]
    base = f"/apis/{spec['group']}/v1beta1/{spec['names']['plural']}"
    api_version, kind = f"{spec['group']}/v1beta1", spec["names"]["kind"]
    events: list[tuple[str, str]] = []
    rv = send(c, "GET", base)["metadata"]["resourceVersion"]
    done = threading.Event()

    def follow() -> None:
        resp = c.api.rest_client.pool_manager.request(
            "GET", f"{c.api.configuration.host}{base}?watch=1&resourceVersion={rv}"
            "&timeoutSeconds=30", headers=_auth_headers(c, base), preload_content=False)
        for line in resp.stream(amt=None):
            for chunk in line.decode().splitlines():
                if chunk.strip():
                    ev = json.loads(chunk)
                    events.append((ev["type"], ev["object"]["metadata"]["name"]))
            if done.is_set():
                break
        resp.release_conn()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    try:
        for n in ("name1", "name2"):
            send(c, "POST", base, {"apiVersion": api_version, "kind": kind,
                                   "metadata": {"name": n}, "content": {"key": "value"}})
        send(c, "PATCH", f"{base}/name1", {"dummy": "test"},
             content_type="application/merge-patch+json")
        for n in ("name1", "name2"):
            send(c, "DELETE", f"{base}/{n}")
        want = [("ADDED", "name1"), ("ADDED", "name2"), ("MODIFIED", "name1"),
                ("DELETED", "name1"), ("DELETED", "name2")]
        poll(lambda: events[:5] == want or None, TIMEOUT, f"the watch events {want}")
    finally:
        done.set()
        delete_crd(c, crd["metadata"]["name"])


def _auth_headers(c: Ctx, path: str) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
    return headers


AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"


def _in_aggregated(c: Ctx, group: str, plural: str, accept: str) -> bool:
    doc = send(c, "GET", "/apis", accept=accept)
    for g in doc.get("items") or []:
        if g["metadata"]["name"] == group:
            return any(r["resource"] == plural for v in g["versions"]
                       for r in v.get("resources") or [])
    return False


def _crd_of_its_own_group(c: Ctx) -> dict:
    crd = random_crd()
    crd["spec"]["group"] = f"{rand_suffix()}.example.com"
    crd["metadata"]["name"] = f"{crd['spec']['names']['plural']}.{crd['spec']['group']}"
    return create_crd(c, crd)


def _wait_aggregated(c: Ctx, accepts: tuple[str, ...]) -> None:
    crd = _crd_of_its_own_group(c)
    group, plural = crd["spec"]["group"], crd["spec"]["names"]["plural"]
    try:
        for accept in accepts:
            poll(lambda a=accept: _in_aggregated(c, group, plural, a),  # type: ignore[misc]
                 TIMEOUT, f"the CRD in aggregated discovery ({accept})")
    finally:
        delete_crd(c, crd["metadata"]["name"])


@conformance(AGG + "should support aggregated discovery interface for CRDs [Conformance]",
             basename="aggregateddiscovery")
def aggregated_for_crds(c: Ctx) -> None:
    _wait_aggregated(c, (AGGREGATED,))


@conformance(AGG + "should support raw aggregated discovery request for CRDs [Conformance]",
             basename="aggregateddiscovery")
def raw_aggregated_for_crds(c: Ctx) -> None:
    _wait_aggregated(c, (AGGREGATED, AGGREGATED.replace("v=v2;", "v=v2beta1;")))
