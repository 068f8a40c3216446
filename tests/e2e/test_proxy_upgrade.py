"""Upgrades through the API server's proxy subresources, against a real server process:
a WebSocket client (wsproto, over the server's TLS with the admin's certificate) reaches
a WebSocket echo server through `pods/NAME:PORT/proxy/...` and `services/NAME/proxy/...`,
frames passing both ways; a target that does not switch protocols answers as plain
HTTP; a target that cannot be reached is a 503 Status.

The targets listen on loopback in this test (a pod and hand-written Endpoints whose
address is 127.0.0.1); tests/e2e/test_service_proxy.py does the same with containers.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from typing import Any, Iterator

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from tests.conftest import Server

Obj = dict[str, Any]


def _echo(conn: socket.socket) -> None:
    """One WebSocket connection: echo every message, upper-cased, until closed."""
    ws = WSConnection(ConnectionType.SERVER)
    with conn:
        while data := conn.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, Request) and event.target.endswith("/refuse"):
                    conn.sendall(ws.send(RejectConnection(status_code=403, headers=[
                        (b"content-length", b"0")])))
                    return
                if isinstance(event, Request):
                    conn.sendall(ws.send(AcceptConnection()))
                elif isinstance(event, TextMessage):
                    conn.sendall(ws.send(Message(data=event.data.upper())))
                elif isinstance(event, CloseConnection):
                    conn.sendall(ws.send(event.response()))
                    return


@pytest.fixture(scope="module")
def echo_port() -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():  # bounded by the fixture's life
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(10)
            threading.Thread(target=_echo, args=(conn,), daemon=True).start()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield listener.getsockname()[1]
    stop.set()
    t.join(5)
    listener.close()


@pytest.fixture(scope="module")
def targets(server: Server, echo_port: int) -> Iterator[str]:
    ns = "upgrades"
    with server.client() as c:
        c.post("/api/v1/namespaces", json={"metadata": {"name": ns}})
        pod = {"metadata": {"name": "echo", "labels": {"app": "echo"}}, "spec": {
            "containers": [{"name": "c", "image": "busybox",
                            "ports": [{"name": "ws", "containerPort": echo_port}]}]}}
        created = c.post(f"/api/v1/namespaces/{ns}/pods", json=pod).json()
        created["status"] = {"phase": "Running", "podIP": "127.0.0.1",
                             "podIPs": [{"ip": "127.0.0.1"}]}
        r = c.put(f"/api/v1/namespaces/{ns}/pods/echo/status", json=created)
        assert r.status_code == 200, r.text
        svc = {"metadata": {"name": "echo"}, "spec": {"ports": [{"name": "ws", "port": 80}]}}
        assert c.post(f"/api/v1/namespaces/{ns}/services", json=svc).status_code == 201
        ep = {"metadata": {"name": "echo"}, "subsets": [{
            "addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "ws", "port": echo_port}]}]}
        r = c.post(f"/api/v1/namespaces/{ns}/endpoints", json=ep)
        assert r.status_code == 201, r.text
    yield ns


def websocket(server: Server, path: str, texts: list[str]) -> tuple[Any, list[Any]]:
    """Open a WebSocket to the API server at `path`, send `texts`, close; (the answer to
    the handshake, the messages received)."""
    ctx = server.ssl_context()
    assert ctx is not None
    host, port = server.url.split("://", 1)[1].rsplit(":", 1)
    ws = WSConnection(ConnectionType.CLIENT)
    got: list[Any] = []
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(ws.send(Request(host=host, target=path)))
        answer = _next(s, ws, (AcceptConnection, RejectConnection))
        if not isinstance(answer, AcceptConnection):
            body = b""
            while not (isinstance(e := _next(s, ws, (RejectData,)), RejectData)
                       and e.body_finished):
                body += e.data
            return answer, [body + e.data]
        for text in texts:
            s.sendall(ws.send(Message(data=text)))
            got.append(_next(s, ws, (TextMessage, BytesMessage)))
        s.sendall(ws.send(CloseConnection(code=1000)))
        _next(s, ws, (CloseConnection,))
    return answer, got


def _next(s: ssl.SSLSocket, ws: WSConnection, kinds: tuple[type, ...]) -> Any:
    for _ in range(100):  # bounded: a few reads suffice
        for event in ws.events():
            if isinstance(event, kinds):
                return event
        data = s.recv(65536)
        if not data:
            return None
        ws.receive_data(data)
    raise AssertionError(f"no {kinds} came")


def test_websocket_through_pod_and_service_proxy(server: Server, targets: str) -> None:
    base = f"/api/v1/namespaces/{targets}"
    for path in (f"{base}/pods/echo:ws/proxy/socket", f"{base}/services/echo:ws/proxy/x",
                 f"{base}/services/echo/proxy/"):
        answer, got = websocket(server, path, ["hello", "again"])
        assert isinstance(answer, AcceptConnection), (path, answer)
        assert [m.data for m in got] == ["HELLO", "AGAIN"], path


def test_refusals_come_back_as_they_are(server: Server, targets: str) -> None:
    base = f"/api/v1/namespaces/{targets}"
    with server.client() as c:  # nothing listens on the pod's declared port 1
        pod = c.get(f"{base}/pods/echo").json()
    answer, body = websocket(server, f"{base}/pods/echo:1/proxy/", [])
    assert isinstance(answer, RejectConnection) and answer.status_code == 503
    status = json.loads(body[0])
    assert status["kind"] == "Status" and status["reason"] == "ServiceUnavailable"
    assert pod["status"]["podIP"] == "127.0.0.1"
    answer, body = websocket(server, f"{base}/services/nothing/proxy/", [])
    assert isinstance(answer, RejectConnection) and answer.status_code == 404
    # the target itself says no: its answer, not an upgrade
    answer, body = websocket(server, f"{base}/pods/echo:ws/proxy/refuse", [])
    assert isinstance(answer, RejectConnection) and answer.status_code == 403
