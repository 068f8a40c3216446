"""Ports of test/e2e/network/apiserver.go (API Server), endpoints.go (Endpoints,
EndpointsController) and the controller tests of endpointslice.go (EndpointSlice): the
`kubernetes` Service and its endpoints, the Endpoints lifecycle, and what the Endpoints
and EndpointSlice controllers make for a Service. The pods need an IP only, so simulated
nodes serve."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, is_not_found, poll, read_or_none
from conformance.images import build as images
from conformance.ports.apps_common import SMP
from conformance.watching import until

FOREVER = 30            # wait.ForeverTestTimeout
SLICE_GC = 90           # the slice's garbage collection may take a GC resync
SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"


def _ep_sets(ep: Any) -> tuple[set[str], set[int]]:
    addrs, ports = set(), set()
    for s in ep.subsets or []:
        addrs |= {a.ip for a in (s.addresses or []) + (s.not_ready_addresses or [])}
        ports |= {p.port for p in s.ports or []}
    return addrs, ports


@conformance("API Server › provide secure master service", basename="apiserver")
def master_service(c: Ctx) -> None:
    c.core.read_namespaced_service("kubernetes", "default")


@conformance("API Server › have Endpoints and EndpointSlices pointing to API Server",
             basename="apiserver")
def apiserver_endpoints(c: Ctx) -> None:
    svc = c.core.read_namespaced_service("kubernetes", "default")
    ep = c.core.read_namespaced_endpoints("kubernetes", "default")
    assert ep.subsets, f"Expected at least 1 subset in endpoints, got {ep.subsets}"
    addrs, ports = _ep_sets(ep)
    slices = client.DiscoveryV1Api(c.api).list_namespaced_endpoint_slice(
        "default", label_selector=f"{SERVICE_NAME}=kubernetes").items
    assert slices, "Expected at least 1 EndpointSlice"
    # the Endpoints are single-stack in the Service's primary family: compare those slices
    family = "IPv6" if ":" in (svc.spec.cluster_ip or "") else "IPv4"
    s_addrs = {a for s in slices if s.address_type == family for e in s.endpoints or []
               for a in e.addresses}
    s_ports = {p.port for s in slices if s.address_type == family for p in s.ports or []
               if p.port is not None}
    assert s_addrs == addrs, f"EndpointSlice addresses {s_addrs} != Endpoints addresses {addrs}"
    assert s_ports == ports, f"EndpointSlice ports {s_ports} != Endpoints ports {ports}"


# -- Endpoints lifecycle (endpoints.go) ------------------------------------------------------
@conformance("Endpoints › test the lifecycle of an Endpoint", basename="endpoints")
def endpoints_lifecycle(c: Ctx) -> None:
    core, ns, name, sel = c.core, c.ns, "testservice", "test-endpoint-static=true"
    rv = core.list_endpoints_for_all_namespaces(label_selector=sel).metadata.resource_version
    created = core.create_namespaced_endpoints(ns, client.V1Endpoints(
        metadata=client.V1ObjectMeta(name=name, labels={"test-endpoint-static": "true"}),
        subsets=[client.V1EndpointSubset(addresses=[client.V1EndpointAddress(ip="10.0.0.24")],
                                          ports=[client.CoreV1EndpointPort(name="http", port=80,
                                                                           protocol="TCP")])]))
    assert created.metadata.resource_version, "created Endpoints has no resourceVersion"

    def saw(etype: str, from_rv: str) -> None:
        until(c.api, core.list_namespaced_endpoints, "V1Endpoints", from_rv,
              lambda t, o: t == etype and (o.metadata.labels or {}).get("test-endpoint-static") == "true",
              FOREVER, f"a {etype} event", ns, label_selector=sel)
    saw("ADDED", rv)
    listed = core.list_endpoints_for_all_namespaces(label_selector=sel)
    found = next((e for e in listed.items if e.metadata.name == name and e.metadata.namespace == ns),
                 None)
    assert found is not None, "unable to find Endpoint Service in list of Endpoints"
    found.metadata.labels["test-service"] = "updated"
    core.replace_namespaced_endpoints(name, ns, found)
    saw("MODIFIED", listed.metadata.resource_version)
    got = core.read_namespaced_endpoints(name, ns)
    assert got.metadata.labels.get("test-service") == "updated", "label not updated"
    patched = core.patch_namespaced_endpoints(name, ns, {
        "metadata": {"labels": {"test-service": "patched"}},
        "subsets": [{"addresses": [{"ip": "10.0.0.25"}], "ports": [{"name": "http-test", "port": 8080}]}],
    }, _content_type=SMP)
    assert int(created.metadata.resource_version) < int(patched.metadata.resource_version), \
        "patched object should have a larger resource version"
    saw("MODIFIED", got.metadata.resource_version)
    got = core.read_namespaced_endpoints(name, ns)
    assert got.metadata.labels.get("test-service") == "patched", "failed to patch Endpoint with Label"
    sub = got.subsets[0]
    assert sub.addresses[0].ip == "10.0.0.25", "failed to patch Endpoint"
    assert sub.ports[0].name == "http-test" and sub.ports[0].port == 8080, "failed to patch Endpoint"
    core.delete_collection_namespaced_endpoints(ns, label_selector=sel)
    saw("DELETED", got.metadata.resource_version)
    assert is_not_found(lambda: core.read_namespaced_endpoints(name, ns)), \
        "should not be able to fetch Endpoint"


# -- what the controllers make for a Service (endpoints.go, endpointslice.go) ----------------
def _empty_selector_service(c: Ctx) -> Any:
    return c.core.create_namespaced_service(c.ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="example-empty-selector"),
        spec=client.V1ServiceSpec(
            selector={"does-not-match-anything": "endpoints-and-endpoint-slices-should-still-be-created"},
            ports=[client.V1ServicePort(name="example", port=80, protocol="TCP")])))


def _slices(c: Ctx, svc: str) -> list[Any]:
    return client.DiscoveryV1Api(c.api).list_namespaced_endpoint_slice(  # type: ignore[no-any-return]
        c.ns, label_selector=f"{SERVICE_NAME}={svc}").items


def _endpoints(c: Ctx, name: str) -> Any:
    return read_or_none(lambda: c.core.read_namespaced_endpoints(name, c.ns))


@conformance("EndpointsController › create and delete Endpoints for a Service whose selector "
             "matches no pods", basename="endpoints")
def endpoints_for_empty_service(c: Ctx) -> None:
    svc = _empty_selector_service(c)
    poll(lambda: _endpoints(c, svc.metadata.name), FOREVER,
         f"Endpoints for Service {c.ns}/{svc.metadata.name}", 2)
    c.core.delete_namespaced_service(svc.metadata.name, c.ns)
    poll(lambda: _endpoints(c, svc.metadata.name) is None, FOREVER,
         "the Endpoints to be deleted with the Service", 2)


@conformance("EndpointSlice › create and delete EndpointSlices for a Service whose selector "
             "matches no pods", basename="endpointslice")
def slices_for_empty_service(c: Ctx) -> None:
    svc = _empty_selector_service(c)
    found = poll(lambda: _slices(c, svc.metadata.name), FOREVER,
                 f"an EndpointSlice for Service {c.ns}/{svc.metadata.name}", 2)
    es = found[0]
    managed = (es.metadata.labels or {}).get(MANAGED_BY)
    assert managed == "endpointslice-controller.k8s.io", \
        f"Expected EndpointSlice to have {MANAGED_BY}=endpointslice-controller.k8s.io, got {es.metadata.labels}"
    assert not es.endpoints, f"Expected EndpointSlice to have 0 endpoints, got {es.endpoints}"
    c.core.delete_namespaced_service(svc.metadata.name, c.ns)
    poll(lambda: not _slices(c, svc.metadata.name), SLICE_GC,
         "the EndpointSlice to be deleted with the Service", 2)


def _matching_pods_and_services(c: Ctx) -> tuple[list[Any], Any, Any]:
    """Two nginx pods (pod1: port example-name 3000; pod2: example-name 3001 and
    other-port 3002) and two Services publishing not-ready addresses: one selecting pod1
    on target port 3000, one selecting both on the named port. Returns them once both
    pods have an IP (upstream polls 3 minutes)."""
    def pod(name: str, label: str, ports: list[tuple[str, int]]) -> Any:
        return c.core.create_namespaced_pod(c.ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={label: "on", "shared12": "on"}),
            spec=client.V1PodSpec(containers=[client.V1Container(
                name="container1", image=images.NGINX,
                ports=[client.V1ContainerPort(name=n, container_port=p) for n, p in ports])])))
    pod("pod1", "pod1", [("example-name", 3000)])
    pod("pod2", "pod2", [("example-name", 3001), ("other-port", 3002)])

    def service(name: str, selector: dict[str, str], port: client.V1ServicePort) -> Any:
        return c.core.create_namespaced_service(c.ns, client.V1Service(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ServiceSpec(selector=selector, publish_not_ready_addresses=True,
                                      ports=[port])))
    svc1 = service("example-int-port", {"pod1": "on"},
                   client.V1ServicePort(name="example", port=80, target_port=3000, protocol="TCP"))
    svc2 = service("example-named-port", {"shared12": "on"},
                   client.V1ServicePort(name="http", port=80, target_port="example-name",
                                        protocol="TCP"))

    def with_ips() -> list[Any] | None:
        pods = [c.core.read_namespaced_pod(n, c.ns) for n in ("pod1", "pod2")]
        return pods if all(p.status.pod_ips for p in pods) else None
    pods = poll(with_ips, 180, "Pods to have IPs assigned", 2)
    return pods, svc1, svc2


def _check_target(pod: Any, ref: Any) -> None:
    """upstream's ensurePodTargetRef."""
    assert ref is not None, "Expected TargetRef to not be nil"
    got = (ref.kind, ref.namespace, ref.name, ref.uid)
    want = ("Pod", pod.metadata.namespace, pod.metadata.name, pod.metadata.uid)
    assert got == want, f"Expected TargetRef {want}, got {got}"


