"""`kapi up` with a Docker-backed node and running pods stops on SIGTERM, every time.

Each round starts a cluster, runs pods whose exec, tcpSocket, httpGet and grpc probes
fire every second (a probe ending at the moment of the signal is the race that once held
a kubelet's stop: asyncio.wait_for swallowing the cancellation), sends SIGTERM and
checks that the process ended by itself, cleanly, without naming a component that did
not take its cancellation (kapi/cli.py gives each STOP_TIMEOUT, then leaves it). The
rounds are bounded; the process's own bound is the judge, the test's wait is a safety.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests import dockerenv
from tests.conftest import Server
from tests.dockerenv import docker_cluster
from tests.e2e import grpcimage
from tests.helpers import wait_for

engine = dockerenv.engine  # the module-scoped Docker engine fixture
NODE = "kapi-node-1"
ROUNDS = 3
PODS = 4
SERVE = (f"mkdir -p {grpcimage.HEALTH_DIR} && echo SERVING > {grpcimage.HEALTH_DIR}/_ && "
         f"echo ok > /tmp/index.html && httpd -p 8080 -h /tmp && exec python3 -S /grpc_health_server.py "
         f"{grpcimage.PORT} {grpcimage.HEALTH_DIR}")


def _probed_pod(i: int) -> dict[str, Any]:
    every = {"periodSeconds": 1, "timeoutSeconds": 1, "failureThreshold": 100}
    probes = {"livenessProbe": {"exec": {"command": ["true"]}, **every},
              "readinessProbe": {"tcpSocket": {"port": 8080}, **every},
              "startupProbe": {"httpGet": {"port": 8080}, **every}}
    if i % 2:
        probes["readinessProbe"] = {"grpc": {"port": grpcimage.PORT}, **every}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"probed-{i}"},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
                "name": "c", "image": grpcimage.IMAGE, "command": ["sh", "-c", SERVE],
                **probes}]}}


def _running(s: Server) -> bool:
    with s.client() as c:
        pods = c.get("/api/v1/namespaces/default/pods").json()["items"]
    return sum(any(x["type"] == "Ready" and x["status"] == "True"
                   for x in p["status"].get("conditions") or []) for p in pods) == PODS


def test_kapi_up_with_running_pods_stops_on_sigterm_every_time(
        engine: Any, tmp_path: Path) -> None:
    grpcimage.ensure_image(engine)
    for round_ in range(ROUNDS):
        with docker_cluster(engine, tmp_path / f"round-{round_}", "--nodes", "1",
                            "--simulated-nodes", "0", nodes={NODE}) as s:
            with s.client() as c:
                for i in range(PODS):
                    r = c.post("/api/v1/namespaces/default/pods", json=_probed_pod(i))
                    assert r.status_code == 201, r.text
            wait_for(lambda: _running(s), f"round {round_}: pods ready", timeout=120)
            s.proc.send_signal(signal.SIGTERM)
            code = s.proc.wait(timeout=90)
            log = s.log.read_text()
            assert "did not stop within" not in log, log[-3000:]
            assert code == 0, log[-3000:]
