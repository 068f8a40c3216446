"""Helpers shared by the sig-apps ports: upstream's images, pod waits and object makers."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, poll, read_or_none
from conformance.images import build as images
from conformance.watching import until

WEBSERVER_NAME = "httpd"
WEBSERVER = images.HTTPD
AGNHOST = images.AGNHOST
PAUSE = images.PAUSE
POD_START = 300  # f.Timeouts.PodStart
SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def pod_template(labels: dict[str, str], name: str, image: str,
                 args: list[str] | None = None) -> client.V1PodTemplateSpec:
    return client.V1PodTemplateSpec(
        metadata=client.V1ObjectMeta(labels=labels),
        spec=client.V1PodSpec(termination_grace_period_seconds=0, containers=[
            client.V1Container(name=name, image=image, args=args)]))


def verify_pods_running(c: Ctx, name: str, replicas: int, timeout: float = POD_START) -> list[Any]:
    """upstream's VerifyPodsRunning: `replicas` pods labelled name=<name> exist and run."""
    def running() -> list[Any] | None:
        pods = [p for p in c.core.list_namespaced_pod(c.ns, label_selector=f"name={name}").items
                if p.metadata.deletion_timestamp is None]
        if len(pods) == replicas and all(p.status.phase == "Running" for p in pods):
            return pods
        return None
    return poll(running, timeout, f"{replicas} running pods named {name}", 1)  # type: ignore[no-any-return]


def create_pod_sync(c: Ctx, pod: client.V1Pod) -> Any:
    """upstream's PodClient.CreateSync: create, then wait for Running."""
    p = c.core.create_namespaced_pod(c.ns, pod)
    poll(lambda: c.core.read_namespaced_pod(p.metadata.name, c.ns).status.phase == "Running",
         POD_START, f"pod {p.metadata.name} to be running", 1)
    return c.core.read_namespaced_pod(p.metadata.name, c.ns)


def retry_on_conflict(fn: Callable[[], Any], steps: int = 5) -> Any:
    """fn until it does not answer 409 Conflict (client-go's retry.DefaultRetry: 5 steps,
    10 ms apart with 10% jitter)."""
    for _ in range(steps):
        try:
            return fn()
        except ApiException as e:
            if e.status != 409:
                raise
        time.sleep(0.01 * (1 + 0.1 * random.random()))
    raise AssertionError("kept conflicting")


def has_condition(conds: list[Any] | None, ctype: str, reason: str | None = None,
                  message: str | None = None) -> bool:
    return any(c.type == ctype and (reason is None or c.reason == reason)
               and (message is None or c.message == message) for c in conds or [])


def status_update_and_patch(c: Ctx, kind: str, api: str, name: str, label: tuple[str, str],
                            rv: str, timeout: float, what: str) -> None:
    """The second half of upstream's "Status endpoints" tests of a workload `kind`
    (DaemonSet, StatefulSet, Deployment; `api` its name in AppsV1Api's methods): read the
    status, add a condition with an update of the status (retried on conflict) and
    another with a merge patch, each seen by a watch from `rv` on the `label` selector."""
    apps = c.apps
    getattr(apps, f"read_namespaced_{api}_status")(name, c.ns)

    def update() -> Any:
        cur = getattr(apps, f"read_namespaced_{api}")(name, c.ns)
        cur.status.conditions = (cur.status.conditions or []) + [
            getattr(client, f"V1{kind}Condition")(type="StatusUpdate", status="True",
                                                  reason="E2E", message="Set from e2e test")]
        return getattr(apps, f"replace_namespaced_{api}_status")(name, c.ns, cur)
    retry_on_conflict(update)

    def has(x: Any, ctype: str, reason: str | None = None) -> bool:
        return bool(x.metadata.name == name and x.metadata.namespace == c.ns
                    and (x.metadata.labels or {}).get(label[0]) == label[1]
                    and any(k.type == ctype and (reason is None or (k.reason == reason and
                            k.message == "Set from e2e test")) for k in x.status.conditions or []))
    sel, list_fn = f"{label[0]}={label[1]}", getattr(apps, f"list_namespaced_{api}")
    until(c.api, list_fn, f"V1{kind}", rv, lambda _t, x: has(x, "StatusUpdate", "E2E"), timeout,
          f"the {what} status to be updated", c.ns, label_selector=sel)
    getattr(apps, f"patch_namespaced_{api}_status")(
        name, c.ns, {"status": {"conditions": [{"type": "StatusPatched", "status": "True"}]}},
        _content_type=MERGE)
    until(c.api, list_fn, f"V1{kind}", rv, lambda _t, x: has(x, "StatusPatched"), timeout,
          f"the {what} status to be patched", c.ns, label_selector=sel)


