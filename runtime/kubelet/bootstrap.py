"""TLS bootstrapping of a node that joins with a bootstrap token (kubeadm join, k3s
agent): discover and pin the cluster CA, then get the node's own client certificate
through a CertificateSigningRequest, and write the kubeconfig the kubelet then runs with.

1. Discovery: an anonymous GET of kube-public/cluster-info over TLS *without* verifying
   the server (nothing is trusted yet, and no credential is sent), whose kubeconfig
   carries the CA; its public key must hash to `--ca-cert-hash sha256:<hex>` (kubeadm's
   pin: SHA-256 of the DER SubjectPublicKeyInfo), unless the caller chose to skip that.
2. With that CA verified, and the token as bearer: a CSR for CN system:node:NAME,
   O system:nodes, signer kubernetes.io/kube-apiserver-client-kubelet, usages digital
   signature and client auth, from a fresh ECDSA P-256 key that never leaves this node.
3. Wait (bounded) until it carries a certificate (the controller manager's approver and
   signer, or a person's `kubectl certificate approve`); Denied or Failed ends it.
4. Write the kubeconfig (0600: it holds the key) and return its path.

An existing kubeconfig whose certificate is still valid for more than a day is reused,
so a restarted node does not ask again. Owns that one file; never reads the token
anywhere but from its caller.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import os
import ssl
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from runtime.client.resources import GVR
from runtime.client.rest import Client

Obj = dict[str, Any]
CSRS = GVR("certificates.k8s.io", "v1", "certificatesigningrequests",
           "CertificateSigningRequest", namespaced=False)
CLUSTER_INFO = "/api/v1/namespaces/kube-public/configmaps/cluster-info"
SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"


class BootstrapError(RuntimeError):
    """Joining failed; str() says why, for the user."""


def ca_cert_hash(ca_pem: bytes) -> str:
    """kubeadm's CA pin: sha256:<hex of SHA-256 over the DER SubjectPublicKeyInfo>."""
    spki = x509.load_pem_x509_certificate(ca_pem).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(spki).hexdigest()


async def discover_ca(server: str, pin: str | None) -> bytes:
    """The cluster CA from cluster-info, checked against the pin (None: not checked)."""
    blind = ssl.create_default_context()
    blind.check_hostname, blind.verify_mode = False, ssl.CERT_NONE
    client = Client(server, ssl_context=blind, user_agent="kapi-kubelet-bootstrap")
    try:
        cm = await client.request("GET", CLUSTER_INFO)
    finally:
        await client.close()
    try:
        doc = yaml.safe_load(cm["data"]["kubeconfig"])
        ca = base64.b64decode(doc["clusters"][0]["cluster"]["certificate-authority-data"])
        found = ca_cert_hash(ca)
    except (KeyError, IndexError, TypeError, ValueError, yaml.YAMLError) as e:
        raise BootstrapError(f"cluster-info holds no usable CA ({e})") from None
    if pin is not None and found.lower() != pin.lower():
        raise BootstrapError(f"the cluster CA's hash {found} does not match "
                             f"--ca-cert-hash {pin}: refusing to send the token")
    return ca


def _request(node: str) -> tuple[bytes, bytes]:
    """(private key PEM, CSR PEM) for the node's client certificate."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return key_pem, csr.public_bytes(serialization.Encoding.PEM)


def _condition(csr: Obj, kind: str) -> Obj | None:
    return next((c for c in (csr.get("status") or {}).get("conditions") or []
                 if c.get("type") == kind), None)


async def request_certificate(client: Client, node: str, csr_pem: bytes,
                              timeout: float) -> bytes:
    """Create the CSR and wait for its certificate (PEM)."""
    body = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"generateName": "node-csr-"},
            "spec": {"request": base64.b64encode(csr_pem).decode(), "signerName": SIGNER,
                     "usages": ["digital signature", "client auth"]}}
    name = (await client.create(CSRS, body))["metadata"]["name"]
    print(f"kapi kubelet: waiting for CertificateSigningRequest {name} to be approved "
          f"and signed", flush=True)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        csr = await client.get(CSRS, name)
        for kind in ("Denied", "Failed"):
            c = _condition(csr, kind)
            if c is not None:
                raise BootstrapError(f"CertificateSigningRequest {name} was {kind.lower()}: "
                                     f"{c.get('reason', '')} {c.get('message', '')}".strip())
        cert = (csr.get("status") or {}).get("certificate")
        if cert:
            return base64.b64decode(cert)
        await asyncio.sleep(1.0)
    raise BootstrapError(f"CertificateSigningRequest {name} got no certificate within "
                         f"{timeout:.0f} s (approve it: kubectl certificate approve {name})")


def _write_kubeconfig(path: Path, server: str, ca: bytes, cert: bytes, key: bytes,
                      node: str) -> None:
    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()
    user = f"system:node:{node}"
    doc = {"apiVersion": "v1", "kind": "Config", "current-context": "kapi", "preferences": {},
           "clusters": [{"name": "kapi", "cluster": {"server": server,
                                                     "certificate-authority-data": b64(ca)}}],
           "users": [{"name": user, "user": {"client-certificate-data": b64(cert),
                                             "client-key-data": b64(key)}}],
           "contexts": [{"name": "kapi", "context": {"cluster": "kapi", "user": user}}]}
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(yaml.safe_dump(doc, sort_keys=False))
    tmp.replace(path)


def usable(path: Path, node: str) -> bool:
    """Whether an earlier join's kubeconfig is for this node and valid for a day more."""
    try:
        doc = yaml.safe_load(path.read_text())
        cert = x509.load_pem_x509_certificate(base64.b64decode(
            doc["users"][0]["user"]["client-certificate-data"]))
    except (OSError, KeyError, IndexError, TypeError, ValueError, yaml.YAMLError):
        return False
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return bool(cn) and cn[0].value == f"system:node:{node}" and left > dt.timedelta(days=1)


async def join(server: str, token: str, node: str, kubeconfig: Path, *,
               pin: str | None, timeout: float = 600.0) -> Path:
    """Bootstrap the node's credentials (see the module docstring); the kubeconfig path."""
    if usable(kubeconfig, node):
        return kubeconfig
    ca = await discover_ca(server, pin)
    context = ssl.create_default_context(cadata=ca.decode())
    context.set_alpn_protocols(["http/1.1"])
    client = Client(server, headers={"Authorization": f"Bearer {token}"},
                    ssl_context=context, user_agent=f"kapi-kubelet/{node} (bootstrap)")
    key, csr = _request(node)
    try:
        cert = await request_certificate(client, node, csr, timeout)
    finally:
        await client.close()
    _write_kubeconfig(kubeconfig, server, ca, cert, key, node)
    return kubeconfig
