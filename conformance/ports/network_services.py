"""Ports of the API-only core tests of test/e2e/network/service.go (Services): the
`kubernetes` Service in a list across namespaces, the status subresource lifecycle and
deletecollection. The Service tests that reach pods through the Service (basic and
multiport endpoints, which need an exec pod and the service proxy) are not ported here."""

from __future__ import annotations

from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, rand_suffix
from conformance.ports.apps_common import MERGE, SMP, retry_on_conflict
from conformance.watching import until

BASENAME = "services"
SVC_READY = 60  # svcReadyTimeout


@conformance("Services › find a service from listing all namespaces", basename=BASENAME)
def find_in_all_namespaces(c: Ctx) -> None:
    svcs = c.core.list_service_for_all_namespaces().items
    assert any(s.metadata.name == "kubernetes" and s.metadata.namespace == "default" for s in svcs), \
        "could not find service 'kubernetes' in service list in all namespaces"


@conformance("Services › complete a service status lifecycle", basename=BASENAME)
def status_lifecycle(c: Ctx) -> None:
    ns, core = c.ns, c.core
    name, sel = "test-service-" + rand_suffix(), "test-service-static=true"
    rv = core.list_service_for_all_namespaces(label_selector=sel).metadata.resource_version

    def watch_for(what: str, cond: Callable[[str, Any], bool]) -> None:
        # each wait replays from the first list's resourceVersion, as upstream's do
        until(c.api, core.list_namespaced_service, "V1Service", rv,
              lambda t, s: s.metadata.name == name and s.metadata.namespace == ns and cond(t, s),
              SVC_READY, what, ns, label_selector=sel)

    core.create_namespaced_service(ns, client.V1Service(
        metadata=client.V1ObjectMeta(name=name, labels={"test-service-static": "true"}),
        spec=client.V1ServiceSpec(type="LoadBalancer", load_balancer_class="example.com/internal-vip",
                                  ports=[client.V1ServicePort(name="http", protocol="TCP", port=80,
                                                              target_port=80)])))
    watch_for("the Service to be added",
              lambda _t, s: (s.metadata.labels or {}).get("test-service-static") == "true")
    core.read_namespaced_service_status(name, ns)
    core.patch_namespaced_service_status(name, ns, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}}, _content_type=MERGE)
    watch_for("the Service status to be patched", lambda _t, s: _patched(s))

    def add_condition() -> Any:
        svc = core.read_namespaced_service(name, ns)
        svc.status.conditions = (svc.status.conditions or []) + [client.V1Condition(
            type="StatusUpdate", status="True", reason="E2E", message="Set from e2e test",
            last_transition_time=svc.metadata.creation_timestamp)]
        return core.replace_namespaced_service_status(name, ns, svc)
    retry_on_conflict(add_condition)
    watch_for("the Service status to be updated", lambda _t, s: _patched(s) and _first_is_e2e(s))
    core.patch_namespaced_service(name, ns, {"metadata": {"labels": {"test-service": "patched"}}},
                                  _content_type=SMP)
    watch_for("the Service to be patched",
              lambda _t, s: (s.metadata.labels or {}).get("test-service") == "patched")
    core.delete_namespaced_service(name, ns)
    watch_for("the Service to be deleted", lambda t, s: t == "DELETED" and
              (s.metadata.labels or {}).get("test-service-static") == "true")


def _patched(svc: Any) -> bool:
    return (svc.metadata.annotations or {}).get("patchedstatus") == "true"


def _first_is_e2e(svc: Any) -> bool:
    """upstream's check looks at the first condition only."""
    conds = svc.status.conditions or []
    return bool(conds) and (conds[0].type, conds[0].reason, conds[0].message) == (
        "StatusUpdate", "E2E", "Set from e2e test")


@conformance("Services › delete a collection of services", basename=BASENAME)
def delete_collection(c: Ctx) -> None:
    for prefix, label, port in (("e2e-svc-a-", "delete", 8001), ("e2e-svc-b-", "delete", 8002),
                                ("e2e-svc-c-", "keep", 8003)):
        c.core.create_namespaced_service(c.ns, client.V1Service(
            metadata=client.V1ObjectMeta(name=prefix + rand_suffix(),
                                         labels={"e2e-test-service": label}),
            spec=client.V1ServiceSpec(type="ClusterIP", ports=[client.V1ServicePort(
                name="http", protocol="TCP", port=port, target_port=port)])))
    n = len(c.core.list_namespaced_service(c.ns).items)
    assert n == 3, f"Required count of services out of sync: {n}"
    c.core.delete_collection_namespaced_service(c.ns, label_selector="e2e-test-service=delete")
    n = len(c.core.list_namespaced_service(c.ns).items)
    assert n == 1, f"Required count of services out of sync: {n}"
