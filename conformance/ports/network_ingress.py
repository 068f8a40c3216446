"""Ports of the API tests of test/e2e/network/ingress.go and ingressclass.go: Ingress and
IngressClass CRUD, watch, deletecollection and the Ingress /status subresource (no
ingress controller is needed)."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error
from conformance.ports.api_groups import (
    annotations,
    check_discovery,
    expect_patched_modified,
    networking,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import retry_on_conflict
from conformance.watching import Watch


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


def _delete_ops(api: client.NetworkingV1Api, ns: str, created: Any, selector: str) -> None:
    name = created.metadata.name
    api.delete_namespaced_ingress(name, ns)
    try:  # an ingress controller with finalizers keeps it; otherwise it is gone
        _expect_finalizer(api.read_namespaced_ingress(name, ns), "deleting createdIngress")
    except client.ApiException as e:
        assert e.status == 404, f"expected 404, got {e.status}"
    items = api.list_namespaced_ingress(ns, label_selector=selector).items
    assert len(items) <= 3, "filtered list should have <= 3 items"
    for ing in items:
        if ing.metadata.name == name:
            _expect_finalizer(ing, "listing after deleting createdIngress")
    api.delete_collection_namespaced_ingress(ns, label_selector=selector)
    items = api.list_namespaced_ingress(ns, label_selector=selector).items
    assert len(items) <= 3, "filtered list should have <= 3 items"
    for ing in items:
        _expect_finalizer(ing, "deleting ingress collection")


@conformance("[sig-network] Ingress API should support creating Ingress API operations "
             "[Conformance]", basename="ingress")
def ingress_api(c: Ctx) -> None:
    ns, unique, api = c.ns, c.ns, networking(c)
    selector = f"special-label={unique}"
    check_discovery(c, "networking.k8s.io", "v1", "ingresses")
    api.create_namespaced_ingress(ns, _ingress(unique, "host1.bar.com"))
    api.create_namespaced_ingress(ns, _ingress(unique, "host2.bar.com"))
    created = api.create_namespaced_ingress(ns, _ingress(unique, "host3.bar.com"))
    name = created.metadata.name
    assert api.read_namespaced_ingress(name, ns).metadata.uid == created.metadata.uid
    listed = api.list_namespaced_ingress(ns, label_selector=selector)
    assert len(listed.items) == 3, "filtered list should have 3 items"
    rv = listed.metadata.resource_version
    w = Watch(c.api, api.list_namespaced_ingress, "V1Ingress", ns, label_selector=selector,
              resource_version=rv)
    cluster = api.list_ingress_for_all_namespaces(label_selector=selector)
    assert len(cluster.items) == 3, "filtered list should have 3 items"
    Watch(c.api, api.list_ingress_for_all_namespaces, "V1Ingress", label_selector=selector,
          resource_version=rv).stop()
    try:
        patched = api.patch_namespaced_ingress(name, ns, {"metadata": {"annotations": {
            "patched": "true"}}})
        assert annotations(patched).get("patched") == "true", \
            "patched object should have the applied annotation"

        def update() -> Any:
            ing = api.read_namespaced_ingress(name, ns)
            ing.metadata.annotations["updated"] = "true"
            return api.replace_namespaced_ingress(name, ns, ing)
        assert annotations(retry_on_conflict(update)).get("updated") == "true", \
            "updated object should have the applied annotation"
        expect_patched_modified(w)
    finally:
        w.stop()
    _status_ops(c, api, ns, created)
    _delete_ops(api, ns, created, selector)


def _ingress_class(name: str, unique: str) -> client.V1IngressClass:
    """createIngressClass: fixed names, labelled with the run and a generic label."""
    return client.V1IngressClass(
        metadata=client.V1ObjectMeta(name=name, labels={"ingressclass": unique,
                                                         "special-label": "generic"}),
        spec=client.V1IngressClassSpec(controller="example.com/controller"))


@conformance("[sig-network] IngressClass API should support creating IngressClass API "
             "operations [Conformance]", basename="ingressclass")
def ingress_class_api(c: Ctx) -> None:
    api, unique = networking(c), c.ns
    selector = f"ingressclass={unique}"
    check_discovery(c, "networking.k8s.io", "v1", "ingressclasses")
    try:
        first = api.create_ingress_class(_ingress_class("ingressclass1", unique))
        api.create_ingress_class(_ingress_class("ingressclass2", unique))
        api.create_ingress_class(_ingress_class("ingressclass3", unique))
        assert api.read_ingress_class(first.metadata.name).metadata.uid == first.metadata.uid
        listed = api.list_ingress_class(label_selector="special-label=generic")
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = Watch(c.api, api.list_ingress_class, "V1IngressClass", label_selector=selector,
                  resource_version=listed.metadata.resource_version)
        try:
            patched = api.patch_ingress_class(first.metadata.name, {"metadata": {
                "annotations": {"patched": "true"}}})
            assert annotations(patched).get("patched") == "true", \
                "patched object should have the applied annotation"
            to_update = copy.deepcopy(patched)
            to_update.metadata.annotations["updated"] = "true"
            updated = api.replace_ingress_class(first.metadata.name, to_update)
            assert annotations(updated).get("updated") == "true", \
                "updated object should have the applied annotation"
            expect_patched_modified(w)
        finally:
            w.stop()
        api.delete_ingress_class(first.metadata.name)
        expect_api_error(lambda: api.read_ingress_class(first.metadata.name), 404)
        assert len(api.list_ingress_class(label_selector=selector).items) == 2, \
            "filtered list should have 2 items"
        api.delete_collection_ingress_class(label_selector=selector)
        assert not api.list_ingress_class(label_selector=selector).items, \
            "filtered list should have 0 items"
    finally:
        api.delete_collection_ingress_class(label_selector=selector)
