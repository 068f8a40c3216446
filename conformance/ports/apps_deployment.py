"""Ports of test/e2e/apps/deployment.go (Deployment), with upstream's timeouts: 5 minutes
for a rollout (pollLongTimeout), 30 s / PodStart / 1 min for the lifecycle watches."""

from __future__ import annotations

import threading
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll, rand_suffix
from conformance.ports.apps_common import (
    AGNHOST,
    PAUSE,
    POD_START,
    SMP,
    WEBSERVER,
    WEBSERVER_NAME,
    retry_on_conflict,
    scale_roundtrip,
    status_update_and_patch,
    verify_pods_running,
)
from conformance.ports.apps_replicaset import new_rs
from conformance.watching import Watch, until

D = "[sig-apps] Deployment "
AGNHOST_NAME = "agnhost"
LONG = 300  # pollLongTimeout
REVISION = "deployment.kubernetes.io/revision"


def new_deployment(name: str, replicas: int, labels: dict[str, str], cname: str, image: str,
                   strategy: str = "RollingUpdate") -> client.V1Deployment:
    """upstream's e2edeployment.NewDeployment."""
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name, labels=dict(labels)),
        spec=client.V1DeploymentSpec(
            replicas=replicas, selector=client.V1LabelSelector(match_labels=dict(labels)),
            strategy=client.V1DeploymentStrategy(type=strategy),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=dict(labels)),
                spec=client.V1PodSpec(termination_grace_period_seconds=0, containers=[
                    client.V1Container(name=cname, image=image,
                                       security_context=client.V1SecurityContext())]))))


def owned_rs(c: Ctx, d: Any) -> list[Any]:
    return [rs for rs in c.apps.list_namespaced_replica_set(c.ns).items
            if any(o.controller and o.uid == d.metadata.uid for o in rs.metadata.owner_references or [])]


def _template_key(t: Any) -> Any:
    d = client.ApiClient().sanitize_for_serialization(t)
    (d.get("metadata") or {}).get("labels", {}).pop("pod-template-hash", None)
    return d


def new_and_old_rs(c: Ctx, d: Any) -> tuple[Any | None, list[Any]]:
    """The owned ReplicaSet whose template equals the Deployment's, and the others."""
    new, old = None, []
    want = _template_key(d.spec.template)
    for rs in owned_rs(c, d):
        if new is None and _template_key(rs.spec.template) == want:
            new = rs
        else:
            old.append(rs)
    return new, old


def wait_revision_and_image(c: Ctx, name: str, revision: str, image: str) -> None:
    def ok() -> bool:
        d = c.apps.read_namespaced_deployment(name, c.ns)
        new, _ = new_and_old_rs(c, d)
        return bool(new and (d.metadata.annotations or {}).get(REVISION) == revision
                    and (new.metadata.annotations or {}).get(REVISION) == revision
                    and d.spec.template.spec.containers[0].image == image
                    and new.spec.template.spec.containers[0].image == image)
    poll(ok, LONG, f"deployment {name} to reach revision {revision} with image {image}", 1)


def wait_complete(c: Ctx, name: str) -> Any:
    def done() -> Any:
        d = c.apps.read_namespaced_deployment(name, c.ns)
        s, want = d.status, d.spec.replicas
        ok = (s.updated_replicas == want and s.replicas == want and s.available_replicas == want
              and (s.observed_generation or 0) >= d.metadata.generation)
        return d if ok else None
    return poll(done, LONG, f"deployment {name} to complete", 1)


@conformance(D + "Deployment should have a working scale subresource [Conformance]",
             basename="deployment")
def scale_subresource(c: Ctx) -> None:
    name = "test-new-deployment"
    c.apps.create_namespaced_deployment(c.ns, new_deployment(
        name, 1, {"name": WEBSERVER_NAME}, WEBSERVER_NAME, WEBSERVER))
    wait_revision_and_image(c, name, "1", WEBSERVER)
    wait_complete(c, name)
    scale_roundtrip(c, "deployment", name, "deployment")


@conformance(D + "RollingUpdateDeployment should delete old pods and create new ones "
             "[Conformance]", basename="deployment")
