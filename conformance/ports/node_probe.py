"""Ports of the conformance tests of test/e2e/common/node/container_probe.go: readiness
and liveness probes (exec, httpGet, tcpSocket) and the restart counts they cause.

agnhost's `test-webserver` (HTTP 200 on / at port 80) becomes busybox's httpd serving
an index page; agnhost's `liveness` (port 8080, /healthz answers 200 for 10 s, then
an error) becomes busybox httpd serving /healthz as a file that is removed after 10 s
(404 afterwards, an error to the probe as 500 is)."""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client

from conformance.framework import POD_START, Ctx, conformance, poll
from conformance.ports.node_common import BUSYBOX, uid

P = "Probing container › "
INITIAL_DELAY = 15          # probeTestInitialDelaySeconds
OBSERVATION = 240           # defaultObservationTimeout
NEEDS = ("containers",)
WEBSERVER = "mkdir -p /www && echo 'It works!' > /www/index.html && exec httpd -f -p 80 -h /www"
LIVENESS = ("mkdir -p /www && echo ok > /www/healthz && httpd -p 8080 -h /www && "
            "sleep 10 && rm /www/healthz && exec sleep 3600")


def _http(path: str, port: int) -> dict[str, Any]:
    return {"http_get": client.V1HTTPGetAction(path=path, port=port)}


def _exec(cmd: list[str]) -> dict[str, Any]:
    return {"_exec": client.V1ExecAction(command=cmd)}


def _tcp(port: int) -> dict[str, Any]:
    return {"tcp_socket": client.V1TCPSocketAction(port=port)}


def _probe(handler: dict[str, Any], **kw: Any) -> client.V1Probe:
    return client.V1Probe(**handler, **kw)


def _webserver_pod(readiness: client.V1Probe | None, liveness: client.V1Probe | None,
                   cname: str = "test-webserver") -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"test-webserver-{uid()}"),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name=cname, image=BUSYBOX, command=["/bin/sh", "-c", WEBSERVER],
                            ports=[client.V1ContainerPort(container_port=80)],
                            liveness_probe=liveness, readiness_probe=readiness)]))


def _busybox_pod(liveness: client.V1Probe, cmd: list[str]) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"busybox-{uid()}",
                                                     labels={"test": "liveness"}),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name="busybox", image=BUSYBOX, command=cmd, liveness_probe=liveness)]))


def _liveness_pod(liveness: client.V1Probe) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"liveness-{uid()}",
                                                     labels={"test": "liveness"}),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name="agnhost-container", image=BUSYBOX,
                            command=["/bin/sh", "-c", LIVENESS], liveness_probe=liveness)]))


def _restarts(pod: Any, cname: str) -> int:
    for s in (pod.status.init_container_statuses or []) + (pod.status.container_statuses or []):
        if s.name == cname:
            return int(s.restart_count)
    raise AssertionError(f"no status for container {cname}")


def run_liveness_test(c: Ctx, pod: client.V1Pod, expect: int, timeout: float) -> None:
    """upstream's RunLivenessTest: wait for the container to start, then watch its restart
    count (every 2 s) until `expect` restarts are seen or the time is up; it never goes
    down, and with expect == 0 none may happen in the whole window."""
    cname, name = pod.spec.containers[0].name, pod.metadata.name
    c.core.create_namespaced_pod(c.ns, pod)
    try:
        def started() -> bool:
            p = c.core.read_namespaced_pod(name, c.ns)
            return any(s.name == cname and (s.state.running or s.state.terminated)
                       for s in p.status.container_statuses or [])
        poll(started, timeout, "container not waiting", 2)
        initial = last = _restarts(c.core.read_namespaced_pod(name, c.ns), cname)
        deadline = time.monotonic() + timeout + initial * 10
        observed = 0
        while time.monotonic() < deadline:
            p = c.core.read_namespaced_pod(name, c.ns)
            count = _restarts(p, cname)
            assert count >= last, f"restart count should increment monotonically: {last} -> {count}"
            observed = count - initial
            if 0 < expect <= observed:
                break
            last = count
            time.sleep(2)
        assert (observed == 0) if expect == 0 else (observed >= expect), \
            f"pod {c.ns}/{name} - expected number of restarts: {expect}, found restarts: {observed}"
    finally:
        c.core.delete_namespaced_pod(name, c.ns, body=client.V1DeleteOptions(grace_period_seconds=0))


def _ready(p: Any) -> bool:
    return any(x.type == "Ready" and x.status == "True" for x in p.status.conditions or [])


@conformance(P + "readiness: not ready before initial delay and never restart",
             basename="container-probe", needs=NEEDS)
