"""Ports of test/e2e/apps/rc.go (ReplicationController): adoption, release, the scale
subresource and the lifecycle walk through one watch. The image-serving test (it dials
every replica through the API server's pod proxy) and the quota-condition test (stretch)
are not ported here."""

from __future__ import annotations

from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, poll, rand_suffix
from conformance.images import build as images
from conformance.ports.apps_common import (
    POD_START,
    SMP,
    WEBSERVER,
    WEBSERVER_NAME,
    adopt_orphan,
    release_pod,
    serve_hostname_test,
)
from conformance.watching import Watch

R = "[sig-apps] ReplicationController "
BASENAME = "replication-controller"
MODEL = "V1ReplicationController"


def new_rc(name: str, replicas: int, labels: dict[str, str], cname: str, image: str,
           args: list[str] | None = None) -> client.V1ReplicationController:
    """upstream's newRC: no selector (the server defaults it from the template labels)."""
    return client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1ReplicationControllerSpec(replicas=replicas, template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels=labels),
            spec=client.V1PodSpec(termination_grace_period_seconds=0, containers=[
                client.V1Container(name=cname, image=image, args=args)]))))


def pods_created(c: Ctx, name: str, replicas: int, timeout: float = 120) -> list[Any]:
    """upstream's e2epod.PodsCreated: `replicas` live pods labelled name=<name> exist."""
    def created() -> list[Any] | None:
        pods = [p for p in c.core.list_namespaced_pod(c.ns, label_selector=f"name={name}").items
                if p.metadata.deletion_timestamp is None]
        return pods if len(pods) == replicas else None
    return poll(created, timeout, f"{replicas} pods named {name} to be created", 2)  # type: ignore[no-any-return]



@conformance(R + "should adopt matching pods on creation [Conformance]", basename=BASENAME)
def adopt(c: Ctx) -> None:
    name = "pod-adoption"
    spec = new_rc(name, 1, {"name": name}, name, WEBSERVER)
    spec.spec.selector = {"name": name}
    adopt_orphan(c, name, lambda: c.core.create_namespaced_replication_controller(c.ns, spec))


@conformance(R + "should release no longer matching pods [Conformance]", basename=BASENAME)
def release(c: Ctx) -> None:
    name = "pod-release"
    spec = new_rc(name, 1, {"name": name}, name, WEBSERVER)
    spec.spec.selector = {"name": name}
    rc = c.core.create_namespaced_replication_controller(c.ns, spec)
    pod_name = pods_created(c, name, 1)[0].metadata.name
    release_pod(c, pod_name, rc.metadata.uid)


def _status_replicas(c: Ctx, name: str, want: int) -> None:
    """upstream's checkReplicationControllerStatusReplicaCount, polled for a minute."""
    poll(lambda: (c.core.read_namespaced_replication_controller(name, c.ns).status.replicas
                  or 0) == want, 60, f"{want} replicas in the status of {name}", 1)


@conformance(R + "should get and update a ReplicationController scale [Conformance]",
             basename=BASENAME)
def scale(c: Ctx) -> None:
    name = "e2e-rc-" + rand_suffix()
    c.core.create_namespaced_replication_controller(
        c.ns, new_rc(name, 1, {"name": name}, WEBSERVER_NAME, WEBSERVER))
    _status_replicas(c, name, 1)
    sc = c.core.read_namespaced_replication_controller_scale(name, c.ns)
    assert sc.status.replicas == 1, f"failed to get the current replica count: {sc.status}"
    sc.metadata.resource_version = None  # an unconditional update
    sc.spec.replicas = 2
    c.core.replace_namespaced_replication_controller_scale(name, c.ns, sc)
    _status_replicas(c, name, 2)


def _next(w: Watch, cond: Callable[[str, Any], bool], timeout: float, what: str) -> Any:
    """upstream's watchUntilWithoutRetry with one condition: events are read (and those
    that do not match skipped) until one satisfies cond, on the same watch throughout."""
    ev = w.wait_for_match(cond, timeout)
    if ev is None:
        raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
    return ev[1]


def _typed(etype: str) -> Callable[[str, Any], bool]:
    return lambda t, _o: t == etype


@conformance(R + "should test the lifecycle of a ReplicationController [Conformance]",
             basename=BASENAME)
