"""Reading a kubeconfig: the server URL, the bearer token, and the TLS settings of its
current context (the CA to trust, the client certificate to present), as client-go does.

Inline data (`certificate-authority-data`, `client-certificate-data`, `client-key-data`)
and file paths (`certificate-authority`, `client-certificate`, `client-key`, relative to
the kubeconfig's folder) both work. Python's ssl module loads a certificate and key only
from files, so inline ones pass through a private temporary folder that is removed as
soon as they are loaded.

Owns reading; never writes a kubeconfig and never opens a connection.
"""

from __future__ import annotations

import base64
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Target:
    """Where and as whom a kubeconfig's current context connects."""

    server: str
    headers: dict[str, str]
    ssl_context: ssl.SSLContext | None  # None: plain http


def load(path: str | Path, *, token: str | None = None) -> Target:
    """`token`: connect as the identity that bearer token names instead of the
    kubeconfig's user (the cluster's CA still applies)."""
    path = Path(path)
    kc = yaml.safe_load(path.read_text())
    ctx_name = kc.get("current-context")
    ctx = next(c["context"] for c in kc["contexts"] if c["name"] == ctx_name)
    cluster = next(c["cluster"] for c in kc["clusters"] if c["name"] == ctx["cluster"])
    user: dict[str, Any] = next((u["user"] for u in kc.get("users", [])
                                 if u["name"] == ctx.get("user")), {}) or {}
    if token is not None:
        user = {"token": token}
    headers = {"Authorization": f"Bearer {user['token']}"} if user.get("token") else {}
    server = cluster["server"]
    tls = ssl_context(cluster, user, path.parent) if server.startswith("https://") else None
    return Target(server, headers, tls)


def _data(entry: dict[str, Any], key: str, base: Path) -> bytes | None:
    """An inline `<key>-data` (base64) or the file `<key>` names."""
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return (base / entry[key]).read_bytes()
    return None


def ssl_context(cluster: dict[str, Any], user: dict[str, Any], base: Path) -> ssl.SSLContext:
    ca = _data(cluster, "certificate-authority", base)
    ctx = ssl.create_default_context(cadata=ca.decode() if ca else None)
    if cluster.get("insecure-skip-tls-verify"):
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    if cluster.get("tls-server-name"):
        raise ValueError("tls-server-name in a kubeconfig is not supported")
    ctx.set_alpn_protocols(["http/1.1"])
    cert, key = _data(user, "client-certificate", base), _data(user, "client-key", base)
    if cert and key:
        with tempfile.TemporaryDirectory(prefix="kapi-client-") as d:  # 0700
            (Path(d) / "tls.crt").write_bytes(cert)
            (Path(d) / "tls.key").write_bytes(key)
            ctx.load_cert_chain(Path(d) / "tls.crt", Path(d) / "tls.key")
    return ctx
