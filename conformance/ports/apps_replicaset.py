"""Ports of test/e2e/apps/replica_set.go (ReplicaSet)."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, rand_suffix
from conformance.ports.apps_common import (
    MERGE,
    PAUSE,
    POD_START,
    SMP,
    WEBSERVER,
    WEBSERVER_NAME,
    adopt_orphan,
    has_condition,
    pod_template,
    release_pod,
    retry_on_conflict,
    serve_hostname_test,
    verify_pods_running,
)
from conformance.watching import until

R = "[sig-apps] ReplicaSet "
RS_RETRY = 120  # rsRetryTimeout
SAMPLE = {"name": "sample-pod", "pod": WEBSERVER_NAME}


def new_rs(name: str, replicas: int, labels: dict[str, str], cname: str, image: str,
           args: list[str] | None = None) -> client.V1ReplicaSet:
    return client.V1ReplicaSet(
        metadata=client.V1ObjectMeta(name=name, labels=labels),
        spec=client.V1ReplicaSetSpec(selector=client.V1LabelSelector(match_labels=labels),
                                     replicas=replicas,
                                     template=pod_template(labels, cname, image, args)))


@conformance(R + "should adopt matching pods on creation and release no longer matching pods "
             "[Conformance]", basename="replicaset")
def adopt_release(c: Ctx) -> None:
    name = "pod-adoption-release"
    rs = adopt_orphan(c, name, lambda: c.apps.create_namespaced_replica_set(
        c.ns, new_rs(name, 1, {"name": name}, name, WEBSERVER)))
    pods = verify_pods_running(c, name, 1)
    pod_name = pods[0].metadata.name
    release_pod(c, pod_name, rs.metadata.uid)


@conformance(R + "Replicaset should have a working scale subresource [Conformance]",
             basename="replicaset")
def scale_subresource(c: Ctx) -> None:
    c.apps.create_namespaced_replica_set(c.ns, new_rs("test-rs", 1, SAMPLE, WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, "sample-pod", 1)
    scale = c.apps.read_namespaced_replica_set_scale("test-rs", c.ns)
    assert scale.spec.replicas == 1 and scale.status.replicas == 1, scale
    scale.metadata.resource_version = None  # unconditional update
    scale.spec.replicas = 2
    res = c.apps.replace_namespaced_replica_set_scale("test-rs", c.ns, scale)
    assert res.spec.replicas == 2, res
    assert c.apps.read_namespaced_replica_set("test-rs", c.ns).spec.replicas == 2
    c.apps.patch_namespaced_replica_set_scale("test-rs", c.ns, {"spec": {"replicas": 4}},
                                              _content_type=SMP)
    got = c.apps.read_namespaced_replica_set("test-rs", c.ns).spec.replicas
    assert got == 4, f"replicaset should have 4 replicas, has {got}"


@conformance(R + "Replace and Patch tests [Conformance]", basename="replicaset")
def replace_and_patch(c: Ctx) -> None:
    rv = c.apps.list_replica_set_for_all_namespaces(label_selector="test-rs=patched").metadata.resource_version
    c.apps.create_namespaced_replica_set(c.ns, new_rs("test-rs", 1, SAMPLE, WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, "sample-pod", 1)

    def scale_up() -> Any:
        rs = c.apps.read_namespaced_replica_set("test-rs", c.ns)
        rs.spec.replicas = 2
        return c.apps.replace_namespaced_replica_set("test-rs", c.ns, rs)
    retry_on_conflict(scale_up)
    patch = {"metadata": {"labels": {"test-rs": "patched"}},
             "spec": {"replicas": 3, "template": {"spec": {
                 "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "test-rs", "image": PAUSE}]}}}}
    c.apps.patch_namespaced_replica_set("test-rs", c.ns, patch, _content_type=SMP)

    def done(_t: str, rs: Any) -> bool:
        return bool(rs.metadata.name == "test-rs" and (rs.metadata.labels or {}).get("test-rs") == "patched"
                    and rs.status.ready_replicas == 3 and rs.status.available_replicas == 3
                    and rs.spec.template.spec.containers[0].image == PAUSE
                    and rs.spec.template.spec.termination_grace_period_seconds == 0)
    until(c.api, c.apps.list_namespaced_replica_set, "V1ReplicaSet", rv, done, POD_START,
          "the replicaset to scale to 3 patched replicas", c.ns, label_selector="test-rs=patched")


@conformance(R + "should list and delete a collection of ReplicaSets [Conformance]",
             basename="replicaset")
def list_delete_collection(c: Ctx) -> None:
    value = rand_suffix()
    labels = {**SAMPLE, "e2e": value}
    c.apps.create_namespaced_replica_set(c.ns, new_rs("test-rs", 3, labels, WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, "sample-pod", 3)
    c.apps.read_namespaced_replica_set("test-rs", c.ns)
    found = c.apps.list_replica_set_for_all_namespaces(label_selector=f"e2e={value}").items
    assert len(found) == 1, f"filtered list wasn't found: {len(found)}"
    c.apps.delete_collection_namespaced_replica_set(c.ns, label_selector=f"e2e={value}",
                                                    grace_period_seconds=1)
    left = c.apps.list_replica_set_for_all_namespaces(label_selector=f"e2e={value}").items
    assert not left, "filtered list should have no replicas"


@conformance(R + "should validate Replicaset Status endpoints [Conformance]", basename="replicaset")
def status_endpoints(c: Ctx) -> None:
    sel = ",".join(f"{k}={v}" for k, v in sorted(SAMPLE.items()))
    rv = c.apps.list_replica_set_for_all_namespaces(label_selector=sel).metadata.resource_version
    test = c.apps.create_namespaced_replica_set(c.ns, new_rs("test-rs", 1, SAMPLE, WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, "sample-pod", 1)
    c.apps.read_namespaced_replica_set_status("test-rs", c.ns)

    def update() -> Any:
        rs = c.apps.read_namespaced_replica_set("test-rs", c.ns)
        rs.status.conditions = (rs.status.conditions or []) + [client.V1ReplicaSetCondition(
            type="StatusUpdate", status="True", reason="E2E", message="Set from e2e test")]
        return c.apps.replace_namespaced_replica_set_status("test-rs", c.ns, rs)
    retry_on_conflict(update)

    def ours(rs: Any) -> bool:
        return bool(rs.metadata.name == test.metadata.name and rs.metadata.namespace == c.ns
                    and rs.metadata.labels.get("name") == "sample-pod"
                    and rs.metadata.labels.get("pod") == WEBSERVER_NAME)
    until(c.api, c.apps.list_namespaced_replica_set, "V1ReplicaSet", rv,
          lambda _t, rs: ours(rs) and has_condition(rs.status.conditions, "StatusUpdate", "E2E",
                                                    "Set from e2e test"),
          RS_RETRY, "the replicaset status to be updated", c.ns, label_selector=sel)
    c.apps.patch_namespaced_replica_set_status(
        "test-rs", c.ns, {"status": {"conditions": [{"type": "StatusPatched", "status": "True"}]}},
        _content_type=MERGE)
    until(c.api, c.apps.list_namespaced_replica_set, "V1ReplicaSet", rv,
          lambda _t, rs: ours(rs) and has_condition(rs.status.conditions, "StatusPatched"),
          RS_RETRY, "the replicaset status to be patched", c.ns, label_selector=sel)


@conformance(R + "should serve a basic image on each replica with a public image [Conformance]",
             basename="replicaset", needs=("containers",))
def serve_image(c: Ctx) -> None:
    def create(name: str, tmpl: client.V1PodTemplateSpec) -> None:
        c.apps.create_namespaced_replica_set(c.ns, client.V1ReplicaSet(
            metadata=client.V1ObjectMeta(name=name),
            spec=client.V1ReplicaSetSpec(replicas=1, template=tmpl,
                                         selector=client.V1LabelSelector(match_labels={"name": name}))))
    serve_hostname_test(c, create)
