"""A stand-in for agnhost's `webhook` subcommand (the sample admission webhook upstream's
AdmissionWebhook tests deploy): an HTTPS server answering AdmissionReview v1 on the
paths those tests register, with agnhost's decisions, messages and JSON patches.

Upstream runs it as a Deployment behind the Service `e2e-test-webhook`; the ports run
it in the conformance process instead and point that Service at it through a
selector-less Service and an EndpointSlice (`KAPI_WEBHOOK_HOST`, default 127.0.0.1: the
address the API server reaches this process at). Its certificate is made with the
openssl command for `<service>.<namespace>.svc`, signed by a throwaway CA whose PEM is the
webhooks' caBundle. Threads only: no container, no registry.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HOST = os.environ.get("KAPI_WEBHOOK_HOST", "127.0.0.1")
HANG_SECONDS = 40  # "wait-forever" outlasts any webhook timeout (at most 30 s)


def _patch(ops: list[dict[str, Any]]) -> dict[str, Any]:
    return {"patchType": "JSONPatch",
            "patch": base64.b64encode(json.dumps(ops).encode()).decode()}


def _deny(message: str) -> dict[str, Any]:
    return {"allowed": False, "status": {"message": message}}


def _pods(req: dict[str, Any]) -> dict[str, Any]:
    pod = req.get("object") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    if labels.get("webhook-e2e-test") == "wait-forever":
        time.sleep(HANG_SECONDS)
    msgs = []
    if any(c.get("name") == "webhook-disallow"
           for c in (pod.get("spec") or {}).get("containers") or []):
        msgs.append("the pod contains unwanted container name;")
    if labels.get("webhook-e2e-test") == "webhook-disallow":
        msgs.append("the pod contains unwanted label;")
    return _deny(" ".join(msgs)) if msgs else {"allowed": True}


def _configmaps(req: dict[str, Any]) -> dict[str, Any]:
    obj = req.get("object") or req.get("oldObject") or {}
    data = obj.get("data") or {}
    if req.get("operation") == "DELETE" and \
            data.get("webhook-e2e-test") == "webhook-nondeletable":
        return _deny("the configmap cannot be deleted because it contains unwanted key and value")
    if data.get("webhook-e2e-test") == "webhook-disallow":
        return _deny("the configmap contains unwanted key and value")
    return {"allowed": True}


def _mutating_configmaps(req: dict[str, Any]) -> dict[str, Any]:
    data = (req.get("object") or {}).get("data") or {}
    out: dict[str, Any] = {"allowed": True}
    if data.get("mutation-start") == "yes":
        out |= _patch([{"op": "add", "path": "/data/mutation-stage-1", "value": "yes"}])
    if data.get("mutation-stage-1") == "yes":
        out |= _patch([{"op": "add", "path": "/data/mutation-stage-2", "value": "yes"}])
    return out


def _mutating_pods(req: dict[str, Any]) -> dict[str, Any]:
    pod = req.get("object") or {}
    if (pod.get("metadata") or {}).get("name") != "webhook-to-be-mutated":
        return {"allowed": True}
    return {"allowed": True} | _patch([{"op": "add", "path": "/spec/initContainers", "value": [
        {"image": "webhook-added-image", "name": "webhook-added-init-container",
         "resources": {}}]}])


def _delay(req: dict[str, Any]) -> dict[str, Any]:
    time.sleep(5)
    return {"allowed": True}


HANDLERS = {
    "/always-deny": lambda req: _deny("this webhook denies all requests"),
    "/always-allow-delay-5s": _delay,
    "/add-label": lambda req: {"allowed": True} | _patch([{
        "op": "add", "path": "/metadata/labels", "value": {"added-label": "yes"}}]),
    "/pods": _pods,
    "/pods/attach": lambda req: _deny(f"attaching to pod '{req.get('name', '')}' is not allowed"),
    "/configmaps": _configmaps,
    "/mutating-configmaps": _mutating_configmaps,
    "/mutating-pods": _mutating_pods,
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A caller that gave up (a webhook timeout) is expected: nothing to print."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as agnhost's Go server: one TLS handshake
    wbufsize = 1 << 16  # headers and body leave in one write (no Nagle/delayed-ACK stall)
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        handler = HANDLERS.get(path)
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
        if handler is None:
            self.send_error(404)
            return
        req = body.get("request") or {}
        resp = {"uid": req.get("uid", "")} | handler(req)
        data = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                           "response": resp}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _certs(folder: Path, dns_name: str) -> tuple[Path, Path, bytes]:
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "ca.key"),
        "-out", str(folder / "ca.crt"), "-days", "1", "-subj", "/CN=e2e-webhook-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(folder / "tls.key"),
        "-out", str(folder / "tls.csr"), "-subj", f"/CN={dns_name}")
    (folder / "san.ext").write_text(f"subjectAltName=DNS:{dns_name}\n")
    run("x509", "-req", "-in", str(folder / "tls.csr"), "-CA", str(folder / "ca.crt"),
        "-CAkey", str(folder / "ca.key"), "-CAcreateserial", "-out", str(folder / "tls.crt"),
        "-days", "1", "-extfile", str(folder / "san.ext"))
    return folder / "tls.crt", folder / "tls.key", (folder / "ca.crt").read_bytes()


class WebhookServer:
    """The running stand-in: `port`, and `ca_bundle` (base64 PEM) for clientConfig."""

    def __init__(self, dns_name: str) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="e2e-webhook-")
        cert, key, ca = _certs(Path(self._dir.name), dns_name)
        self.ca_bundle = base64.b64encode(ca).decode()
        self._server = _Server(("0.0.0.0", 0), _Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.host = HOST
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._dir.cleanup()
