"""Ports of the "ServiceCIDR and IPAddress API" tests of test/e2e/network/service_cidrs.go:
the default ServiceCIDR `kubernetes` is read, patched, updated, listed and watched, and
IPAddresses (named by the address) go through create, patch, update, get, list, watch,
delete and deletecollection. (The Service test of that file needs two nodes and a data
path through a new range; it is not a conformance test.)"""

from __future__ import annotations

from kubernetes import client

from conformance.framework import Ctx, conformance
from conformance.ports.api_groups import annotate_and_watch, calls_of

SC = "[sig-network] ServiceCIDR and IPAddress API "
PARENT = client.V1ParentReference(group="mygroup", resource="myresources", namespace="foo",
                                  name="bar")


@conformance(SC + "should support ServiceCIDR API operations [Conformance]",
             basename="servicecidr")
def service_cidr_api(c: Ctx) -> None:
    api = client.NetworkingV1Api(c.api)
    cidrs = calls_of(api, "service_cidr", "V1ServiceCIDR")
    cidrs.read("kubernetes")
    annotate_and_watch(cidrs, "kubernetes", [])  # upstream opens no watch here
    assert cidrs.list().items, "expected at list one, the default, ServiceCIDR"
    cidrs.watch(c).stop()


@conformance(SC + "should support IPAddress API operations [Conformance]",
             basename="servicecidr")
def ip_address_api(c: Ctx) -> None:
    api = client.NetworkingV1Api(c.api)
    ips = calls_of(api, "ip_address", "V1IPAddress")
    for name, kind in (("255.255.255.255", "broadcast"), ("fe80::42:1dff:fe84:f9e2", "link-local")):
        api.create_ip_address(client.V1IPAddress(
            metadata=client.V1ObjectMeta(name=name, labels={"type": kind}),
            spec=client.V1IPAddressSpec(parent_ref=PARENT)))
    try:
        annotate_and_watch(ips, "255.255.255.255", [])
        ips.read("255.255.255.255")
        assert len(ips.list(label_selector="type=broadcast").items) == 1, "expected one IPAddress"
        ips.watch(c, label_selector="type=broadcast").stop()
        ips.delete("255.255.255.255")
        ips.delete_collection(label_selector="type=link-local")
        assert not ips.list(label_selector="type=link-local").items, "expected 0 IPAddresses"
    finally:
        for kind in ("broadcast", "link-local"):
            ips.delete_collection(label_selector=f"type={kind}")
