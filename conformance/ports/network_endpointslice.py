"""Port of the API-operations test of test/e2e/network/endpointslice.go (EndpointSlice
CRUD, watch and deletecollection through discovery.k8s.io/v1). The controller tests of
that file are ported elsewhere or not yet."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.api_groups import annotations, check_discovery, expect_patched_modified
from conformance.ports.apps_common import retry_on_conflict
from conformance.watching import Watch


@conformance("[sig-network] EndpointSlice should support creating EndpointSlice API "
             "operations [Conformance]", basename="endpointslice")
def endpoint_slice_api(c: Ctx) -> None:
    ns, api = c.ns, client.DiscoveryV1Api(c.api)
    selector = f"special-label={c.ns}"
    template = client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-ing",
                                     labels={"special-label": c.ns}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["1.2.3.4", "5.6.7.8"]),
                   client.V1Endpoint(addresses=["2.2.3.4", "6.6.7.8"])])
    check_discovery(c, "discovery.k8s.io", "v1", "endpointslices")
    api.create_namespaced_endpoint_slice(ns, template)
    api.create_namespaced_endpoint_slice(ns, template)
    created = api.create_namespaced_endpoint_slice(ns, template)
    name = created.metadata.name
    assert api.read_namespaced_endpoint_slice(name, ns).metadata.uid == created.metadata.uid
    listed = api.list_namespaced_endpoint_slice(ns, label_selector=selector)
    assert len(listed.items) == 3, "filtered list should have 3 items"
    rv = listed.metadata.resource_version
    w = Watch(c.api, api.list_namespaced_endpoint_slice, "V1EndpointSlice", ns,
              label_selector=selector, resource_version=rv)
    cluster = api.list_endpoint_slice_for_all_namespaces(label_selector=selector)
    assert len(cluster.items) == 3, "filtered list should have 3 items"
    Watch(c.api, api.list_endpoint_slice_for_all_namespaces, "V1EndpointSlice",
          label_selector=selector, resource_version=rv).stop()
    try:
        patched = api.patch_namespaced_endpoint_slice(name, ns, {"metadata": {"annotations": {
            "patched": "true"}}})
        assert annotations(patched).get("patched") == "true", \
            "patched object should have the applied annotation"

        def update() -> Any:
            eps = api.read_namespaced_endpoint_slice(name, ns)
            eps.metadata.annotations["updated"] = "true"
            return api.replace_namespaced_endpoint_slice(name, ns, eps)
        assert annotations(retry_on_conflict(update)).get("updated") == "true", \
            "updated object should have the applied annotation"
        expect_patched_modified(w)
    finally:
        w.stop()
    api.delete_namespaced_endpoint_slice(name, ns)
    expect_api_error(lambda: api.read_namespaced_endpoint_slice(name, ns), 404)
    left = api.list_namespaced_endpoint_slice(ns, label_selector=selector).items
    assert len(left) == 2, "filtered list should have 2 items"
    assert all(e.metadata.name != name for e in left), "listing after deleting createdEPS"
    api.delete_collection_namespaced_endpoint_slice(ns, label_selector=selector)
    assert not api.list_namespaced_endpoint_slice(ns, label_selector=selector).items, \
        "filtered list should have 0 items"
