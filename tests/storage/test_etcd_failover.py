"""Leader-elected controllers and schedulers fail over, on API servers sharing one etcd.

Two `kapi controller-manager` and two `kapi scheduler` processes, each pair pointed at
two different API servers; one of each leads through its Lease (kube-system). Killing
the leading controller manager (SIGKILL: no release) or the API server the leading
scheduler talks to hands the Lease to the standby (holderIdentity changes,
leaseTransitions counts it), and the new leader does the work. Waits are bounded by
deadlines well past the 15 s lease; no duration is asserted (timings belong in bench/).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from tests.conftest import REPO, Server, stop_server
from tests.etcdenv import Etcd, start_etcd
from tests.storage.test_etcd_apiserver import etcd_server


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    e = start_etcd()
    yield e
    e.stop()


def component(command: str, server: Server, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "kapi.cli", command, "--kubeconfig",
                             str(server.kubeconfig)], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, cwd=REPO)


def until(what: Callable[[], Any], seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got = what()
        except Exception:  # a server on its way down, say
            got = None
        if got:
            return got
        time.sleep(0.25)
    raise AssertionError(f"not within {seconds} s: {what}")


def lease(server: Server, name: str) -> dict[str, Any]:
    with server.client() as c:
        r = c.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{name}")
        return r.json().get("spec", {}) if r.status_code == 200 else {}


@contextmanager
def leader_and_standby(etcd: Etcd, tmp_path: Path, name: str
                       ) -> Iterator[tuple[Server, Server, list[subprocess.Popen[bytes]], str]]:
    """Two API servers (a, b) on one etcd; the component `name` started against a until
    it holds its lease, then a second one against b. Yields (a, b, the two components,
    the first holder's identity); stops everything at the end."""
    procs: list[subprocess.Popen[bytes]] = []
    servers: list[Server] = []
    try:
        a = etcd_server(tmp_path / "a", etcd)
        servers.append(a)
        b = etcd_server(tmp_path / "b", etcd)
        servers.append(b)
        procs.append(component(name, a, tmp_path / f"{name}-1.log"))
        first = until(lambda: lease(b, f"kube-{name}").get("holderIdentity"))
        procs.append(component(name, b, tmp_path / f"{name}-2.log"))
        yield a, b, procs, first
    finally:
        for p in procs + [s.proc for s in servers]:
            stop_server(p)


def test_controller_manager_fails_over_when_the_leader_dies(etcd: Etcd, tmp_path: Path) -> None:
    with leader_and_standby(etcd, tmp_path, "controller-manager") as (a, b, procs, first):
        renewed = lease(b, "kube-controller-manager")["renewTime"]
        until(lambda: lease(b, "kube-controller-manager")["renewTime"] != renewed)
        assert lease(b, "kube-controller-manager")["holderIdentity"] == first  # no flapping
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        spec = until(lambda: (s := lease(b, "kube-controller-manager"))
                     and s["holderIdentity"] != first and s)
        assert spec["leaseTransitions"] == 1 and spec["leaseDurationSeconds"] == 15
        # the new leader works: a Deployment written through the other server gets its
        # ReplicaSet
        deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
                  "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "d"}},
                           "template": {"metadata": {"labels": {"app": "d"}},
                                        "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
        with a.client() as c:
            assert c.post("/apis/apps/v1/namespaces/default/deployments",
                          json=deploy).status_code == 201

        def replicasets() -> list[Any]:
            with b.client() as c:
                return c.get("/apis/apps/v1/namespaces/default/replicasets").json()["items"]
        (rs,) = until(replicasets)
        assert rs["metadata"]["ownerReferences"][0]["name"] == "d"


def test_scheduler_fails_over_when_the_leaders_apiserver_dies(etcd: Etcd,
                                                              tmp_path: Path) -> None:
    with leader_and_standby(etcd, tmp_path, "scheduler") as (a, b, _, first):
        stop_server(a.proc, signal.SIGKILL)  # the leader can no longer renew
        spec = until(lambda: (s := lease(b, "kube-scheduler"))
                     and s["holderIdentity"] != first and s)
        assert spec["leaseTransitions"] == 1