def _check_ports(got: list[Any], svc: Any, pod: Any | None, named: bool) -> None:
    """Ports of a subset or slice: the Service's target ports one by one, or for a
    named target port the pod's container port of that name."""
    sp = svc.spec.ports
    if not named:
        for i, p in enumerate(got):
            want = (sp[i].name, sp[i].protocol, sp[i].target_port)
            assert (p.name, p.protocol, p.port) == want, f"Expected port {want}, got {p}"
    elif pod is not None:
        for cp in pod.spec.containers[0].ports or []:
            if cp.name == sp[0].target_port:
                assert got[0].port == cp.container_port, \
                    f"Expected port to be {cp.container_port}, got {got[0].port}"
                assert got[0].name == sp[0].name, f"Expected port name {sp[0].name}, got {got[0].name}"


def expect_endpoints(c: Ctx, svc: Any, pods: list[Any], subsets: int, named: bool) -> None:
    """upstream's expectEndpoints: within 2 minutes the Endpoints have `subsets` subsets
    and one address per pod, each pointing at its pod, with the expected ports."""
    def matching() -> Any:
        ep = _endpoints(c, svc.metadata.name)
        if ep is None or len(ep.subsets or []) != subsets:
            return None
        n = sum(len(s.addresses or []) + len(s.not_ready_addresses or []) for s in ep.subsets or [])
        return ep if n == len(pods) else None
    ep = poll(matching, 120, f"Endpoints of {svc.metadata.name} to match expectations", 2)
    by_ip = {p.status.pod_ip: p for p in pods}
    assert ep.metadata.name == svc.metadata.name
    total = 0
    for s in ep.subsets or []:
        addrs = (s.addresses or []) + (s.not_ready_addresses or [])
        total += len(addrs)
        assert len(s.ports or []) == len(svc.spec.ports), f"Expected {len(svc.spec.ports)} ports, got {s.ports}"
        _check_ports(s.ports or [], svc, None, named)
        for a in addrs:
            assert a.ip in by_ip, f"Unexpected address with IP: {a.ip}"
            _check_target(by_ip[a.ip], a.target_ref)
            _check_ports(s.ports, svc, by_ip[a.ip], named)
    assert total == len(pods), f"Expected {len(pods)} addresses, got {total}"