def ready_after_initial_delay(c: Ctx) -> None:
    probe = _probe(_http("/", 80), initial_delay_seconds=INITIAL_DELAY)
    name = c.core.create_namespaced_pod(c.ns, _webserver_pod(probe, None)).metadata.name
    poll(lambda: _ready(c.core.read_namespaced_pod(name, c.ns)), POD_START,
         f"pod {name} to be ready", 2)
    p = c.core.read_namespaced_pod(name, c.ns)
    assert p.status.phase == "Running" and _ready(p), f"pod {c.ns}/{name} should be ready"
    ready_at = next(x.last_transition_time for x in p.status.conditions if x.type == "Ready")
    started_at = next(s.state.running.started_at for s in p.status.container_statuses
                      if s.name == "test-webserver")
    assert (ready_at - started_at).total_seconds() >= INITIAL_DELAY, \
        f"pod became ready before its {INITIAL_DELAY}s initial delay ({started_at} -> {ready_at})"
    assert _restarts(p, "test-webserver") == 0, "pod should have a restart count of 0"


@conformance(P + "readiness that fails: never ready and never restart",
             basename="container-probe", needs=NEEDS)
def readiness_fails(c: Ctx) -> None:
    probe = _probe(_http("/", 81))  # the failing builder points the probe at port 81
    name = c.core.create_namespaced_pod(c.ns, _webserver_pod(probe, None)).metadata.name
    end = time.monotonic() + 60  # gomega.Consistently(1 minute, 1 s)
    while time.monotonic() < end:
        assert not _ready(c.core.read_namespaced_pod(name, c.ns)), "pod should not be ready"
        time.sleep(1)
    p = c.core.read_namespaced_pod(name, c.ns)
    assert not (p.status.phase == "Running" and _ready(p)), f"pod {c.ns}/{name} should be not ready"
    assert _restarts(p, "test-webserver") == 0, "pod should have a restart count of 0"


def _cat_health(c: Ctx, script: str, restarts: int) -> None:
    """busybox running `script` under an exec `cat /tmp/health` liveness probe (15 s
    delay, 5 s timeout, one failure restarts) restarts `restarts` times."""
    probe = _probe(_exec(["cat", "/tmp/health"]), initial_delay_seconds=15, timeout_seconds=5,
                   failure_threshold=1)
    run_liveness_test(c, _busybox_pod(probe, ["/bin/sh", "-c", script]), restarts, OBSERVATION)


@conformance(P + 'be restarted with an exec "cat /tmp/health" liveness probe',
             basename="container-probe", needs=NEEDS)
def exec_restarted(c: Ctx) -> None:
    _cat_health(c, "echo ok >/tmp/health; sleep 10; rm -rf /tmp/health; sleep 600", 1)


@conformance(P + '*not* be restarted with an exec "cat /tmp/health" liveness probe',
             basename="container-probe", needs=NEEDS)
def exec_not_restarted(c: Ctx) -> None:
    _cat_health(c, "echo ok >/tmp/health; sleep 600", 0)


@conformance(P + "be restarted with a /healthz http liveness probe", basename="container-probe",
             needs=NEEDS)
def http_restarted(c: Ctx) -> None:
    probe = _probe(_http("/healthz", 8080), initial_delay_seconds=15, failure_threshold=1)
    run_liveness_test(c, _liveness_pod(probe), 1, OBSERVATION)


@conformance(P + "*not* be restarted with a tcp:8080 liveness probe", basename="container-probe",
             needs=NEEDS)
def tcp_not_restarted(c: Ctx) -> None:
    probe = _probe(_tcp(8080), initial_delay_seconds=15, failure_threshold=1)
    run_liveness_test(c, _liveness_pod(probe), 0, OBSERVATION)


@conformance(P + "have monotonically increasing restart count", basename="container-probe",
             needs=NEEDS)
def monotonic_restarts(c: Ctx) -> None:
    probe = _probe(_http("/healthz", 8080), initial_delay_seconds=5, failure_threshold=1)
    # ~2 minutes of back-off + the observation window + 2 minutes per restart
    run_liveness_test(c, _liveness_pod(probe), 5, 120 + OBSERVATION + 4 * 120)


@conformance(P + "*not* be restarted with a /healthz http liveness probe",
             basename="container-probe", needs=NEEDS)
def http_not_restarted(c: Ctx) -> None:
    probe = _probe(_http("/", 80), initial_delay_seconds=15, timeout_seconds=5, failure_threshold=5)
    run_liveness_test(c, _webserver_pod(None, probe), 0, OBSERVATION)
