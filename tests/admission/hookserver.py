"""A test HTTPS server standing in for admission webhooks and an aggregated API server:
a throwaway CA and a serving certificate (made with the openssl command) for 127.0.0.1
and a service name, and a handler whose answer depends on the path.

Webhook paths answer an AdmissionReview: /allow, /deny (with a message), /warn (allowed
with a warning), /mutate (adds label `mutated: yes` with a JSON patch). /convert answers a
ConversionReview between v1 (`spec.host` and `spec.port`) and v2 (`spec.hostPort`,
"host:port") of any group; /convert-fail answers it with a Failure. Every review
received is kept in `reviews`. /apis/... paths answer as a tiny API server for the group
`wardle.example.com/v1alpha1` with a few `flunders`, described by its /openapi/v2 and
/openapi/v3 documents.
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

GROUP, VERSION = "wardle.example.com", "v1alpha1"
FLUNDERS = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "Flunder",
             "metadata": {"name": f"flunder-{i}", "namespace": "default",
                          "creationTimestamp": "2026-01-01T00:00:00Z"}} for i in range(3)]


def make_certs(folder: Path, names: tuple[str, ...] = ()) -> tuple[Path, Path, str]:
    """(cert, key, caBundle in base64) for 127.0.0.1 and `names`."""
    ca_key, ca = folder / "ca.key", folder / "ca.crt"
    key, csr, cert = folder / "tls.key", folder / "tls.csr", folder / "tls.crt"
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)  # noqa: E731
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out",
        str(ca), "-days", "2", "-subj", "/CN=test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", "/CN=webhook")
    san = ",".join(["IP:127.0.0.1", *(f"DNS:{n}" for n in names)])
    ext = folder / "san.ext"
    ext.write_text(f"subjectAltName={san}\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
        "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return cert, key, base64.b64encode(ca.read_bytes()).decode()


_FLUNDER_SCHEMA = {
    "description": "A Flunder is a test kind of the wardle aggregated server.",
    "type": "object",
    "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": {"type": "object", "description": "What the flunder wants.", "properties": {
            "reference": {"type": "string",
                          "description": "The name of another flunder it refers to."}}}},
    "x-kubernetes-group-version-kind": [{"group": GROUP, "version": VERSION,
                                         "kind": "Flunder"}]}
_DEF = "com.example.wardle.v1alpha1.Flunder"
_PATH = f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/flunders/{{name}}"
_GET = {"get": {"operationId": "readFlunder", "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": "get", "x-kubernetes-group-version-kind": {
                    "group": GROUP, "version": VERSION, "kind": "Flunder"}}}
OPENAPI_V2 = {"swagger": "2.0", "info": {"title": "wardle", "version": "v0"},
              "paths": {_PATH: _GET},
              "definitions": {_DEF: _FLUNDER_SCHEMA}}
OPENAPI_V3 = {"openapi": "3.0.0", "info": {"title": "wardle", "version": "v0"},
              "paths": {_PATH: _GET}, "components": {"schemas": {_DEF: _FLUNDER_SCHEMA}}}
_V3_ROOT = {"paths": {f"apis/{GROUP}/{VERSION}": {
    "serverRelativeURL": f"/openapi/v3/apis/{GROUP}/{VERSION}?hash=0123"}}}


class _Handler(BaseHTTPRequestHandler):
    server: HookServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["content-length"])))
        path = self.path.split("?")[0]
        self.server.reviews.append((path, self.headers, review))
        if review.get("kind") == "ConversionReview":
            self._send(200, _conversion(path, review))
            return
        req = review["request"]
        resp: dict[str, Any] = {"uid": req["uid"], "allowed": True}
        if path == "/deny":
            resp = {"uid": req["uid"], "allowed": False,
                    "status": {"code": 403, "message": "this webhook denies everything"}}
        elif path == "/warn":
            resp["warnings"] = ["hook says hello"]
        elif path == "/mutate":
            labels = (req["object"].get("metadata") or {}).get("labels")
            ops = [{"op": "add", "path": "/metadata/labels", "value": {}}] if not labels else []
            ops.append({"op": "add", "path": "/metadata/labels/mutated", "value": "yes"})
            resp |= {"patchType": "JSONPatch",
                     "patch": base64.b64encode(json.dumps(ops).encode()).decode()}
        self._send(200, {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "response": resp})

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        self.server.gets.append((path, dict(self.headers)))
        base = f"/apis/{GROUP}/{VERSION}"
        docs = {"/openapi/v2": OPENAPI_V2, "/openapi/v3": _V3_ROOT,
                f"/openapi/v3/apis/{GROUP}/{VERSION}": OPENAPI_V3}
        if path in docs:
            self._send(200, docs[path])
        elif path == base:
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1",
                             "groupVersion": f"{GROUP}/{VERSION}", "resources": [
                                 {"name": "flunders", "singularName": "flunder",
                                  "namespaced": True, "kind": "Flunder",
                                  "verbs": ["get", "list"]}]})
        elif path == f"{base}/namespaces/default/flunders" and "watch=true" in self.path:
            self._watch()
        elif path in (f"{base}/flunders", f"{base}/namespaces/default/flunders"):
            self._send(200, {"kind": "FlunderList", "apiVersion": f"{GROUP}/{VERSION}",
                             "metadata": {"resourceVersion": "1"}, "items": FLUNDERS})
        elif path.startswith(f"{base}/namespaces/default/flunders/"):
            name = path.rsplit("/", 1)[1]
            found = [f for f in FLUNDERS if f["metadata"]["name"] == name]
            self._send(200 if found else 404, found[0] if found else {
                "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
                "reason": "NotFound", "message": f'flunders "{name}" not found'})
        else:
            self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "code": 404, "reason": "NotFound", "message": "not found"})


    def _watch(self) -> None:
        """A watch: one ADDED event per flunder, each written and flushed on its own,
        then the stream ends (HTTP/1.0: the close ends the body)."""
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.end_headers()
        for f in FLUNDERS:
            self.wfile.write(json.dumps({"type": "ADDED", "object": f}).encode() + b"\n")
            self.wfile.flush()


def _convert(obj: dict[str, Any], api_version: str) -> dict[str, Any]:
    spec = dict(obj.get("spec") or {})
    if api_version.endswith("/v2") and "host" in spec:
        spec["hostPort"] = f"{spec.pop('host')}:{spec.pop('port', 80)}"
    elif api_version.endswith("/v1") and "hostPort" in spec:
        host, _, port = spec.pop("hostPort").rpartition(":")
        spec |= {"host": host, "port": int(port)}
    return dict(obj, apiVersion=api_version, spec=spec)


def _conversion(path: str, review: dict[str, Any]) -> dict[str, Any]:
    req = review["request"]
    if path == "/convert-fail":
        resp = {"uid": req["uid"], "result": {"status": "Failure",
                                              "message": "conversion is down for maintenance"}}
    else:
        resp = {"uid": req["uid"], "result": {"status": "Success"}, "convertedObjects": [
            _convert(o, req["desiredAPIVersion"]) for o in req["objects"]]}
    return {"apiVersion": review["apiVersion"], "kind": "ConversionReview", "response": resp}


class HookServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self.socket = ctx.wrap_socket(self.socket, server_side=True)
        self.reviews: list[tuple[str, Any, dict[str, Any]]] = []
        self.gets: list[tuple[str, dict[str, str]]] = []
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> HookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
