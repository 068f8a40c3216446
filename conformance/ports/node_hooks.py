"""Ports of the conformance tests of test/e2e/common/node/lifecycle_hook.go: postStart and
preStop hooks, exec and httpGet, each proven by a request reaching a separate logging pod.

agnhost's `netexec` becomes busybox `nc -ll -e` servers: the logging pod prints each
request line ("GET /echo?msg=poststart HTTP/1.1"), and the test pod's sidecar (a
restartable init container with a startup probe, as upstream) answers /echo and follows
/dial?host=H&port=P&request=R by fetching http://H:P/R. The exec hooks fetch with busybox
wget where agnhost's image has curl."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from kubernetes import client

from conformance.framework import Ctx, conformance, delete_pod_sync, poll
from conformance.ports.node_common import BUSYBOX, create_sync
from conformance.ports.node_init import PAUSE

H = "Container Lifecycle Hook › "
NEEDS = ("containers",)
POST_START_WAIT = 120       # postStartWaitTimeout
PRE_STOP_WAIT = 30          # preStopWaitTimeout
POD_DELETE = 300            # f.Timeouts.PodDelete
_RESPOND = r"printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'"
# the logging server: print the request line, answer 200
LOGGER = "\n".join([
    "cat > /tmp/h <<'END'", "#!/bin/sh", "read -r line", 'echo "$line"', _RESPOND, "END",
    "chmod +x /tmp/h; exec nc -ll -p 8080 -e /tmp/h"])
# the sidecar: /dial?host=..&port=..&request=.. fetches http://host:port/request
REDIRECT = "\n".join([
    "cat > /tmp/h <<'END'", "#!/bin/sh", "read -r method path rest",
    r'case "$path" in /dial\?*)',
    r'  q=${path#/dial?}; host=$(echo "$q" | sed "s/.*host=\([^&]*\).*/\1/")',
    r'  port=$(echo "$q" | sed "s/.*port=\([^&]*\).*/\1/")',
    r'  req=$(echo "$q" | sed "s/.*request=\([^&]*\).*/\1/; s/%3F/?/g; s/%3D/=/g; s/%2F/\//g")',
    '  wget -q -O - "http://$host:$port/$req" >/dev/null 2>&1;;', "esac", _RESPOND, "END",
    "chmod +x /tmp/h; exec nc -ll -p 8080 -e /tmp/h"])


def _affinity(node: str) -> client.V1Affinity:
    """e2epod.SetAffinity: required node affinity on metadata.name."""
    return client.V1Affinity(node_affinity=client.V1NodeAffinity(
        required_during_scheduling_ignored_during_execution=client.V1NodeSelector(node_selector_terms=[
            client.V1NodeSelectorTerm(match_fields=[client.V1NodeSelectorRequirement(
                key="metadata.name", operator="In", values=[node])])])))


def _ready_node(c: Ctx) -> str:
    """e2enode.GetRandomReadySchedulableNode (the first one will do)."""
    for n in c.core.list_node().items:
        if any(x.type == "Ready" and x.status == "True" for x in n.status.conditions or []) \
                and not n.spec.unschedulable:
            return str(n.metadata.name)
    raise AssertionError("no ready schedulable node")


def _logger(c: Ctx, node: str) -> Any:
    """podHandleHookRequest, created and running."""
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name="pod-handle-http-request"),
                       spec=client.V1PodSpec(affinity=_affinity(node), containers=[client.V1Container(
                           name="container-handle-http-request", image=BUSYBOX,
                           command=["/bin/sh", "-c", LOGGER],
                           ports=[client.V1ContainerPort(container_port=8080)])]))
    return create_sync(c, pod)


def _logged(c: Ctx, pattern: str, timeout: float) -> None:
    """podClient.MatchContainerOutput on the logging pod, polled every second."""
    def found() -> bool:
        logs = c.core.read_namespaced_pod_log("pod-handle-http-request", c.ns,
                                              container="container-handle-http-request")
        return pattern in logs
    poll(found, timeout, f"{pattern!r} in the logging pod's output", 1)


def run_pod_with_hook(c: Ctx, pod: client.V1Pod) -> None:
    """upstream's testPodWithHook: add the redirecting sidecar, run, delete, check."""
    sidecar = client.V1Container(
        name="container-redirect", image=BUSYBOX, command=["/bin/sh", "-c", REDIRECT],
        restart_policy="Always",
        startup_probe=client.V1Probe(http_get=client.V1HTTPGetAction(
            scheme="HTTP", path="/echo?msg=startup", port=8080)))
    pod.spec.init_containers = [sidecar, *(pod.spec.init_containers or [])]
    create_sync(c, pod)
    hooks = pod.spec.containers[0].lifecycle
    if hooks.post_start is not None:
        _logged(c, "GET /echo?msg=poststart", POST_START_WAIT)
    c.core.delete_namespaced_pod(pod.metadata.name, c.ns,
                                 body=client.V1DeleteOptions(grace_period_seconds=15))
    delete_pod_sync(c, pod.metadata.name, POD_DELETE)
    if hooks.pre_stop is not None:
        _logged(c, "GET /echo?msg=prestop", PRE_STOP_WAIT)


def _pod_with_hook(name: str, image: str, lifecycle: client.V1Lifecycle,
                   node: str | None = None) -> client.V1Pod:
    """getPodWithHook; agnhost's default `pause` becomes a shell that sleeps."""
    command = None if image == PAUSE else ["/bin/sh", "-c", "trap exit TERM; while true; do sleep 1; done"]
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        affinity=_affinity(node) if node else None,
        containers=[client.V1Container(name=name, image=image, command=command, lifecycle=lifecycle)]))


def _netexec_connect(target: str, req: str) -> str:
    return f"/dial?host={target}&port=8080&request={quote(req.lstrip('/'), safe='')}"


def _exec_hook(c: Ctx, kind: str) -> None:
    logger = _logger(c, _ready_node(c))
    msg = kind.replace("_", "")
    url = f"http://{logger.status.pod_ip}:8080/echo?msg={msg}"
    handler = client.V1LifecycleHandler(_exec=client.V1ExecAction(
        command=["sh", "-c", f"wget -q -O - '{url}'"]))
    run_pod_with_hook(c, _pod_with_hook(f"pod-with-{msg}-exec-hook", BUSYBOX,
                                        client.V1Lifecycle(**{kind: handler})))


def _http_hook(c: Ctx, kind: str) -> None:
    node = _ready_node(c)
    logger = _logger(c, node)
    msg = kind.replace("_", "")
    handler = client.V1LifecycleHandler(http_get=client.V1HTTPGetAction(
        path=_netexec_connect(logger.status.pod_ip, f"/echo?msg={msg}"), port=8080))
    run_pod_with_hook(c, _pod_with_hook(f"pod-with-{msg}-http-hook", PAUSE,
                                        client.V1Lifecycle(**{kind: handler}), node))


conformance(H + "execute poststart exec hook properly", basename="container-lifecycle-hook",
            needs=NEEDS)(lambda c: _exec_hook(c, "post_start"))
conformance(H + "execute prestop exec hook properly", basename="container-lifecycle-hook",
            needs=NEEDS)(lambda c: _exec_hook(c, "pre_stop"))
conformance(H + "execute poststart http hook properly", basename="container-lifecycle-hook",
            needs=NEEDS)(lambda c: _http_hook(c, "post_start"))
conformance(H + "execute prestop http hook properly", basename="container-lifecycle-hook",
            needs=NEEDS)(lambda c: _http_hook(c, "pre_stop"))