def expect_slices(c: Ctx, svc: Any, pods: list[Any], slices: int, named: bool) -> None:
    """upstream's EndpointSlice half of expectEndpointsAndSlices: within 2 minutes at
    least `slices` slices holding at least one endpoint per pod (duplicates allowed),
    each endpoint pointing at its pod, with the expected ports."""
    def matching() -> list[Any] | None:
        found = _slices(c, svc.metadata.name)
        if not found or len(found) < slices:
            return None
        return found if sum(len(s.endpoints or []) for s in found) >= len(pods) else None
    found = poll(matching, 120, f"EndpointSlices of {svc.metadata.name} to match expectations", 5)
    by_ip = {p.status.pod_ip: p for p in pods}
    if not pods:
        assert len(found) == 1, f"Expected 1 EndpointSlice, got {len(found)}"
    seen = set()
    for s in found:
        ports = s.ports or []
        want_ports = len(svc.spec.ports) if pods else 0
        assert len(ports) == want_ports, f"Expected EndpointSlice to have {want_ports} ports, got {ports}"
        _check_ports(ports, svc, None, named)
        for e in s.endpoints or []:
            assert e.addresses, "Expected EndpointSlice endpoint to have at least 1 address"
            assert e.addresses[0] in by_ip, f"Unexpected address with IP: {e.addresses[0]}"
            seen.add(e.addresses[0])
            _check_target(by_ip[e.addresses[0]], e.target_ref)
            _check_ports(ports, svc, by_ip[e.addresses[0]], named)
    assert len(seen) == len(pods), f"Expected {len(pods)} addresses, got {len(seen)}"