def lifecycle(c: Ctx) -> None:
    name, sel, ns = "rc-test", "test-rc-static=true", c.ns
    labels = {"test-rc-static": "true"}
    rc = client.V1ReplicationController(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1ReplicationControllerSpec(replicas=1, selector=labels,
                                                template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(name=name, labels=labels),
            spec=client.V1PodSpec(containers=[client.V1Container(name=name, image=images.NGINX)]))))
    rv = c.core.list_namespaced_replication_controller(ns, label_selector=sel).metadata.resource_version
    seen: list[str] = []  # upstream's WatchEventSequenceVerifier compares these at the end
    try:
        with Watch(c.api, c.core.list_namespaced_replication_controller, MODEL, ns,
                   label_selector=sel, resource_version=rv) as w:
            _walk(c, w, rc, seen)
    finally:
        c.core.delete_collection_namespaced_replication_controller(ns, label_selector=sel)
    want = ["ADDED", "MODIFIED", "MODIFIED", "MODIFIED", "MODIFIED", "DELETED"]
    assert seen == want, f"watch events: {seen}, expected {want}"


def _ready(obj: Any, n: int) -> bool:
    st = obj.status
    return (st.replicas or 0) == n and (st.ready_replicas or 0) == n


def _walk(c: Ctx, w: Watch, rc: client.V1ReplicationController, seen: list[str]) -> None:
    core, ns, name = c.core, c.ns, rc.metadata.name

    def expect(etype: str, timeout: float = 60) -> None:
        _next(w, _typed(etype), timeout, f"a {etype} event of RC {name}")
        seen.append(etype)

    core.create_namespaced_replication_controller(ns, rc)
    expect("ADDED")
    _next(w, lambda t, o: t != "ERROR" and _ready(o, 1), POD_START, "RC to have 1 ready replica")
    patched = core.patch_namespaced_replication_controller(
        name, ns, {"metadata": {"labels": {"test-rc": "patched"}}}, _content_type=SMP)
    assert (patched.metadata.labels or {}).get("test-rc") == "patched", "failed to patch RC"
    expect("MODIFIED")
    st = core.patch_namespaced_replication_controller_status(
        name, ns, {"status": {"readyReplicas": 0, "availableReplicas": 0}}, _content_type=SMP)
    assert (st.status.ready_replicas or 0) == 0, "the status patch did not set readyReplicas to 0"
    expect("MODIFIED")
    _next(w, lambda t, o: t != "ERROR" and (o.status.replicas or 0) == 1, POD_START,
          "the RC's replica count to be 1")
    got = core.read_namespaced_replication_controller_status(name, ns)
    assert got.status.replicas == 1, f"status replicas {got.status.replicas}, expected 1"
    core.patch_namespaced_replication_controller_scale(name, ns, {"spec": {"replicas": 2}},
                                                       _content_type=SMP)
    expect("MODIFIED", POD_START)
    _next(w, lambda t, o: t != "ERROR" and o.metadata.name == name and o.metadata.namespace == ns
          and _ready(o, 2), POD_START, "the RC to have 2 ready replicas")
    cur = core.read_namespaced_replication_controller(name, ns)
    assert (cur.metadata.labels or {}).get("test-rc") == "patched", \
        "ReplicationController is missing a label from earlier patch"
    cur.status.available_replicas = 1
    cur.status.ready_replicas = 1
    core.replace_namespaced_replication_controller_status(name, ns, cur)
    expect("MODIFIED")
    rcs = core.list_replication_controller_for_all_namespaces(label_selector="test-rc-static=true")
    assert any(i.metadata.name == name and i.metadata.namespace == ns
               and (i.metadata.labels or {}).get("test-rc") == "patched" for i in rcs.items), \
        f"ReplicationController doesn't have expected values: {[i.metadata for i in rcs.items]}"
    core.delete_collection_namespaced_replication_controller(ns, label_selector="test-rc-static=true")
    expect("DELETED")


@conformance(R + "should serve a basic image on each replica with a public image [Conformance]",
             basename=BASENAME, needs=("containers",))
def serve_image(c: Ctx) -> None:
    def create(name: str, tmpl: client.V1PodTemplateSpec) -> None:
        c.core.create_namespaced_replication_controller(c.ns, client.V1ReplicationController(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ReplicationControllerSpec(replicas=1, template=tmpl)))
    serve_hostname_test(c, create)
