"""Ports of small API-machinery files: server_version.go, table_conversion.go, and
common/node/lease.go (Lease API)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error

SMP = "application/strategic-merge-patch+json"
ZERO = datetime(1, 1, 1, tzinfo=UTC)  # Go's time.Time{}


@conformance("[sig-api-machinery] server version should find the server version [Conformance]",
             basename="server-version")
def server_version(c: Ctx) -> None:
    v = client.VersionApi(c.api).get_code()
    assert re.search("[1-9]", v.major) and re.search("[1-9]", v.major).group() == v.major, \
        f"unable to find major version in {v.major!r}"
    clean = re.sub("[^0-9]+", "", v.minor)
    m = re.search("[0-9]+", v.minor)
    assert m and m.group() == clean, f"unable to find minor version in {v.minor!r}"


@conformance("[sig-api-machinery] Servers with support for Table transformation should return "
             "a 406 for a backend which does not implement metadata [Conformance]",
             basename="tables")
def table_406(c: Ctx) -> None:
    body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"nonResourceAttributes": {"path": "/", "verb": "get"}}}
    e = expect_api_error(lambda: _raw_post(c, body))
    assert e.status == 406, f"expected 406, got {e.status}"


def _raw_post(c: Ctx, body: dict[str, object]) -> None:
    """POST with a Table Accept header; an error status raises ApiException."""
    from kubernetes.client.exceptions import ApiException

    url = c.api.configuration.host + "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    headers = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io",
               "Content-Type": "application/json"}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], url, "POST", body)
    resp = c.api.rest_client.request("POST", url, headers=headers, body=body)
    if not 200 <= resp.status <= 299:
        raise ApiException(status=resp.status, reason=resp.reason, body=resp.read().decode())


def _spec(holder: str, duration: int, acquire: int, renew: int, transitions: int) -> client.V1LeaseSpec:
    return client.V1LeaseSpec(holder_identity=holder, lease_duration_seconds=duration,
                              acquire_time=ZERO + timedelta(seconds=acquire),
                              renew_time=ZERO + timedelta(seconds=renew),
                              lease_transitions=transitions)


@conformance("[sig-node] Lease lease API should be available [Conformance]", basename="lease-test")
def lease_api(c: Ctx) -> None:
    co, ns = c.coordination, c.ns
    spec = _spec("holder", 30, 2, 5, 0)
    created = co.create_namespaced_lease(ns, client.V1Lease(
        metadata=client.V1ObjectMeta(name="lease"), spec=spec))
    assert co.read_namespaced_lease("lease", ns).spec == spec, "leases don't match after create"
    created.spec = _spec("holder2", 30, 20, 50, 1)
    co.replace_namespaced_lease("lease", ns, created)
    read = co.read_namespaced_lease("lease", ns)
    assert read.spec == created.spec, f"leases don't match after update: {read.spec}"
    patched = _spec("holder3", 60, 50, 70, 2)
    co.patch_namespaced_lease("lease", ns, {"spec": c.api.sanitize_for_serialization(patched)},
                              _content_type=SMP)
    read = co.read_namespaced_lease("lease", ns)
    assert read.spec == patched, f"leases don't match after patch: {read.spec}"
    co.create_namespaced_lease(ns, client.V1Lease(metadata=client.V1ObjectMeta(
        name="lease2", labels={"deletecollection": "true"}), spec=spec))
    assert len(co.list_namespaced_lease(ns).items) == 2
    co.delete_collection_namespaced_lease(ns, label_selector="deletecollection=true")
    assert len(co.list_namespaced_lease(ns).items) == 1
    co.delete_namespaced_lease("lease", ns)
    expect_api_error(lambda: co.read_namespaced_lease("lease", ns), 404)
    co.list_lease_for_all_namespaces()
