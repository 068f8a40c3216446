"""The real Docker engine for tests: skip when none is reachable (fail instead when
KAPI_REQUIRE_DOCKER=1, as .ci/run sets, so CI cannot pass with every Docker test
skipped), build the local images, and remove exactly the containers a test's cluster
made (by the cluster label kapi stamps on them, never by name patterns), and the one
factory for a `kapi up` cluster with Docker-backed nodes that every Docker test starts."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Collection, Iterator

import pytest

from runtime.kubelet import cri
from tests.conftest import Server, start_server, stop_server
from tests.helpers import wait_for


def require_docker() -> Any:
    """A docker SDK client with busybox:latest and kapi/pause:latest present."""
    import docker

    from runtime.kubelet.docker import engine_reachable
    from runtime.kubelet.images import ImageBuildError, ensure_images

    reason = engine_reachable()
    try:
        if reason is not None:
            raise ImageBuildError(f"no Docker engine reachable ({reason}); "
                                  "`make docker-env` installs and starts one")
        client = docker.from_env(timeout=120)
        ensure_images(client)
        return client
    except ImageBuildError as e:
        if os.environ.get("KAPI_REQUIRE_DOCKER") == "1":
            pytest.fail(f"KAPI_REQUIRE_DOCKER=1 but {e}")
        pytest.skip(str(e))


@pytest.fixture(scope="module")
def engine() -> Any:
    """The Docker engine, for the tests of a module that start a Docker cluster."""
    return require_docker()


def cluster_containers(client: Any, cluster_uid: str, **labels: str) -> list[Any]:
    wanted = [f"{cri.CLUSTER}={cluster_uid}", *(f"{k}={v}" for k, v in labels.items())]
    # sparse: no inspect per container, which would race with a container going away
    return list(client.containers.list(all=True, sparse=True, filters={"label": wanted}))


def remove_cluster_containers(client: Any, cluster_uid: str) -> int:
    """Remove every container the cluster `cluster_uid` made, and its nodes' kubelet
    directories; returns how many containers."""
    found = cluster_containers(client, cluster_uid)
    for c in found:
        try:
            c.remove(force=True, v=True)
        except Exception:  # already going away
            pass
    remove_kubelet_dirs(cluster_uid)
    return len(found)


def kubelet_dir(cluster_uid: str) -> Path:
    """Where the cluster's Docker nodes keep pod directories (their default root)."""
    return Path(tempfile.gettempdir()) / "kapi-kubelet" / cluster_uid


def remove_kubelet_dirs(cluster_uid: str) -> None:
    """The pods' directories a stopped cluster left (tmpfs volumes unmounted first)."""
    root = kubelet_dir(cluster_uid)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
              if line.split()[1].startswith(f"{root}/")]
    for m in sorted(mounts, reverse=True):
        subprocess.run(["umount", m], check=False, capture_output=True, timeout=10)
    shutil.rmtree(root, ignore_errors=True)


def kube_system_uid(server: Server) -> str:
    """The cluster's identity: the uid of its kube-system namespace, which kapi stamps on
    every container the cluster makes (the cluster label)."""
    with server.client() as c:
        return str(c.get("/api/v1/namespaces/kube-system").json()["metadata"]["uid"])


def _registered(server: Server, nodes: Collection[str], ready: bool) -> bool:
    with server.client() as c:
        items = c.get("/api/v1/nodes").json()["items"]
    return set(nodes) <= {n["metadata"]["name"] for n in items if not ready or any(
        x["type"] == "Ready" and x["status"] == "True"
        for x in n["status"].get("conditions", []))}


@contextmanager
def docker_cluster(engine: Any, data_dir: Path, *extra: str, storage: str = "sqlite",
                   nodes: Collection[str] = (), ready: bool = False) -> Iterator[Server]:
    """`kapi up` with the given flags on the Docker engine `engine`, once `nodes` have
    registered (and are Ready, with `ready`); on the way out the server stops and every
    container and kubelet directory the cluster made is removed."""
    s = start_server(data_dir, command="up", storage=storage, extra=extra)
    try:
        uid = kube_system_uid(s)
    except BaseException:
        stop_server(s.proc)
        raise
    try:
        if nodes:
            wait_for(lambda: _registered(s, nodes, ready),
                     f"nodes {', '.join(sorted(nodes))} to register", timeout=60)
        yield s
    finally:
        stop_server(s.proc)
        remove_cluster_containers(engine, uid)