@conformance("EndpointsController › create Endpoints for Pods matching a Service",
             basename="endpoints")
def endpoints_for_pods(c: Ctx) -> None:
    (pod1, pod2), svc1, svc2 = _matching_pods_and_services(c)
    expect_endpoints(c, svc1, [pod1], 1, False)
    expect_endpoints(c, svc2, [pod1, pod2], 2, True)


@conformance("EndpointSlice › create Endpoints and EndpointSlices for Pods matching a Service",
             basename="endpointslice")
def slices_for_pods(c: Ctx) -> None:
    (pod1, pod2), svc1, svc2 = _matching_pods_and_services(c)
    svc3 = c.core.create_namespaced_service(c.ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="example-no-match"),
        spec=client.V1ServiceSpec(selector={"pod3": "on"}, publish_not_ready_addresses=True,
                                  ports=[client.V1ServicePort(name="example-no-match", port=80,
                                                              target_port=8080, protocol="TCP")])))
    for svc, pods, subsets, slices, named in ((svc1, [pod1], 1, 1, False),
                                              (svc2, [pod1, pod2], 2, 2, True),
                                              (svc3, [], 0, 1, False)):
        expect_slices(c, svc, pods, slices, named)
        expect_endpoints(c, svc, pods, subsets, named)
    # slices deleted by hand are recreated
    for s in _slices(c, svc2.metadata.name):
        client.DiscoveryV1Api(c.api).delete_namespaced_endpoint_slice(s.metadata.name, c.ns)
    expect_slices(c, svc2, [pod1, pod2], 2, True)
    expect_endpoints(c, svc2, [pod1, pod2], 2, True)
