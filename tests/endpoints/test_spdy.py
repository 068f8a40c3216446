"""SPDY/3.1 framing (kapi/endpoints/streams/spdy.py): round trips of every frame, header
compression across blocks, cut input, and a session with a real kubectl 1.27 `exec`
(which speaks SPDY) against a bare server built on the framing alone."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from kapi.endpoints.streams import spdy
from tests.conftest import kubectls


def test_dictionary_is_the_spdy3_one() -> None:
    assert len(spdy.DICTIONARY) == 1423
    assert hashlib.sha256(spdy.DICTIONARY).hexdigest() == (
        "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02")


FRAMES: list[spdy.Frame] = [
    spdy.SynStream(1, {"streamtype": ["error"], "port": ["80"]}, priority=2),
    spdy.SynStream(3, {"streamtype": ["stdin"], "multi": ["a", "b"]}, fin=True),
    spdy.SynReply(1, {}),
    spdy.SynReply(3, {"x": ["y"]}, fin=True),
    spdy.HeadersFrame(5, {"k": ["v"]}),
    spdy.RstStream(7, spdy.CANCEL),
    spdy.Settings(((0, 7, 65536), (1, 4, 100))),
    spdy.Ping(2),
    spdy.GoAway(9, 0),
    spdy.WindowUpdate(1, 4096),
    spdy.Data(1, b"hello", fin=True),
    spdy.Data(3, b""),
]


def test_every_frame_round_trips_through_one_compression_context() -> None:
    writer, reader = spdy.Connection(), spdy.Connection()
    wire = b"".join(writer.send(f) for f in FRAMES)
    assert reader.receive(wire) == FRAMES


def test_frames_cut_anywhere_come_out_whole() -> None:
    writer, reader = spdy.Connection(), spdy.Connection()
    wire = b"".join(writer.send(f) for f in FRAMES)
    got = [f for i in range(len(wire)) for f in reader.receive(wire[i:i + 1])]
    assert got == FRAMES


def test_large_data_is_cut_into_frames_with_fin_on_the_last() -> None:
    payload = bytes(range(256)) * 600  # 153600 bytes: five frames
    frames = spdy.Connection().send(spdy.Data(5, payload, fin=True))
    got = spdy.Connection().receive(frames)
    assert b"".join(f.data for f in got if isinstance(f, spdy.Data)) == payload
    assert [f.fin for f in got if isinstance(f, spdy.Data)] == [False] * 4 + [True]


def test_other_versions_and_broken_blocks_are_protocol_errors() -> None:
    with pytest.raises(spdy.ProtocolError):
        spdy.Connection().receive(b"\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01")
    with pytest.raises(spdy.ProtocolError):  # a header block that is not zlib
        spdy.Connection().receive(b"\x80\x03\x00\x02\x00\x00\x00\x08\x00\x00\x00\x01junk")


POD = {"apiVersion": "v1", "kind": "Pod",
       "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
       "spec": {"containers": [{"name": "c", "image": "busybox"}]},
       "status": {"phase": "Running"}}


def _document(path: str) -> object:
    """Just enough discovery for kubectl to find pods, and the pod itself."""
    path = path.split("?")[0]
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"]}
    if path == "/apis":
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": []}
    if path == "/api/v1":
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod",
             "verbs": ["get", "list"], "shortNames": ["po"]},
            {"name": "pods/exec", "singularName": "", "namespaced": True,
             "kind": "PodExecOptions", "verbs": ["create", "get"]}]}
    return POD


def _serve(listener: socket.socket, seen: dict[str, object]) -> None:
    """A bare server, one thread per connection (kubectl discovers in parallel)."""
    listener.settimeout(0.5)
    while "streams" not in seen and not seen.get("stop"):
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        threading.Thread(target=_connection, args=(conn, seen), daemon=True).start()


def _connection(conn: socket.socket, seen: dict[str, object]) -> None:
    """The pod and discovery on GET; an exec over SPDY on the upgrade request."""
    conn.settimeout(30)
    with conn:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                data = conn.recv(65536)
                if not data:
                    return
                buffer += data
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            if b"upgrade: spdy/3.1" in head.lower():
                seen["request"] = head.decode()
                return _exec(conn, buffer, seen)
            body = json.dumps(_document(head.split(b" ")[1].decode())).encode()
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))


def _exec(conn: socket.socket, buffer: bytes, seen: dict[str, object]) -> None:
    """Record the client's streams, write stdout, end with exit code 4."""
    conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                 b"Upgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io"
                 b"\r\n\r\n")
    session, streams = spdy.Connection(), {}
    data = buffer
    while not {"error", "stdout", "stderr"} <= streams.keys():
        for frame in session.receive(data):
            if isinstance(frame, spdy.SynStream):
                streams[spdy.header(frame.headers, "streamtype")] = frame.stream_id
                conn.sendall(session.send(spdy.SynReply(frame.stream_id)))
        data = conn.recv(65536)
    status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
              "message": "command terminated with non-zero exit code: exit status 4",
              "details": {"causes": [{"reason": "ExitCode", "message": "4"}]}}
    out = [spdy.Data(streams["stdout"], b"from-spdy\n"),
           spdy.Data(streams["error"], json.dumps(status).encode())]
    out += [spdy.Data(sid, b"", fin=True) for sid in streams.values()]
    conn.sendall(b"".join(session.send(f) for f in [*out, spdy.GoAway(0)]))
    seen["streams"] = sorted(streams)


def test_real_kubectl_speaks_to_the_framing(tmp_path: Path) -> None:
    binary = kubectls().get("1.27")
    if binary is None:
        pytest.skip("kubectl 1.27 is not installed")
    listener = socket.create_server(("127.0.0.1", 0))
    port, seen = listener.getsockname()[1], {}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {}}]}))
    thread = threading.Thread(target=_serve, args=(listener, seen), daemon=True)
    thread.start()
    try:
        p = subprocess.run([str(binary), "--kubeconfig", str(kubeconfig), "exec", "p",
                            "--", "true"], capture_output=True, text=True,
                           timeout=30)
    finally:
        seen["stop"] = True
        thread.join(timeout=10)
        listener.close()
    assert "upgrade: spdy/3.1" in str(seen.get("request", "")).lower(), p.stderr
    assert seen["streams"] == ["error", "stderr", "stdout"]
    assert p.stdout == "from-spdy\n"
    assert p.returncode == 4, p.stderr
