"""A gRPC health server (grpc.health.v1.Health/Check) for the grpc probe's tests, written
on h2 (a different HTTP/2 implementation than the probe's grpcio, so the tests check the
wire, not one library against itself). It runs on the host over loopback and, copied into
a local image (tests/kubelet/grpcimage.py), inside a pod's container.

`python grpc_health_server.py PORT DIR [HOST]` (HOST: 0.0.0.0 unless given): a service's status is the text of DIR/<service>
(DIR/_ for the empty service name), read at every call: SERVING, NOT_SERVING, ...; no such
file answers NOT_FOUND, as grpc's own health servicer does for an unknown service. Any
other method answers UNIMPLEMENTED.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import h2.config
import h2.connection
import h2.events

STATUS = {"UNKNOWN": 0, "SERVING": 1, "NOT_SERVING": 2, "SERVICE_UNKNOWN": 3}


def _service(body: bytes) -> str:
    message = body[5:]  # the gRPC frame: compressed flag, 4-byte length, message
    if len(message) >= 2 and message[0] == 0x0A:
        return message[2:2 + message[1]].decode()  # field 1, names under 128 bytes
    return ""


def answer(path: str, body: bytes, folder: Path) -> tuple[bytes, int, str]:
    """(response message, grpc-status, grpc-message) for one call."""
    if path != "/grpc.health.v1.Health/Check":
        return b"", 12, f"unknown method {path}"
    service = _service(body)
    try:
        text = (folder / (service or "_")).read_text().strip()
    except FileNotFoundError:
        return b"", 5, "unknown service"
    return b"\x08" + bytes([STATUS.get(text, 0)]), 0, ""


async def _serve_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            folder: Path) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    writer.write(conn.data_to_send())
    paths: dict[int, str] = {}
    bodies: dict[int, bytes] = {}
    while data := await reader.read(65536):
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                paths[event.stream_id] = dict(event.headers).get(b":path", b"").decode()
            elif isinstance(event, h2.events.DataReceived):
                bodies[event.stream_id] = bodies.get(event.stream_id, b"") + event.data
                conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            elif isinstance(event, h2.events.StreamEnded):
                _respond(conn, event.stream_id, paths.pop(event.stream_id, ""),
                         bodies.pop(event.stream_id, b""), folder)
        writer.write(conn.data_to_send())
        await writer.drain()
    writer.close()


def _respond(conn: h2.connection.H2Connection, stream: int, path: str, body: bytes,
             folder: Path) -> None:
    message, status, detail = answer(path, body, folder)
    conn.send_headers(stream, [(":status", "200"), ("content-type", "application/grpc")])
    if status == 0:
        conn.send_data(stream, b"\x00" + len(message).to_bytes(4, "big") + message)
    conn.send_headers(stream, [("grpc-status", str(status)), ("grpc-message", detail)],
                      end_stream=True)


async def main(port: int, folder: Path, host: str) -> None:
    server = await asyncio.start_server(
        lambda r, w: _serve_connection(r, w, folder), host, port)
    print(f"serving on {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), Path(sys.argv[2]),
                     sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0"))
