"""The kubelet's log endpoint and the API server's pods/log checks, without an engine:
which container instance a request reads (current, --previous), upstream's messages for
containers that are unknown or not started, and the query passed to the runtime."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from kapi import errors
from kapi.endpoints.podlog import container_name, kubelet_url
from runtime.kubelet.cri import ContainerInfo
from runtime.kubelet.server import build_app

POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "u"},
       "spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]},
       "status": {"containerStatuses": [{"name": "c", "state": {"waiting": {
           "reason": "ImagePullBackOff"}}}]}}


def ctr(attempt: int) -> ContainerInfo:
    return ContainerInfo(id=f"c-{attempt}", name="c", pod_uid="u", pod_namespace="ns",
                         pod_name="p", attempt=attempt, state="exited")


class FakeRuntime:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def logs(self, cid: str, **kw: Any) -> bytes:
        self.calls.append((cid, kw))
        return f"output of {cid}\n".encode()


class Get:
    """GETs against the kubelet's ASGI app in process (httpx's ASGI transport)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://kubelet") as c:
                return await c.get(path)
        return asyncio.run(go())


def client(containers: list[ContainerInfo], runtime: FakeRuntime) -> Get:
    return Get(build_app(find_pod=lambda ns, name: POD if (ns, name) == ("ns", "p") else None,
                         containers=lambda uid: containers, runtime=runtime,
                         clock=lambda: 1000.0, pods=lambda: [POD]))


def test_current_and_previous_instances_and_the_query() -> None:
    rt = FakeRuntime()
    c = client([ctr(0), ctr(1)], rt)
    assert c.get("/containerLogs/ns/p/c").text == "output of c-1\n"
    r = c.get("/containerLogs/ns/p/c?previous=true&tailLines=5&sinceSeconds=10"
              "&timestamps=true&limitBytes=4")
    assert r.text == "outp"
    assert rt.calls[-1] == ("c-0", {"tail": 5, "since": 990.0, "timestamps": True,
                                    "follow": False})


def test_upstream_messages() -> None:
    c = client([ctr(0)], FakeRuntime())
    r = c.get("/containerLogs/ns/p/c?previous=true")
    assert r.status_code == 400
    assert r.text == 'previous terminated container "c" in pod "p" not found'
    assert c.get("/containerLogs/ns/p/zz").text == "container zz is not valid for pod p"
    assert c.get("/containerLogs/ns/other/c").status_code == 404
    assert c.get("/containerLogs/ns/p/c?tailLines=x").status_code == 400
    empty = client([], FakeRuntime()).get("/containerLogs/ns/p/c")
    assert empty.text == 'container "c" in pod "p" is waiting to start: ImagePullBackOff'


def test_api_server_picks_the_container_and_the_kubelet() -> None:
    two = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}],
                                               "initContainers": [{"name": "i"}]}}
    assert container_name(POD, None) == "c" and container_name(two, "i") == "i"
    with pytest.raises(errors.BadRequest, match=r"a container name must be specified for "
                       r"pod p, choose one of: \[a b\] or one of the init containers: \[i\]"):
        container_name(two, None)
    with pytest.raises(errors.BadRequest, match="container x is not valid for pod p"):
        container_name(two, "x")
    node = {"metadata": {"name": "n"}, "status": {
        "addresses": [{"type": "Hostname", "address": "n"},
                      {"type": "InternalIP", "address": "172.17.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}}
    assert kubelet_url(node) == "http://172.17.0.1:10250"
