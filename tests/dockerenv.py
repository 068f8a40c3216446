"""The real Docker engine for tests: skip when none is reachable (fail instead when
KAPI_REQUIRE_DOCKER=1, as .ci/run sets, so CI cannot pass with every Docker test
skipped), build the local images, and remove exactly the containers a test's cluster
made (by the cluster label kapi stamps on them, never by name patterns)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from runtime.kubelet import cri


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
