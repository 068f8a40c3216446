"""Ports of test/e2e/apimachinery/discovery.go (Discovery)."""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance

D = "[sig-api-machinery] Discovery "
# upstream's table: (base path, group, version, a resource that must be listed)
GROUP_RESOURCES = [
    ("/api", "", "v1", "namespaces"),
    ("/apis", "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"),
    ("/apis", "apiextensions.k8s.io", "v1", "customresourcedefinitions"),
    ("/apis", "apiregistration.k8s.io", "v1", "apiservices"),
    ("/apis", "apps", "v1", "deployments"),
    ("/apis", "authentication.k8s.io", "v1", "tokenreviews"),
    ("/apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"),
    ("/apis", "autoscaling", "v1", "horizontalpodautoscalers"),
    ("/apis", "autoscaling", "v2", "horizontalpodautoscalers"),
    ("/apis", "batch", "v1", "jobs"),
    ("/apis", "certificates.k8s.io", "v1", "certificatesigningrequests"),
    ("/apis", "coordination.k8s.io", "v1", "leases"),
    ("/apis", "discovery.k8s.io", "v1", "endpointslices"),
    ("/apis", "events.k8s.io", "v1", "events"),
    ("/apis", "networking.k8s.io", "v1", "ingresses"),
    ("/apis", "node.k8s.io", "v1", "runtimeclasses"),
    ("/apis", "policy", "v1", "poddisruptionbudgets"),
    ("/apis", "scheduling.k8s.io", "v1", "priorityclasses"),
    ("/apis", "storage.k8s.io", "v1", "csinodes"),
]


def get_json(c: Ctx, path: str) -> Any:
    resp = c.api.call_api("GET", c.api.configuration.host + path,
                          header_params={"Accept": "application/json", **_auth(c, path)})
    data = resp.read()
    if not 200 <= resp.status <= 299:
        raise ApiException(status=resp.status, reason=resp.reason, body=data.decode())
    return json.loads(data)


def _auth(c: Ctx, path: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
    return headers


@conformance(D + "should validate PreferredVersion for each APIGroup [Conformance]",
             basename="discovery")
def preferred_version(c: Ctx) -> None:
    groups = get_json(c, "/apis/")["groups"]
    assert groups, "Missing APIGroups"
    for g in groups:
        if g["name"].endswith(".example.com"):
            continue  # upstream ignores example groups other tests add and remove
        group = get_json(c, f"/apis/{g['name']}/")
        assert group.get("versions"), f"No version found for {g['name']}"
        preferred = group["preferredVersion"]["groupVersion"]
        assert any(v["groupVersion"] == preferred for v in group["versions"]), \
            f"Failed to find a valid version for PreferredVersion {preferred} in {group['versions']}"


@conformance(D + "should locate the groupVersion and a resource within each APIGroup "
             "[Conformance]", basename="discovery")
def locate_group_versions(c: Ctx) -> None:
    missing = []
    for base, group, version, resource in GROUP_RESOURCES:
        path = "/".join(p for p in (base, group, version) if p)
        try:
            rl = get_json(c, path)
        except ApiException as e:
            missing.append(f"{path} ({e.status})")
            continue
        want = f"{group}/{version}" if group else version
        assert rl["groupVersion"] == want, f"{path}: groupVersion {rl['groupVersion']} != {want}"
        if not any(r["name"] == resource for r in rl["resources"]):
            missing.append(f"{path} lists no {resource}")
    # upstream stops at the first; all are named here so the report says what is missing
    assert not missing, "Fail to access: " + ", ".join(missing)


# -- aggregated_discovery.go ---------------------------------------------------------------
AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
# what client-go's discovery client sends: aggregated v2, then v2beta1, then the legacy form
CLIENT_ACCEPT = (AGGREGATED + ",application/json;g=apidiscovery.k8s.io;v=v2beta1;"
                 "as=APIGroupDiscoveryList;q=0.9,application/json;q=0.8")
AD = "[sig-api-machinery] AggregatedDiscovery "
EXPECTED_GVRS = [(g, v, r) for _, g, v, r in GROUP_RESOURCES if g]
EXPECTED_LEGACY_GVRS = [("", "v1", "namespaces")]


def _get(c: Ctx, path: str, accept: str) -> tuple[str, Any]:
    headers = {"Accept": accept, **_auth(c, path)}
    resp = c.api.call_api("GET", c.api.configuration.host + path, header_params=headers)
    data = resp.read()
    if not 200 <= resp.status <= 299:
        raise ApiException(status=resp.status, reason=resp.reason, body=data.decode())
    return resp.headers.get("Content-Type", ""), json.loads(data)


def _discovered(doc: Any) -> set[tuple[str, str, str]]:
    """(group, version, resource) triples of an APIGroupDiscoveryList."""
    return {(g.get("metadata", {}).get("name", ""), v.get("version", ""), r.get("resource", ""))
            for g in doc.get("items") or [] for v in g.get("versions") or []
            for r in v.get("resources") or []}


def _absent(found: set[tuple[str, str, str]], want: list[tuple[str, str, str]]) -> list[str]:
    return [f"{g or 'core'}/{v} {r}" for g, v, r in want if (g, v, r) not in found]


@conformance(AD + "should support raw aggregated discovery endpoint Accept headers [Conformance]",
             basename="aggregateddiscovery")
def aggregated_raw(c: Ctx) -> None:
    _, apis = _get(c, "/apis", AGGREGATED)
    missing = _absent(_discovered(apis), EXPECTED_GVRS)
    _, api = _get(c, "/api", AGGREGATED)
    missing += _absent(_discovered(api), EXPECTED_LEGACY_GVRS)
    assert not missing, "Expected to exist in discovery: " + ", ".join(missing)


@conformance(AD + "should support aggregated discovery interface [Conformance]",
             basename="aggregateddiscovery")
def aggregated_interface(c: Ctx) -> None:
    found: set[tuple[str, str, str]] = set()
    for path in ("/api", "/apis"):
        ctype, doc = _get(c, path, CLIENT_ACCEPT)
        assert "as=APIGroupDiscoveryList" in ctype, \
            f"Expected client to support aggregated discovery: {path} answered {ctype}"
        found |= _discovered(doc)
    expected = EXPECTED_GVRS + EXPECTED_LEGACY_GVRS
    missing = _absent(found, expected)
    assert not missing, "Expected to be present: " + ", ".join(missing)
    versions = {(g, v) for g, v, _ in found}
    absent_gvs = [f"{g}/{v}" for g, v, _ in expected if (g, v) not in versions]
    assert not absent_gvs, "Expected to be present: " + ", ".join(absent_gvs)