def scale_roundtrip(c: Ctx, api: str, name: str, what: str) -> None:
    """upstream's "working scale subresource" checks on a workload at 1 replica (`api`
    its name in AppsV1Api's methods): the scale reads 1, a replace of it to 2 and a
    strategic-merge patch of it to 4 reach the object's spec."""
    scale = getattr(c.apps, f"read_namespaced_{api}_scale")(name, c.ns)
    assert scale.spec.replicas == 1 and scale.status.replicas == 1, scale
    scale.metadata.resource_version = None
    scale.spec.replicas = 2
    assert getattr(c.apps, f"replace_namespaced_{api}_scale")(name, c.ns, scale).spec.replicas == 2
    assert getattr(c.apps, f"read_namespaced_{api}")(name, c.ns).spec.replicas == 2
    getattr(c.apps, f"patch_namespaced_{api}_scale")(name, c.ns, {"spec": {"replicas": 4}},
                                                     _content_type=SMP)
    got = getattr(c.apps, f"read_namespaced_{api}")(name, c.ns).spec.replicas
    assert got == 4, f"{what} should have 4 replicas, has {got}"


def serve_hostname_test(c: Ctx, create: Callable[[str, client.V1PodTemplateSpec], Any]) -> None:
    """upstream's Test{ReplicationController,ReplicaSet}ServeImageOrFail: one replica of
    agnhost serve-hostname (port 9376) made by create(name, template); its pod runs and,
    dialled through the API server's pod proxy (its first container port), answers its
    own name within 2 minutes (WaitForPodsResponding)."""
    name = f"my-hostname-basic-{uuid.uuid4()}"
    tmpl = pod_template({"name": name}, name, AGNHOST, ["serve-hostname"])
    tmpl.spec.containers[0].ports = [client.V1ContainerPort(container_port=9376)]
    create(name, tmpl)

    def created() -> list[Any] | None:
        pods = [p for p in c.core.list_namespaced_pod(c.ns, label_selector=f"name={name}").items
                if p.metadata.deletion_timestamp is None]
        return pods if len(pods) == 1 else None
    pods = poll(created, 120, f"1 pod named {name} to be created", 2)
    for p in pods:
        pod_name = p.metadata.name
        poll(lambda n=pod_name: c.core.read_namespaced_pod(n, c.ns).status.phase == "Running",
             POD_START, f"pod {pod_name} to be running", 2)

    def responding() -> bool:
        for p in pods:
            try:
                body = c.core.connect_get_namespaced_pod_proxy(p.metadata.name, c.ns)
            except ApiException:
                return False
            if str(body).strip() != p.metadata.name:
                return False
        return True
    poll(responding, 120, "every pod to answer its name through the pod proxy", 2)


def controlled_by(obj: Any, uid: str) -> bool:
    return any(o.controller and o.uid == uid for o in obj.metadata.owner_references or [])


def release_pod(c: Ctx, pod_name: str, owner_uid: str) -> None:
    """The adoption tests' second half: relabel the pod out of its controller's selector
    (retrying conflicts, as upstream polls for a minute), then wait a minute for the
    controller to release it."""
    def relabel() -> Any:
        pod = c.core.read_namespaced_pod(pod_name, c.ns)
        pod.metadata.labels = {"name": "not-matching-name"}
        return c.core.replace_namespaced_pod(pod_name, c.ns, pod)
    retry_on_conflict(relabel, steps=60)
    poll(lambda: not controlled_by(c.core.read_namespaced_pod(pod_name, c.ns), owner_uid),
         60, "the pod to be released", 1)


def adopt_orphan(c: Ctx, name: str, create_owner: Callable[[], Any]) -> Any:
    """The adoption tests' first half: a running pod labelled name=<name> and no owner,
    then the controller create_owner() makes (returned); within a minute the pod is
    adopted by it, or deleted and replaced (both allowed)."""
    p = create_pod_sync(c, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"name": name}),
        spec=client.V1PodSpec(containers=[client.V1Container(name=name, image=WEBSERVER)])))
    owner = create_owner()

    def adopted() -> bool:
        pod = read_or_none(lambda: c.core.read_namespaced_pod(p.metadata.name, c.ns))
        return pod is None or controlled_by(pod, owner.metadata.uid)
    poll(adopted, 60, "the orphan pod to be adopted", 1)
    return owner
