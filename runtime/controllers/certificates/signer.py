"""The CSR signer (upstream's csrsigning controller): issues the certificate of every
approved CertificateSigningRequest for one of the built-in signers it serves
(kubernetes.io/kube-apiserver-client-kubelet, kube-apiserver-client, kubelet-serving)
with the cluster CA (the controller manager's --cluster-signing-cert-file and
--cluster-signing-key-file; `kapi up` passes the data dir's CA), writing
status.certificate through /status.

A request its signer must not sign (a kubelet client request that is not a node's, a
client request asking for server usages) gets a Failed condition, reason
SignerValidationFailure, as upstream. Lifetime: the signing duration
(--cluster-signing-duration, a year) or spec.expirationSeconds when shorter; NotBefore
is backdated five minutes for clocks that disagree. Without CA files it signs nothing.
It never approves, and it reads no file but the two it is given.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import logging
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID

from runtime.client.rest import ApiError
from runtime.controllers.certificates import csr as csrs

log = logging.getLogger(__name__)

Obj = dict[str, Any]
BACKDATE = dt.timedelta(minutes=5)
EXTENDED = {"client auth": ExtendedKeyUsageOID.CLIENT_AUTH,
            "server auth": ExtendedKeyUsageOID.SERVER_AUTH}
SERVING_USAGES = ({"key encipherment", "digital signature", "server auth"},
                  {"digital signature", "server auth"})
CLIENT_ALLOWED = {"digital signature", "key encipherment", "client auth"}


def signer_problem(csr: Obj, req: x509.CertificateSigningRequest) -> str:
    """Why the request's signer must not sign it ("" when it may)."""
    signer = (csr.get("spec") or {}).get("signerName")
    usages = set((csr.get("spec") or {}).get("usages") or [])
    if signer == csrs.KUBELET_CLIENT:
        return csrs.node_client_problem(csr, req)
    if signer == csrs.APISERVER_CLIENT:
        return "" if "client auth" in usages and usages <= CLIENT_ALLOWED else \
            "invalid usage for client certificate"
    cn, orgs = csrs.subject(req)
    if orgs != [csrs.NODES_GROUP] or not cn.startswith(csrs.NODE_PREFIX):
        return "subject must be system:node:NAME in organization system:nodes"
    return "" if usages in SERVING_USAGES else "usages did not match [digital signature " \
        "server auth] (key encipherment optional)"


def _key_usage(usages: set[str]) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature="digital signature" in usages,
                         content_commitment=False,
                         key_encipherment="key encipherment" in usages,
                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                         crl_sign=False, encipher_only=False, decipher_only=False)


class CA:
    """The signing CA: its certificate and private key."""

    def __init__(self, cert_pem: bytes, key_pem: bytes) -> None:
        self.cert = x509.load_pem_x509_certificate(cert_pem)
        key = serialization.load_pem_private_key(key_pem, password=None)
        self.key: CertificateIssuerPrivateKeyTypes = key  # type: ignore[assignment]

    def sign(self, csr: Obj, req: x509.CertificateSigningRequest, now: dt.datetime,
             duration: dt.timedelta) -> bytes:
        """The issued certificate (PEM) for the request."""
        seconds = (csr.get("spec") or {}).get("expirationSeconds")
        if seconds:
            duration = min(duration, dt.timedelta(seconds=int(seconds)))
        usages = set((csr.get("spec") or {}).get("usages") or [])
        b = (x509.CertificateBuilder().subject_name(req.subject)
             .issuer_name(self.cert.subject).public_key(req.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - BACKDATE).not_valid_after(now + duration)
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(_key_usage(usages), critical=True)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 self.cert.public_key()), critical=False))  # type: ignore[arg-type]
        extended = [EXTENDED[u] for u in sorted(usages) if u in EXTENDED]
        if extended:
            b = b.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
        try:
            sans = req.extensions.get_extension_for_class(x509.SubjectAlternativeName)
            b = b.add_extension(sans.value, critical=False)
        except x509.ExtensionNotFound:
            pass
        return b.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


SIGNERS = (csrs.KUBELET_CLIENT, csrs.APISERVER_CLIENT, csrs.KUBELET_SERVING)


class CSRSigningController(csrs.CSRController):
    def __init__(self, ctx: Any) -> None:
        options = ctx.options
        self.duration = dt.timedelta(seconds=options.cluster_signing_duration)
        self.ca: CA | None = None
        if options.cluster_signing_cert_file and options.cluster_signing_key_file:
            with open(options.cluster_signing_cert_file, "rb") as c, \
                    open(options.cluster_signing_key_file, "rb") as k:
                self.ca = CA(c.read(), k.read())
        super().__init__(ctx, "csrsigning")

    def _wanted(self, csr: Obj | None) -> bool:
        return (self.ca is not None and csr is not None
                and (csr.get("spec") or {}).get("signerName") in SIGNERS
                and csrs.has_condition(csr, "Approved") and not csrs.has_condition(csr, "Denied")
                and not csrs.has_condition(csr, "Failed")
                and not (csr.get("status") or {}).get("certificate"))

    async def reconcile(self, name: str) -> float | None:
        csr = self.csrs.get(name)
        if not self._wanted(csr):
            return None
        assert csr is not None and self.ca is not None
        new = copy.deepcopy(csr)
        req = csrs.parse_request(csr)
        problem = "unable to parse csr" if req is None else signer_problem(csr, req)
        if problem or req is None:
            now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
            new.setdefault("status", {}).setdefault("conditions", []).append(
                {"type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                 "message": problem, "lastUpdateTime": now, "lastTransitionTime": now})
        else:
            pem = self.ca.sign(csr, req, self.clock(), self.duration)
            new.setdefault("status", {})["certificate"] = base64.b64encode(pem).decode()
        try:
            await self.client.update(csrs.CSRS, new, subresource="status")
        except ApiError as e:
            if e.code not in (404, 409):
                raise
        return None
