"""Port of the API-operations test of test/e2e/network/endpointslice.go (EndpointSlice
CRUD, watch and deletecollection through discovery.k8s.io/v1). The controller tests of
that file are ported elsewhere or not yet."""

from __future__ import annotations

from kubernetes import client

from conformance.framework import Ctx, conformance
from conformance.ports.api_groups import (
    annotate_and_watch,
    calls_of,
    check_discovery,
    delete_then_collection,
    three_listed_then_watch,
)


@conformance("[sig-network] EndpointSlice should support creating EndpointSlice API "
             "operations [Conformance]", basename="endpointslice")
def endpoint_slice_api(c: Ctx) -> None:
    ns, api = c.ns, client.DiscoveryV1Api(c.api)
    eps = calls_of(api, "endpoint_slice", "V1EndpointSlice", ns)
    selector = f"special-label={c.ns}"
    template = client.V1EndpointSlice(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-ing",
                                     labels={"special-label": c.ns}),
        address_type="IPv4",
        endpoints=[client.V1Endpoint(addresses=["1.2.3.4", "5.6.7.8"]),
                   client.V1Endpoint(addresses=["2.2.3.4", "6.6.7.8"])])
    check_discovery(c, "discovery.k8s.io", "v1", "endpointslices")
    for _ in range(3):
        created = api.create_namespaced_endpoint_slice(ns, template)
    name = created.metadata.name
    w = three_listed_then_watch(c, eps, created, selector,
                                api.list_endpoint_slice_for_all_namespaces)
    annotate_and_watch(eps, name, w)
    delete_then_collection(eps, name, label_selector=selector)