def rolling_update(c: Ctx) -> None:
    rs = new_rs("test-rolling-update-controller", 1, {"name": "sample-pod", "pod": WEBSERVER_NAME},
                WEBSERVER_NAME, WEBSERVER)
    rs.metadata.annotations = {REVISION: "3546343826724305832"}
    c.apps.create_namespaced_replica_set(c.ns, rs)
    verify_pods_running(c, "sample-pod", 1)
    name = "test-rolling-update-deployment"
    c.apps.create_namespaced_deployment(c.ns, new_deployment(
        name, 1, {"name": "sample-pod"}, AGNHOST_NAME, AGNHOST))
    wait_revision_and_image(c, name, "3546343826724305833", AGNHOST)
    d = wait_complete(c, name)
    _, old = new_and_old_rs(c, d)
    assert len(old) == 1, f"expected the adopted replica set as the one old one, got {len(old)}"


@conformance(D + "RecreateDeployment should delete old pods and create new ones [Conformance]",
             basename="deployment")
def recreate(c: Ctx) -> None:
    name = "test-recreate-deployment"
    c.apps.create_namespaced_deployment(c.ns, new_deployment(
        name, 1, {"name": "sample-pod-3"}, AGNHOST_NAME, AGNHOST, strategy="Recreate"))
    wait_revision_and_image(c, name, "1", AGNHOST)
    wait_complete(c, name)

    def update() -> Any:
        d = c.apps.read_namespaced_deployment(name, c.ns)
        d.spec.template.spec.containers[0].name = WEBSERVER_NAME
        d.spec.template.spec.containers[0].image = WEBSERVER
        return c.apps.replace_namespaced_deployment(name, c.ns, d)
    d = retry_on_conflict(update)

    def check(_t: str, d: Any) -> bool:
        s = d.status
        if (s.updated_replicas or 0) > 0 and s.replicas != s.updated_replicas:
            raise AssertionError(f"deployment {name} is running new pods alongside old pods: {s}")
        return bool(d.spec.replicas == s.replicas == s.updated_replicas
                    and d.metadata.generation <= (s.observed_generation or 0))
    until(c.api, c.apps.list_namespaced_deployment, "V1Deployment", d.metadata.resource_version,
          check, 120, f"deployment {name} to complete", c.ns, field_selector=f"metadata.name={name}")


@conformance(D + "deployment should delete old replica sets [Conformance]", basename="deployment")
def delete_old_replica_sets(c: Ctx) -> None:
    c.apps.create_namespaced_replica_set(c.ns, new_rs(
        "test-cleanup-controller", 1, {"name": "cleanup-pod", "pod": WEBSERVER_NAME},
        WEBSERVER_NAME, WEBSERVER))
    verify_pods_running(c, "cleanup-pod", 1)
    rv = c.core.list_namespaced_pod(c.ns).metadata.resource_version
    errors: list[str] = []
    stop = threading.Event()
    w = Watch(c.api, c.core.list_namespaced_pod, "V1Pod", c.ns, resource_version=rv)

    def only_one_creation() -> None:
        created = 0
        while not stop.is_set():
            try:
                ev = w.next(0.5)
            except AssertionError:
                return
            if ev is None or ev[0] != "ADDED":
                continue
            created += 1
            if created > 1:
                errors.append(f"expect only one pod creation, second: {ev[1].metadata.name}")
            elif ev[1].spec.containers[0].name != AGNHOST_NAME:
                errors.append(f"created pod has container {ev[1].spec.containers[0].name}")
    t = threading.Thread(target=only_one_creation, daemon=True)
    t.start()
    try:
        d = new_deployment("test-cleanup-deployment", 1, {"name": "cleanup-pod"}, AGNHOST_NAME, AGNHOST)
        d.spec.revision_history_limit = 0
        c.apps.create_namespaced_deployment(c.ns, d)

        def cleaned() -> bool:
            dep = c.apps.read_namespaced_deployment("test-cleanup-deployment", c.ns)
            return len(new_and_old_rs(c, dep)[1]) == 0
        poll(cleaned, 300, "old replica sets to be cleaned up", 2)
    finally:
        stop.set()
        w.stop()
        t.join(5)
    assert not errors, errors[0]


def _watch_deployments(c: Ctx, rv: str, cond: Any, timeout: float, what: str) -> Any:
    return until(c.api, c.apps.list_namespaced_deployment, "V1Deployment", rv, cond, timeout,
                 what, c.ns, label_selector="test-deployment-static=true")


