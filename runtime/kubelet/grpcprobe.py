"""The grpc probe handler: one grpc.health.v1.Health/Check call to a container's port.

It owns the wire format of the two tiny health messages (HealthCheckRequest: field 1,
the service name; HealthCheckResponse: field 1, the status enum) and upstream's result
messages. The transport is grpcio's asyncio API (`grpc.aio`): a gRPC call needs HTTP/2
with trailers (its grpc-status travels in them), which httpx does not expose, and grpcio
is maintained and already installed with kapi (the etcd backend's client runs on it), so
a hand-rolled HTTP/2 client would only add code to keep; the health proto's generated
module is not needed for two one-field messages. It reaches only the address it is given
(the pod's IP, as upstream) and uses no credentials (upstream's probe is insecure too).
"""

from __future__ import annotations

import asyncio
from typing import Any

CHECK = "/grpc.health.v1.Health/Check"
STATUSES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
USER_AGENT = "kube-probe/1.33"


def encode_request(service: str) -> bytes:
    """HealthCheckRequest{service}: proto3 leaves an empty string out."""
    data = service.encode()
    return b"\x0a" + _varint(len(data)) + data if data else b""


def decode_status(message: bytes) -> int:
    """HealthCheckResponse.status (0, UNKNOWN, when absent); other fields are skipped."""
    i, status = 0, 0
    while i < len(message):
        key, i = _read_varint(message, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(message, i)
            if field == 1:
                status = value
        elif wire == 2:
            size, i = _read_varint(message, i)
            i += size
        elif wire in (1, 5):
            i += 8 if wire == 1 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
    return status


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        low, n = n & 0x7F, n >> 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        if i >= len(data):
            raise ValueError("truncated varint")
        b = data[i]
        value |= (b & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if not b & 0x80:
            return value, i


async def check(host: str, port: int, service: str, timeout: float) -> tuple[bool, str]:
    """One health check: (healthy, upstream's message)."""
    import grpc

    addr = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    options = [("grpc.primary_user_agent", USER_AGENT)]
    channel = grpc.aio.insecure_channel(addr, options=options)
    try:
        try:
            async with asyncio.timeout(timeout):  # not wait_for: see probes.py
                await channel.channel_ready()
        except TimeoutError:
            return False, (f'timeout: failed to connect service "{addr}" within '
                           f"{_seconds(timeout)}: context deadline exceeded")
        call: Any = channel.unary_unary(CHECK, request_serializer=encode_request,
                                        response_deserializer=decode_status)
        try:
            status = await call(service, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            return False, _rpc_error(e, timeout)
    finally:
        await channel.close()
    if status != 1:
        return False, f'service unhealthy (responded with "{STATUSES.get(status, status)}")'
    return True, "service healthy"


def _rpc_error(e: Any, timeout: float) -> str:
    import grpc

    code = e.code()
    if code == grpc.StatusCode.UNIMPLEMENTED:
        return ("error: this server does not implement the grpc health protocol "
                f"(grpc.health.v1.Health): {e.details()}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"timeout: health rpc did not complete within {_seconds(timeout)}"
    name = code.name if code is not None else "Unknown"
    return (f"error: health rpc probe failed: rpc error: code = "
            f"{_camel(name)} desc = {e.details()}")


def _camel(name: str) -> str:
    """grpc-go's code names: NOT_FOUND -> NotFound."""
    return "".join(part.capitalize() for part in name.split("_"))


def _seconds(timeout: float) -> str:
    """A Go time.Duration's form, as upstream's messages print it: 1s, 1.5s."""
    return f"{timeout:g}s"
