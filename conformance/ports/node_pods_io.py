"""Ports of the container-facing tests of test/e2e/common/node/pods.go: service
environment variables in a new pod, and exec and logs over websockets (the
channel.k8s.io and binary.k8s.io subprotocols)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlencode

import websocket
from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports.node_common import BUSYBOX, create_sync, uid
from conformance.ports.node_pods import restricted

P = "Pods › "
NEEDS = ("containers",)


@conformance(P + "contain environment variables for services", basename="pods", needs=NEEDS)
def service_env_vars(c: Ctx) -> None:
    server = f"server-envvars-{uid()}"
    # framework.ServeHostnameImage answers its hostname on 9376; busybox nc does the same
    create_sync(c, restricted(client.V1Pod(
        metadata=client.V1ObjectMeta(name=server, labels={"name": server}),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="srv", image=BUSYBOX, ports=[client.V1ContainerPort(container_port=9376)],
            command=["/bin/sh", "-c", "while true; do hostname | nc -l -p 9376; done"])]))))
    c.core.create_namespaced_service(c.ns, client.V1Service(
        metadata=client.V1ObjectMeta(name="fooservice", labels={"name": "fooservice"}),
        spec=client.V1ServiceSpec(ports=[client.V1ServicePort(port=8765, target_port=8080)],
                                  selector={"name": server})))
    expected = ["FOOSERVICE_SERVICE_HOST=", "FOOSERVICE_SERVICE_PORT=", "FOOSERVICE_PORT=",
                "FOOSERVICE_PORT_8765_TCP_PORT=", "FOOSERVICE_PORT_8765_TCP_PROTO=",
                "FOOSERVICE_PORT_8765_TCP=", "FOOSERVICE_PORT_8765_TCP_ADDR="]
    last: AssertionError | None = None
    for _ in range(3):  # the kubelet may not know the service yet: upstream retries
        name = f"client-envvars-{uid()}"
        pod = restricted(client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"name": name}),
            spec=client.V1PodSpec(restart_policy="Never", containers=[client.V1Container(
                name="env3cont", image=BUSYBOX, command=["sh", "-c", "env"])])))
        try:
            expect_container_output(c, "service env", pod, 0, expected)
            return
        except AssertionError as e:
            last = e
    raise AssertionError(f"Container should have service environment variables set: {last}")


def _open(c: Ctx, path: str, query: list[tuple[str, str]], protocol: str) -> Any:
    """e2ewebsocket.OpenWebSocketForURL with the client's server, credentials and TLS."""
    cfg = c.api.configuration
    url = cfg.host.replace("https://", "wss://").replace("http://", "ws://") + path
    headers = [f"Authorization: {v}" for k, v in (cfg.api_key or {}).items()
               if k.lower() == "authorization"]
    sslopt: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED if cfg.verify_ssl else ssl.CERT_NONE}
    if cfg.ssl_ca_cert:
        sslopt["ca_certs"] = cfg.ssl_ca_cert
    if cfg.cert_file:
        sslopt.update(certfile=cfg.cert_file, keyfile=cfg.key_file)
    return websocket.create_connection(f"{url}?{urlencode(query)}", header=headers,
                                       subprotocols=[protocol], sslopt=sslopt, timeout=60)


def _frames(ws: Any) -> list[bytes]:
    out = []
    while True:
        try:
            opcode, data = ws.recv_data()
        except websocket.WebSocketConnectionClosedException:
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
        out.append(data if isinstance(data, bytes) else data.encode())
    return out


def _busybox_pod(prefix: str, script: str) -> client.V1Pod:
    return restricted(client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"{prefix}-{uid()}"),
        spec=client.V1PodSpec(containers=[client.V1Container(
            name="main", image=BUSYBOX, command=["/bin/sh", "-c", script])])))


@conformance(P + "support remote command execution over websockets", basename="pods", needs=NEEDS)
def exec_websocket(c: Ctx) -> None:
    pod = create_sync(c, _busybox_pod("pod-exec-websocket", "echo container is alive; sleep 600"))
    query = [("stderr", "1"), ("stdout", "1"), ("container", "main"),
             ("command", "echo"), ("command", "remote execution test")]
    ws = _open(c, f"/api/v1/namespaces/{c.ns}/pods/{pod.metadata.name}/exec", query, "channel.k8s.io")
    try:
        out = b""
        for msg in _frames(ws):
            if not msg:
                continue
            if msg[0] != 1:
                assert len(msg) == 1, f"message from the server not on channel 1 (STDOUT): {msg!r}"
                continue
            out += msg[1:]
    finally:
        ws.close()
    assert out, "unexpected output from server"
    assert b"remote execution test" in out, f"expected 'remote execution test' in {out!r}"


@conformance(P + "support retrieving logs from the container over websockets", basename="pods",
             needs=NEEDS)
def logs_websocket(c: Ctx) -> None:
    pod = create_sync(c, _busybox_pod("pod-logs-websocket", "echo container is alive; sleep 10000"))
    ws = _open(c, f"/api/v1/namespaces/{c.ns}/pods/{pod.metadata.name}/log", [("container", "main")],
               "binary.k8s.io")
    try:
        got = b"".join(m for m in _frames(ws) if m.strip())
    finally:
        ws.close()
    assert got == b"container is alive\n", f"unexpected websocket logs: {got!r}"
