"""The conformance ports that need real containers, against `kapi up` with two Docker-backed
nodes: every port registered with needs=("containers",) passes except the known failures
below, each naming the kapi feature it lacks. A known failure that starts passing fails
this test too, so the list is pruned as the features land (the slow ones, left out of
this run, by hand). Skipped (or failed, under
KAPI_REQUIRE_DOCKER=1) where no Docker engine is reachable, as tests/e2e/test_docker_node.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

import conformance.ports  # noqa: F401  (registers every port)
from conformance import inventory
from conformance.framework import PORTS
from tests import dockerenv
from tests.conftest import REPO, Server
from tests.dockerenv import docker_cluster

engine = dockerenv.engine  # the module-scoped Docker engine fixture

CR = "Container Runtime › "
CM = "ConfigMap › "
S = "Secrets › "
DV = "Downward API volume › "
PC = "Projected configMap › "
PS = "Projected secret › "
PD = "Projected downwardAPI › "
E = "EmptyDir volumes › "
SC = "Security Context › "

# Ported tests that fail on kapi's Docker nodes today, with what they need.
DOCKER_KNOWN_FAILURES: dict[str, str] = {
    "Pods › support remote command execution over websockets":
        "exec over the old unversioned `channel.k8s.io` WebSocket protocol (kapi serves "
        "v4/v5 channels and SPDY)",
    "Pods › support retrieving logs from the container over websockets":
        "pods/log over a WebSocket (binary.k8s.io); kapi answers such an upgrade with 400",
    **{t: "the local busybox (Debian's 1.35) `sh` drops environment names that are not "
          "shell identifiers (data-1, p-data-1) before `env` prints them; the kubelet sets "
          "them (upstream's busybox image keeps them)" for t in (
        CM + "consumable via the environment",
        CM + "consumable as environment variable names with various prefixes",
        S + "consumable via the environment",
        S + "consumable as environment variable names with various prefixes")},
    **{"Container Lifecycle Hook › " + t:
       "sidecar (restartable init) containers: the hook tests' redirecting sidecar never "
       "lets the pod start" for t in (
        "execute poststart exec hook properly", "execute prestop exec hook properly",
        "execute poststart http hook properly", "execute prestop http hook properly")},
    "InitContainer › not start app containers if init containers fail (RestartAlways)":
        "restarts of a failing init container in a restartPolicy Always pod (the port "
        "waits for three)",
}

# Known failures that only fail once an upstream timeout of minutes has passed; left out
# of this run to keep it short (`python -m conformance.run --needs containers --focus ...`).
DOCKER_SLOW_KNOWN_FAILURES = {c for c in DOCKER_KNOWN_FAILURES if re.search(
    r"Lifecycle Hook|init containers fail \(RestartAlways\)", c)}

# Passes alone, but its exec liveness probe (failureThreshold 1, timeoutSeconds 1) may miss
# its second once two dozen pods start at once on a 2-core machine: run it by itself.
DOCKER_TIMING_SENSITIVE = {
    'Probing container › *not* be restarted with an exec "cat /tmp/health" liveness probe'}


@pytest.fixture(scope="module")
def dcluster(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """API server, controllers, scheduler and two Docker-backed nodes."""
    with docker_cluster(engine, tmp_path_factory.mktemp("conformance-docker"), "--nodes",
                        "2", "--node-cpu", "2", "--node-memory", "4Gi",
                        nodes={"kapi-node-1", "kapi-node-2"}, ready=True) as s:
        yield s


def container_ports() -> set[str]:
    return {c for c, reg in PORTS.items()
            if "containers" in reg.needs and inventory.by_codename(c)["class"] == "core"}


def test_known_failures_name_container_ports() -> None:
    assert set(DOCKER_KNOWN_FAILURES) <= container_ports()
    assert len(DOCKER_SLOW_KNOWN_FAILURES) == 5
    assert DOCKER_TIMING_SENSITIVE <= container_ports()
    assert all(DOCKER_KNOWN_FAILURES.values())


# upstream's liveness tests watch for 4 minutes and more; the slowest passing one
# ("monotonically increasing restart count") needs about 6
@pytest.mark.timeout(1200)
def test_container_ports_pass_on_docker_nodes(dcluster: Server, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    left_out = DOCKER_SLOW_KNOWN_FAILURES | DOCKER_TIMING_SENSITIVE
    skip = "|".join(re.escape(n) for n in left_out)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "conformance.run", "--kubeconfig",
                        str(dcluster.kubeconfig), "--class", "core", "--needs", "containers",
                        "--parallel", "24", "--skip", skip, "--report", str(report)],
                       capture_output=True, text=True, timeout=1100, cwd=REPO)
    rep = json.loads(report.read_text())
    # figures, not asserted
    print(f"conformance on Docker nodes: {rep['summary']} in {time.monotonic() - t0:.0f} s")
    results = {t["name"]: t for t in rep["tests"]}
    assert set(results) == container_ports() - left_out
    assert not [n for n, t in results.items() if t["result"] == "skipped"], \
        "a Docker node must count as the 'containers' feature"
    failed = {n: t["reason"] for n, t in results.items() if t["result"] == "failed"}
    unexpected = {n: r for n, r in failed.items() if n not in DOCKER_KNOWN_FAILURES}
    assert not unexpected, f"{p.stdout[-4000:]}\n{json.dumps(unexpected, indent=1)}"
    fixed = sorted(n for n in DOCKER_KNOWN_FAILURES.keys() - DOCKER_SLOW_KNOWN_FAILURES
                   if results[n]["result"] == "passed")
    assert not fixed, f"now passing, remove from DOCKER_KNOWN_FAILURES: {fixed}"
    assert re.search(r"\d+ of \d+ passed", p.stdout), p.stdout[-2000:]
