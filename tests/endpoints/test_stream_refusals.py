"""pods/exec, attach and portforward refused on every upgrade path with the Status a plain
request gets (never an empty 403, never a hang): SPDY/3.1 upgrades over raw HTTP/1.1 and
WebSocket handshakes, against a real API server subprocess (no kubelet, no Docker)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import websocket

from tests.conftest import Server

SIMULATED = "sim.kapi.dev/simulated"


def spdy_upgrade(server: Server, path: str, protocol: str = "v4.channel.k8s.io",
                 method: str = "POST") -> tuple[int, Any, bytes]:
    """(status, Status document or None, raw head) of a SPDY upgrade request."""
    with server.connect(timeout=10) as s:
        s.sendall((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                   f"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: {protocol}\r\n"
                   "Content-Length: 0\r\n\r\n").encode())
        data = b""
        while chunk := s.recv(65536):  # the server closes after a refusal
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"chunked" in head.lower():
        size, _, rest = body.partition(b"\r\n")
        body = rest[:int(size, 16)]
    return status, json.loads(body) if body else None, head


def ws_handshake(server: Server, path: str,
                 protocols: tuple[str, ...] = ("v5.channel.k8s.io",)) -> tuple[int, Any]:
    try:
        ws = server.websocket(path, subprotocols=list(protocols), timeout=10)
    except websocket.WebSocketBadStatusException as e:
        return e.status_code, json.loads(e.resp_body) if e.resp_body else None
    ws.close()
    return 101, None


@pytest.fixture
def pods(server: Server, ns: str) -> str:
    """A pod nobody scheduled, one on a simulated node, and that node."""
    with server.client() as c:
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": f"{ns}-sim", "annotations": {SIMULATED: "true"}}}
        assert c.post("/api/v1/nodes", json=node).status_code == 201
        for name, spec in (("pending", {}), ("onsim", {"nodeName": f"{ns}-sim"})):
            body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec}}
            r = c.post(f"/api/v1/namespaces/{ns}/pods", json=body)
            assert r.status_code == 201, r.text
    return ns


def test_missing_pod_is_404_on_both_upgrades(server: Server, ns: str) -> None:
    for sub in ("exec?command=true&stdout=1", "attach?stdout=1", "portforward?ports=80"):
        status, doc, _ = spdy_upgrade(server, f"/api/v1/namespaces/{ns}/pods/nosuch/{sub}",
                                      "portforward.k8s.io" if "port" in sub else
                                      "v4.channel.k8s.io")
        assert status == 404 and doc["reason"] == "NotFound"
        assert doc["message"] == 'pods "nosuch" not found'
        status, doc = ws_handshake(server, f"/api/v1/namespaces/{ns}/pods/nosuch/{sub}")
        assert status == 404 and doc["message"] == 'pods "nosuch" not found'


def test_unscheduled_and_simulated_pods_are_bad_requests(server: Server, pods: str) -> None:
    base = f"/api/v1/namespaces/{pods}/pods"
    status, doc, _ = spdy_upgrade(server, f"{base}/pending/exec?command=true&stdout=1")
    assert (status, doc["reason"]) == (400, "BadRequest")
    assert doc["message"] == "pod pending does not have a host assigned"
    for path in (f"{base}/onsim/exec?command=true&stdout=1", f"{base}/onsim/attach?stdout=1",
                 f"{base}/onsim/portforward?ports=80"):
        status, doc = ws_handshake(server, path)
        assert status == 400 and "simulated node" in doc["message"], doc


def test_bad_requests_before_any_kubelet(server: Server, pods: str) -> None:
    base = f"/api/v1/namespaces/{pods}/pods/onsim"
    with server.client() as c:  # no upgrade asked: upstream's message
        r = c.post(f"/api/v1/namespaces/{pods}/pods/pending/exec?command=true")
    assert r.status_code == 400
    status, doc, _ = spdy_upgrade(server, f"/api/v1/namespaces/{pods}/pods/nosuch/exec"
                                  "?command=true", protocol="v9.channel.k8s.io")
    assert status == 404  # the pod is looked up first, as a plain request would
    status, doc = ws_handshake(server, f"{base}/exec?command=true", ("base64.channel.k8s.io",))
    assert status == 400
    # no stream there: the upgrade gets what the plain request gets (issue 9), here the list
    status, doc = ws_handshake(server, "/api/v1/namespaces")
    assert status == 200 and doc["kind"] == "NamespaceList"
    status, doc = ws_handshake(server, "/api/v1/nosuchthings/x/exec")
    assert status == 404 and doc["reason"] == "NotFound"


def test_an_upgrade_asked_of_a_plain_endpoint_is_answered_plainly(server: Server,
                                                                   ns: str) -> None:
    status, doc, head = spdy_upgrade(server, f"/api/v1/namespaces/{ns}/configmaps",
                                     method="GET")
    assert status == 200 and doc["kind"] == "ConfigMapList", head
    status, doc, head = spdy_upgrade(server, f"/api/v1/namespaces/{ns}/configmaps")
    assert status == 400 and doc["kind"] == "Status", head  # an empty body to create
