"""What admission costs a write: ConfigMap creates/s against a fresh `kapi apiserver`
with nothing configured, with a ValidatingAdmissionPolicy bound to configmaps (two CEL
validations), and with a validating webhook (the conformance stand-in, over HTTPS on
loopback through a Service). `python -m bench.admission [--count N]` prints one table.

Sequential creates over one keep-alive connection, bounded by count; prints figures and
never asserts them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.api import free_port
from bench.procs import readyz, start_server, stop_server
from conformance.images.webhook import WebhookServer

ADM = "/apis/admissionregistration.k8s.io/v1"


def _start(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "kapi.cli", "apiserver", "--insecure-http", "--data-dir",
            str(data), "--port", str(port)]
    return start_server(argv, data / "server.log", readyz(url), "kapi to become ready"), url


def _rate(c: httpx.Client, ns: str, count: int) -> float:
    c.post("/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    start = time.perf_counter()
    for i in range(count):
        c.post(f"/api/v1/namespaces/{ns}/configmaps",
               json={"metadata": {"name": f"cm-{i}"}, "data": {"a": "b"}}).raise_for_status()
    return count / (time.perf_counter() - start)


def _policy(c: httpx.Client) -> None:
    c.post(f"{ADM}/validatingadmissionpolicies", json={
        "metadata": {"name": "bench"}, "spec": {
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                "resources": ["configmaps"]}]},
            "validations": [{"expression": "size(object.data) < 10"},
                            {"expression": "object.metadata.name.startsWith('cm-')"}]}}
           ).raise_for_status()
    c.post(f"{ADM}/validatingadmissionpolicybindings", json={
        "metadata": {"name": "bench"}, "spec": {
            "policyName": "bench", "validationActions": ["Deny"],
            "matchResources": {"namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "with-policy"}}}}}).raise_for_status()


def _webhook(c: httpx.Client, server: WebhookServer) -> None:
    c.post("/api/v1/namespaces/default/services", json={
        "metadata": {"name": "bench-webhook"},
        "spec": {"ports": [{"port": 443, "targetPort": server.port}]}}).raise_for_status()
    c.post("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", json={
        "metadata": {"name": "bench-webhook", "labels": {
            "kubernetes.io/service-name": "bench-webhook"}},
        "addressType": "IPv4", "ports": [{"name": "", "port": server.port}],
        "endpoints": [{"addresses": [server.host]}]}).raise_for_status()
    c.post(f"{ADM}/validatingwebhookconfigurations", json={
        "metadata": {"name": "bench"}, "webhooks": [{
            "name": "bench.example.com", "sideEffects": "None",
            "admissionReviewVersions": ["v1"],
            "clientConfig": {"caBundle": server.ca_bundle, "service": {
                "namespace": "default", "name": "bench-webhook", "path": "/configmaps"}},
            "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                       "resources": ["configmaps"]}],
            "namespaceSelector": {"matchLabels": {
                "kubernetes.io/metadata.name": "with-webhook"}}}]}).raise_for_status()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args(argv)
    server = WebhookServer("bench-webhook.default.svc")
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = _start(Path(tmp))
        try:
            with httpx.Client(base_url=url, timeout=30) as c:
                rows: list[tuple[str, Any]] = [("nothing configured", _rate(c, "plain", args.count))]
                _policy(c)
                time.sleep(1)  # configurations reach admission through the watch cache
                rows.append(("a bound ValidatingAdmissionPolicy", _rate(c, "with-policy", args.count)))
                _webhook(c, server)
                time.sleep(1)
                rows.append(("a validating webhook (HTTPS)", _rate(c, "with-webhook", args.count)))
        finally:
            stop_server(proc)
            server.stop()
    print(f"ConfigMap creates/s, sequential, {args.count} each")
    for name, rate in rows:
        print(f"  {name:<36} {rate:8.1f}")


if __name__ == "__main__":
    main()
