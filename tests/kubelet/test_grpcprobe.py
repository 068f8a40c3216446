"""The grpc probe against a real gRPC health server (tests/kubelet/grpc_health_server.py,
on h2) on loopback: healthy, unhealthy, an unknown service, a server without the health
service, nothing listening; and the health messages' wire format."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from runtime.kubelet import grpcprobe
from runtime.kubelet.probes import Prober

SERVER = Path(__file__).with_name("grpc_health_server.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def health(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("health")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), str(port), str(folder), "127.0.0.1"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and "serving" in proc.stdout.readline()
        yield port, folder
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _probe(port: int, service: str = "", timeout: int = 5) -> tuple[bool, str]:
    prober = Prober(None, on_change=lambda uid: None, clock=lambda: 0.0)
    probe = {"grpc": {"port": port, **({"service": service} if service else {})},
             "timeoutSeconds": timeout}
    return asyncio.run(prober.run(probe, {"name": "c"}, "cid", "127.0.0.1"))


def test_a_serving_service_passes(health: tuple[int, Path]) -> None:
    port, folder = health
    (folder / "_").write_text("SERVING")
    (folder / "api").write_text("SERVING")
    assert _probe(port) == (True, "service healthy")
    assert _probe(port, "api") == (True, "service healthy")


def test_a_not_serving_service_fails_with_its_status(health: tuple[int, Path]) -> None:
    port, folder = health
    (folder / "db").write_text("NOT_SERVING")
    assert _probe(port, "db") == (False, 'service unhealthy (responded with "NOT_SERVING")')


def test_an_unknown_service_fails_with_the_servers_error(health: tuple[int, Path]) -> None:
    port, _ = health
    ok, message = _probe(port, "nosuch")
    assert not ok
    assert message == ("error: health rpc probe failed: rpc error: code = NotFound "
                       "desc = unknown service")


def test_nothing_listening_fails_within_the_timeout() -> None:
    ok, message = _probe(_free_port(), timeout=1)
    assert not ok and message.startswith("timeout: failed to connect service"), message


def test_the_health_messages_wire_format() -> None:
    assert grpcprobe.encode_request("") == b""
    assert grpcprobe.encode_request("api") == b"\x0a\x03api"
    long = "s" * 200
    assert grpcprobe.encode_request(long) == b"\x0a\xc8\x01" + long.encode()
    assert grpcprobe.decode_status(b"") == 0
    assert grpcprobe.decode_status(b"\x08\x01") == 1
    # unknown fields of every wire type are skipped
    assert grpcprobe.decode_status(b"\x12\x02xy\x19" + bytes(8) + b"\x08\x02") == 2
