"""Request bodies written to hurt, against a real server: YAML aliases that loop or
multiply, a large flat YAML list, and uploads far past the 3 MiB cap. Each gets a Status
error (or its answer) while the server keeps answering everyone else.

These watch raw sockets for the first byte of an answer, which TLS 1.3's session tickets
would fake: the server here is a plain-HTTP one (`--insecure-http`, which these tests
thereby keep covering).
"""

from __future__ import annotations

import select
import socket
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from bench.memory import send_until_answered
from tests.conftest import Server, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(Path(tmp_path_factory.mktemp("plain")), extra=("--insecure-http",))
    yield s
    stop_server(s.proc)

YAML = {"content-type": "application/yaml"}


def _post_yaml(server: Server, ns: str, body: bytes, **params: str) -> httpx.Response:
    with server.client() as c:
        return c.post(f"/api/v1/namespaces/{ns}/configmaps", content=body, headers=YAML,
                      params=params)


def _still_serving(server: Server, ns: str) -> None:
    with server.client() as c:
        assert c.get("/readyz").status_code == 200
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps").status_code == 200


def test_a_self_referencing_alias_is_a_400(server: Server, ns: str) -> None:
    body = b"apiVersion: v1\nkind: ConfigMap\nmetadata: &a {name: x, labels: *a}\n"
    r = _post_yaml(server, ns, body)
    assert r.status_code == 400, r.text
    assert r.json()["reason"] == "BadRequest"
    assert "yaml: anchor 'a' value contains itself" in r.json()["message"]
    _still_serving(server, ns)


def laughs(levels: int = 9) -> bytes:
    """The billion laughs: each level lists the one below nine times (9**9 strings)."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata: {name: lol}",
             "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("\n".join(lines) + "\n").encode()


def test_billion_laughs_is_refused_as_go_yaml_refuses_it(server: Server, ns: str) -> None:
    body = laughs()
    assert len(body) < 600
    for validation in ("Strict", "Warn", "Ignore"):
        r = _post_yaml(server, ns, body, fieldValidation=validation)
        assert r.status_code == 400, r.text
        assert "yaml: document contains excessive aliasing" in r.json()["message"]
    _still_serving(server, ns)


def test_aliases_within_budget_are_expanded(server: Server, ns: str) -> None:
    body = (b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: aliased\n"
            b"  labels: &l {app: web}\n  annotations: *l\ndata:\n  <<: *l\n  extra: 'yes'\n")
    r = _post_yaml(server, ns, body)
    assert r.status_code == 201, r.text
    cm = r.json()
    assert cm["metadata"]["labels"] == cm["metadata"]["annotations"] == {"app": "web"}
    assert cm["data"] == {"app": "web", "extra": "yes"}


def _flat_list(name: str, items: int) -> bytes:
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\nitems:\n"
    return head.encode() + b"- a\n" * items


def _request(path: str, body: bytes, content_type: str, server: Server) -> socket.socket:
    s = server.connect()
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    s.sendall(head + body)
    return s


def _readable(s: socket.socket) -> bool:
    return bool(select.select([s], [], [], 0)[0])


def _read_response(s: socket.socket) -> bytes:
    s.settimeout(120)
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    return data


def test_a_large_flat_yaml_list_leaves_the_server_responsive(server: Server, ns: str) -> None:
    """2.8 MB of YAML takes seconds to decode: /readyz is answered meanwhile, again and
    again, while that request has not been answered yet."""
    body = _flat_list("flat", 700_000)
    assert 2_700_000 < len(body) < 3 * 1024 * 1024
    path = f"/api/v1/namespaces/{ns}/configmaps?fieldValidation=Ignore"
    heavy = _request(path, body, "application/yaml", server)  # the whole body is sent
    answered_meanwhile = 0
    with server.client() as c:
        for _ in range(1000):  # bounded: ends when the heavy answer is there
            assert c.get("/readyz").status_code == 200
            if _readable(heavy):
                break
            answered_meanwhile += 1
    reply = _read_response(heavy)
    heavy.close()
    assert reply.startswith(b"HTTP/1.1 201"), reply[:300]
    assert answered_meanwhile >= 3
    with server.client() as c:
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps/flat").status_code == 200


def test_the_duplicate_walk_reports_each_mapping_once(server: Server, ns: str) -> None:
    body = (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: twice}\n"
            b"data: &d\n  a: '1'\n  a: '2'\nx: [*d, *d, *d]\n")
    r = _post_yaml(server, ns, body, fieldValidation="Strict")
    assert r.status_code == 400
    assert r.json()["message"].count('key "a" already set in map') == 1


def _status(reply: bytes) -> tuple[int, dict[str, Any]]:
    import json
    head, _, payload = reply.partition(b"\r\n\r\n")
    code = int(head.split()[1])
    if b"transfer-encoding: chunked" in head.lower():
        size, _, rest = payload.partition(b"\r\n")
        payload = rest[:int(size, 16)]
    return code, json.loads(payload)


def test_a_declared_100mb_body_is_refused_before_it_is_sent(server: Server, ns: str) -> None:
    s = server.connect()
    s.sendall((f"POST /api/v1/namespaces/{ns}/configmaps HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n").encode())
    code, status = _status(_read_response(s))  # not one byte of the body was sent
    s.close()
    assert code == 413
    assert status["reason"] == "RequestEntityTooLarge"
    assert status["message"] == "Request entity too large: limit is 3145728"


def test_a_streamed_body_is_refused_once_it_passes_the_cap(server: Server, ns: str) -> None:
    """Chunked upload of up to 100 MB: the 413 comes while it is still being sent, and
    the server stops reading, so far less than 100 MB ever leaves the client."""
    s = server.connect()
    s.sendall((f"POST /api/v1/namespaces/{ns}/configmaps HTTP/1.1\r\nHost: x\r\n"
               "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode())
    sent = send_until_answered(s, b"10000\r\n" + b" " * 0x10000 + b"\r\n", 100_000_000)
    code, status = _status(_read_response(s))
    s.close()
    assert code == 413 and status["reason"] == "RequestEntityTooLarge"
    assert sent < 20_000_000, sent
