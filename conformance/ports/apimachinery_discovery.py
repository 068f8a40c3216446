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
