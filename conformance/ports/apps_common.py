"""Helpers shared by the sig-apps ports: upstream's images, pod waits and object makers."""

from __future__ import annotations

from typing import Any, Callable

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, poll
from conformance.images import build as images

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
    """fn until it does not answer 409 Conflict (client-go's retry.DefaultRetry: 5 steps)."""
    for _ in range(steps):
        try:
            return fn()
        except ApiException as e:
            if e.status != 409:
                raise
    raise AssertionError("kept conflicting")


def has_condition(conds: list[Any] | None, ctype: str, reason: str | None = None,
                  message: str | None = None) -> bool:
    return any(c.type == ctype and (reason is None or c.reason == reason)
               and (message is None or c.message == message) for c in conds or [])
