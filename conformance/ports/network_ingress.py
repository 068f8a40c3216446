"""Ports of the API tests of test/e2e/network/ingress.go and ingressclass.go: Ingress and
IngressClass CRUD, watch, deletecollection and the Ingress /status subresource (no
ingress controller is needed)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance
from conformance.ports.api_groups import (
    Calls,
    annotate_and_watch,
    annotations,
    calls_of,
    check_discovery,
    delete_then_collection,
    three_listed_then_watch,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import retry_on_conflict


def _ingress(unique: str, host: str) -> client.V1Ingress:
    def backend(name: str) -> client.V1IngressBackend:
        return client.V1IngressBackend(service=client.V1IngressServiceBackend(
            name=name, port=client.V1ServiceBackendPort(number=8080)))
    return client.V1Ingress(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-ing",
                                     labels={"special-label": unique}),
        spec=client.V1IngressSpec(
            default_backend=backend("default-backend"),
            rules=[client.V1IngressRule(host=host, http=client.V1HTTPIngressRuleValue(paths=[
                client.V1HTTPIngressPath(path="/", path_type="ImplementationSpecific",
                                         backend=backend("test-backend"))]))]))


def _expect_finalizer(ing: Any, step: str) -> None:
    assert ing.metadata.deletion_timestamp is not None, \
        f"expected deletionTimestamp, got nil on step: {step!r}"
    assert ing.metadata.finalizers, f"expected finalizers on ingress, got none on step: {step!r}"


def _lb(ip: str) -> client.V1IngressLoadBalancerStatus:
    return client.V1IngressLoadBalancerStatus(ingress=[client.V1IngressLoadBalancerIngress(ip=ip)])


def _status_ops(c: Ctx, api: client.NetworkingV1Api, ns: str, created: Any) -> None:
    name = created.metadata.name
    patched = api.patch_namespaced_ingress_status(name, ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "169.1.1.1"}]}}})
    assert patched.status.load_balancer == _lb("169.1.1.1"), \
        "patched object should have the applied loadBalancer status"
    assert annotations(patched).get("patchedstatus") == "true", \
        "patched object should have the applied annotation"

    def update() -> Any:
        ing = api.read_namespaced_ingress(name, ns)
        ing.status.load_balancer = _lb("169.1.1.2")
        return api.replace_namespaced_ingress_status(name, ns, ing)
    assert retry_on_conflict(update).status.load_balancer == _lb("169.1.1.2")
    got = get_json(c, f"/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}/status")
    assert got["metadata"]["uid"] == created.metadata.uid, "status UID should match"


def _delete_ops(ing: Calls, created: Any, selector: str) -> None:
    """Deleted at once, or held by an ingress controller's finalizer."""
    name = created.metadata.name
    ing.delete(name)
    try:
        _expect_finalizer(ing.read(name), "deleting createdIngress")
    except client.ApiException as e:
        assert e.status == 404, f"expected 404, got {e.status}"
    items = ing.list(label_selector=selector).items
    assert len(items) <= 3, "filtered list should have <= 3 items"
    for obj in items:
        if obj.metadata.name == name:
            _expect_finalizer(obj, "listing after deleting createdIngress")
    ing.delete_collection(label_selector=selector)
    items = ing.list(label_selector=selector).items
    assert len(items) <= 3, "filtered list should have <= 3 items"
    for obj in items:
        _expect_finalizer(obj, "deleting ingress collection")


@conformance("[sig-network] Ingress API should support creating Ingress API operations "
             "[Conformance]", basename="ingress")
def ingress_api(c: Ctx) -> None:
    ns, api = c.ns, client.NetworkingV1Api(c.api)
    ing = calls_of(api, "ingress", "V1Ingress", ns)
    selector = f"special-label={c.ns}"
    check_discovery(c, "networking.k8s.io", "v1", "ingresses")
    for host in ("host1.bar.com", "host2.bar.com", "host3.bar.com"):
        created = api.create_namespaced_ingress(ns, _ingress(c.ns, host))
    name = created.metadata.name
    w = three_listed_then_watch(c, ing, created, selector, api.list_ingress_for_all_namespaces)
    annotate_and_watch(ing, name, w)
    _status_ops(c, api, ns, created)
    _delete_ops(ing, created, selector)


def _ingress_class(name: str, unique: str) -> client.V1IngressClass:
    """createIngressClass: fixed names, labelled with the run and a generic label."""
    return client.V1IngressClass(
        metadata=client.V1ObjectMeta(name=name, labels={"ingressclass": unique,
                                                         "special-label": "generic"}),
        spec=client.V1IngressClassSpec(controller="example.com/controller"))


@conformance("[sig-network] IngressClass API should support creating IngressClass API "
             "operations [Conformance]", basename="ingressclass")
def ingress_class_api(c: Ctx) -> None:
    api = client.NetworkingV1Api(c.api)
    ic = calls_of(api, "ingress_class", "V1IngressClass")
    selector = f"ingressclass={c.ns}"
    check_discovery(c, "networking.k8s.io", "v1", "ingressclasses")
    try:
        first = api.create_ingress_class(_ingress_class("ingressclass1", c.ns))
        api.create_ingress_class(_ingress_class("ingressclass2", c.ns))
        api.create_ingress_class(_ingress_class("ingressclass3", c.ns))
        assert ic.read(first.metadata.name).metadata.uid == first.metadata.uid
        listed = ic.list(label_selector="special-label=generic")
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = ic.watch(c, label_selector=selector, resource_version=listed.metadata.resource_version)
        annotate_and_watch(ic, first.metadata.name, w)
        delete_then_collection(ic, first.metadata.name, label_selector=selector)
    finally:
        ic.delete_collection(label_selector=selector)
