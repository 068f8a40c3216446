"""Metrics and autoscaling with real containers: a CPU burner on a Docker-backed node.

`kapi up --nodes 1` on the host's Docker engine (skipped without one, failed instead
when KAPI_REQUIRE_DOCKER=1): a busybox `while :; do :; done` container limited to 200m
of CPU and requesting 100m. Its kubelet samples Docker stats, `kubectl top pod` shows
the burn, and an HPA at 50% scales the Deployment out. Every container the cluster made
is removed at the end by its cluster label.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from tests.conftest import Kubectl, Server, kubectl_or_skip
from tests.dockerenv import docker_cluster, require_docker
from tests.helpers import wait_for

Obj = dict[str, Any]

BURNER = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "burner"},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "burner"}},
                   "template": {"metadata": {"labels": {"app": "burner"}}, "spec": {
                       "terminationGracePeriodSeconds": 1,
                       "containers": [{"name": "burn", "image": "busybox",
                                       "command": ["sh", "-c", "while :; do :; done"],
                                       "resources": {"requests": {"cpu": "100m"},
                                                     "limits": {"cpu": "200m"}}}]}}}}


@pytest.fixture(scope="module")
def burncluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with docker_cluster(require_docker(), tmp_path_factory.mktemp("dockerhpa"), "--nodes",
                        "1", "--node-cpu", "2", "--node-memory", "4Gi",
                        "--horizontal-pod-autoscaler-sync-period", "2",
                        "--metric-resolution", "2",
                        storage="memory") as s:
        yield s


@pytest.fixture
def k(burncluster: Server) -> Kubectl:
    return kubectl_or_skip("1.33", burncluster.kubeconfig)


def test_a_cpu_burner_shows_in_top_and_scales_out(k: Kubectl) -> None:
    wait_for(lambda: "kapi-node-1" in k("get", "nodes"), "the Docker node", timeout=60)
    k("apply", "-f", "-", input=json.dumps(BURNER))
    # kubectl wait -l fails at once while no pod matches: wait for the ReplicaSet's pod
    wait_for(lambda: k("get", "pod", "-l", "app=burner", "-o", "name"), "the burner pod",
             timeout=60)
    k("wait", "pod", "-l", "app=burner", "--for=condition=Ready", "--timeout=90s",
      timeout=120)

    def burning() -> list[str] | None:
        out = k.run("top", "pod", "-l", "app=burner", "--no-headers", check=False).stdout
        cols = out.split()
        return cols if len(cols) >= 3 and cols[1].endswith("m") and int(cols[1][:-1]) > 0 \
            else None
    cols = wait_for(burning, "nonzero CPU in kubectl top", timeout=90, every=1)
    assert int(cols[1][:-1]) >= 50  # a 200m-limited burner, over a 10 s window
    assert cols[2].endswith("Mi") or cols[2].endswith("Ki")
    node = k("top", "node", "--no-headers").split()
    assert node[0] == "kapi-node-1" and int(node[1].removesuffix("m")) > 0
    k("autoscale", "deploy", "burner", "--cpu-percent=50", "--min=1", "--max=3")

    def scaled() -> Obj | None:
        h = json.loads(k("get", "hpa", "burner", "-o", "json"))
        return h if (h.get("status") or {}).get("desiredReplicas", 0) >= 2 else None
    h = wait_for(scaled, "the burner to scale out", timeout=120, every=1)
    assert h["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"] > 50
    events = k("get", "events", "--field-selector", "involvedObject.name=burner,"
               "reason=SuccessfulRescale", "-o", "json")
    assert any("above target" in e["message"] for e in json.loads(events)["items"])
    k("delete", "deploy", "burner", "--wait=false")
