"""Shared fixtures for the pod-spec tests on one Docker-backed node: the cluster (`kapi up
--nodes 1`), the Python client, a namespace per test, small pod builders, and the
clean-up of everything the cluster made (its containers by cluster label, and its
kubelet directories under $TMPDIR, tmpfs volumes unmounted first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests import dockerenv
from tests.conftest import Server
from tests.dockerenv import docker_cluster, kubelet_dir
from tests.helpers import api_fixture, namespace_fixture, wait_for

engine = dockerenv.engine  # the module-scoped Docker engine fixture

Obj = dict[str, Any]
NODE = "kapi-node-1"


def kubelet_root(cluster_uid: str) -> Path:
    return kubelet_dir(cluster_uid) / NODE


@pytest.fixture(scope="module")
def cluster(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with docker_cluster(engine, tmp_path_factory.mktemp("dockerpods"), "--nodes", "1",
                        "--node-cpu", "2", "--node-memory", "4Gi", nodes={NODE}) as s:
        yield s


api = api_fixture("cluster")
ns = namespace_fixture("api", "spec")


def cluster_uid(api: k8s.ApiClient) -> str:
    return str(core(api).read_namespace("kube-system").metadata.uid)


def core(api: k8s.ApiClient) -> k8s.CoreV1Api:
    return k8s.CoreV1Api(api)


def pod_doc(name: str, *containers: Obj, policy: str = "Never", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": policy, "terminationGracePeriodSeconds": 1,
                     "containers": list(containers), **spec}}


def sh(name: str, script: str, **more: Any) -> Obj:
    return {"name": name, "image": "busybox", "command": ["sh", "-c", script], **more}


def status(api: k8s.ApiClient, ns: str, name: str) -> Obj:
    return api.sanitize_for_serialization(core(api).read_namespaced_pod(name, ns).status)


def finished(api: k8s.ApiClient, ns: str, name: str, timeout: float = 60) -> Obj:
    def done() -> Obj | None:
        st = status(api, ns, name)
        return st if st.get("phase") in ("Succeeded", "Failed") else None
    return wait_for(done, f"{name} to finish", timeout=timeout, every=0.3)


def logs(api: k8s.ApiClient, ns: str, name: str, container: str | None = None) -> str:
    """The container's log; "" while it has not started."""
    kw = {"container": container} if container else {}
    try:
        return str(core(api).read_namespaced_pod_log(name, ns, **kw))
    except ApiException as e:
        if e.status == 400:
            return ""
        raise


def events(api: k8s.ApiClient, ns: str, name: str) -> list[tuple[str, str, str]]:
    found = core(api).list_namespaced_event(
        ns, field_selector=f"involvedObject.name={name}").items
    return [(e.type, e.reason, e.message) for e in found]


def waiting(api: k8s.ApiClient, ns: str, name: str, reason: str) -> Obj | None:
    st = status(api, ns, name)
    for cs in st.get("containerStatuses") or []:
        w = (cs.get("state") or {}).get("waiting") or {}
        if w.get("reason") == reason:
            return w
    return None