@conformance(D + "should run the lifecycle of a Deployment [Conformance]", basename="deployment")
def lifecycle(c: Ctx) -> None:
    name, static = "test-deployment", {"test-deployment-static": "true"}
    rv = c.apps.list_deployment_for_all_namespaces(
        label_selector="test-deployment-static=true").metadata.resource_version
    d = new_deployment(name, 2, static, name, AGNHOST)
    d.spec.template.spec.termination_grace_period_seconds = 1
    c.apps.create_namespaced_deployment(c.ns, d)

    def ours(dep: Any) -> bool:
        return bool(dep.metadata.name == name and dep.metadata.labels.get("test-deployment-static") == "true")
    _watch_deployments(c, rv, lambda t, x: t == "ADDED" and ours(x), 30, "the Deployment to be created")
    _watch_deployments(c, rv, lambda t, x: ours(x) and x.status.ready_replicas == 2, POD_START,
                       "2 ready replicas")
    patch = {"metadata": {"labels": {"test-deployment": "patched"}},
             "spec": {"replicas": 1, "template": {"spec": {
                 "terminationGracePeriodSeconds": 2, "containers": [{"name": name, "image": PAUSE}]}}}}
    c.apps.patch_namespaced_deployment(name, c.ns, patch, _content_type=SMP)
    _watch_deployments(c, rv, lambda t, x: t == "MODIFIED" and ours(x), 30, "a MODIFIED event")
    _watch_deployments(c, rv, lambda t, x: ours(x) and x.status.ready_replicas == 1
                       and x.status.updated_replicas == 1 and not x.status.unavailable_replicas
                       and x.spec.template.spec.containers[0].image == PAUSE
                       and x.spec.template.spec.termination_grace_period_seconds == 2,
                       POD_START, "the patched Deployment to scale to 1")
    found = c.apps.list_deployment_for_all_namespaces(label_selector="test-deployment-static=true").items
    assert any(x.metadata.name == name and x.metadata.namespace == c.ns for x in found), \
        "unable to find the Deployment in the list"
    # upstream updates with the object it created (no resourceVersion): an unconditional PUT
    d.metadata.labels["test-deployment"] = "updated"
    d.spec.template.spec.containers[0].image = WEBSERVER
    d.spec.replicas = 2
    c.apps.replace_namespaced_deployment(name, c.ns, d)
    _watch_deployments(c, rv, lambda t, x: t == "MODIFIED" and ours(x), 30, "a MODIFIED event")
    _check_updated(c, name)
    _watch_deployments(c, rv, lambda t, x: ours(x) and x.status.ready_replicas == 2
                       and x.status.updated_replicas == 2 and not x.status.unavailable_replicas,
                       POD_START, "2 ready updated replicas")
    c.apps.patch_namespaced_deployment_status(name, c.ns, {
        "metadata": {"labels": {"test-deployment": "patched-status"}},
        "status": {"readyReplicas": 0, "availableReplicas": 0}}, _content_type=SMP)
    _watch_deployments(c, rv, lambda t, x: t == "MODIFIED" and ours(x), 30, "a MODIFIED event")
    _check_updated(c, name)
    _watch_deployments(c, rv, lambda t, x: ours(x) and x.status.ready_replicas == 2
                       and x.status.updated_replicas == 2 and not x.status.unavailable_replicas
                       and x.spec.template.spec.containers[0].image == WEBSERVER,
                       POD_START, "2 ready replicas running the updated image")
    c.apps.delete_collection_namespaced_deployment(c.ns, grace_period_seconds=1,
                                                   label_selector="test-deployment-static=true")
    _watch_deployments(c, rv, lambda t, x: t == "DELETED" and ours(x), 60, "a DELETED event")


def _check_updated(c: Ctx, name: str) -> None:
    got = c.apps.read_namespaced_deployment_status(name, c.ns)
    assert got.spec.template.spec.containers[0].image == WEBSERVER, "failed to update image"
    assert (got.metadata.labels or {}).get("test-deployment") == "updated", \
        f"failed to update labels: {got.metadata.labels}"


@conformance(D + "should validate Deployment Status endpoints [Conformance]", basename="deployment")
def status_endpoints(c: Ctx) -> None:
    name, sel = f"test-deployment-{rand_suffix()}", "e2e=testing"
    rv = c.apps.list_deployment_for_all_namespaces(label_selector=sel).metadata.resource_version
    c.apps.create_namespaced_deployment(c.ns, new_deployment(
        name, 1, {"name": WEBSERVER_NAME, "e2e": "testing"}, WEBSERVER_NAME, WEBSERVER))
    wait_revision_and_image(c, name, "1", WEBSERVER)
    wait_complete(c, name)
    status_update_and_patch(c, "Deployment", "deployment", name, ("e2e", "testing"), rv, LONG,
                            "Deployment")
