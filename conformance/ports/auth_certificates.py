"""Port of the CSR API test of test/e2e/auth/certificates.go: certificates.k8s.io/v1
CertificateSigningRequests through CRUD, watch, /approval and /status. The key, the
request and the self-signed certificate are made with the openssl command, as upstream
makes them with crypto/x509. (The other test of that file, a kube-apiserver-client
signer issuing a usable certificate, is not a conformance test.)"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, Skip, conformance
from conformance.ports.api_groups import (
    annotate_and_watch,
    annotations,
    calls_of,
    check_discovery,
    delete_then_collection,
)
from conformance.ports.apimachinery_discovery import get_json

HOUR = 3600  # csr.DurationToExpirationSeconds(time.Hour)
PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests"


def _pems() -> tuple[bytes, bytes]:
    """A CSR for e2e.example.com and a self-signed certificate (PEM)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise Skip("feature absent: the openssl command")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        subj = ["-subj", "/CN=e2e.example.com", "-addext", "subjectAltName=DNS:e2e.example.com"]
        subprocess.run([openssl, "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        str(d / "k"), "-out", str(d / "csr"), *subj],
                       check=True, capture_output=True, timeout=60)
        subprocess.run([openssl, "req", "-x509", "-key", str(d / "k"), "-days", "1", "-out",
                        str(d / "crt"), *subj], check=True, capture_output=True, timeout=60)
        return (d / "csr").read_bytes(), (d / "crt").read_bytes()


def _approval_and_status(c: Ctx, api: client.CertificatesV1Api, created: Any,
                         certificate: bytes) -> None:
    name, uid = created.metadata.name, created.metadata.uid
    for sub in ("approval", "status"):
        got = get_json(c, f"{PATH}/{name}/{sub}")
        assert (got["apiVersion"], got["kind"]) == ("certificates.k8s.io/v1",
                                                   "CertificateSigningRequest"), got.get("kind")
        assert got["metadata"]["uid"] == uid
        if sub == "status":
            break
        patched = api.patch_certificate_signing_request_approval(name, {
            "metadata": {"annotations": {"patchedapproval": "true"}},
            "status": {"conditions": [{"type": "ApprovalPatch", "status": "True",
                                       "reason": "e2e"}]}})
        conds = patched.status.conditions or []
        assert len(conds) == 1 and conds[0].type == "ApprovalPatch", \
            f"patched object should have the applied condition, got {conds}"
        assert annotations(patched).get("patchedapproval") == "true"
        patched.status.conditions.append(client.V1CertificateSigningRequestCondition(
            type="Approved", status="True", reason="E2E", message="Set from an e2e test"))
        updated = api.replace_certificate_signing_request_approval(name, patched)
        conds = updated.status.conditions or []
        assert len(conds) == 2 and conds[1].type == "Approved", \
            f"updated object should have the approved condition, got {conds}"
    encoded = base64.b64encode(certificate).decode()
    patched = api.patch_certificate_signing_request_status(name, {
        "metadata": {"annotations": {"patchedstatus": "true"}},
        "status": {"certificate": encoded}})
    assert _bytes(patched.status.certificate) == certificate, \
        "patched object should have the applied certificate"
    assert annotations(patched).get("patchedstatus") == "true"
    patched.status.conditions.append(client.V1CertificateSigningRequestCondition(
        type="StatusUpdate", status="True", reason="E2E", message="Set from an e2e test"))
    updated = api.replace_certificate_signing_request_status(name, patched)
    conds = updated.status.conditions or []
    assert len(conds) == len(patched.status.conditions), \
        f"updated object should have the applied condition, got {conds}"
    assert conds[-1].type == "StatusUpdate"


def _bytes(value: Any) -> bytes:
    """The client hands []byte fields back as base64 text or as bytes, by version."""
    if isinstance(value, bytes):
        return value
    return base64.b64decode(value or "")


@conformance("[sig-auth] Certificates API [Privileged:ClusterAdmin] should support CSR API "
             "operations [Conformance]", basename="certificates")
def csr_api(c: Ctx) -> None:
    request, certificate = _pems()
    api, signer = client.CertificatesV1Api(c.api), "example.com/e2e-" + c.ns
    template = client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-csr-"),
        spec=client.V1CertificateSigningRequestSpec(
            request=base64.b64encode(request).decode(), signer_name=signer,
            expiration_seconds=HOUR,
            usages=["digital signature", "key encipherment", "server auth"]))
    check_discovery(c, "certificates.k8s.io", "v1", "certificatesigningrequests",
                    "certificatesigningrequests/approval", "certificatesigningrequests/status")
    csrs = calls_of(api, "certificate_signing_request", "V1CertificateSigningRequest")
    selector = f"spec.signerName={signer}"
    try:
        for _ in range(3):
            created = api.create_certificate_signing_request(template)
        name = created.metadata.name
        got = csrs.read(name)
        assert got.metadata.uid == created.metadata.uid
        assert got.spec.expiration_seconds == HOUR
        listed = csrs.list(field_selector=selector)
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = csrs.watch(c, resource_version=listed.metadata.resource_version,
                       field_selector=f"metadata.name={name}")
        annotate_and_watch(csrs, name, w)
        _approval_and_status(c, api, created, certificate)
        delete_then_collection(csrs, name, field_selector=selector)
    finally:
        csrs.delete_collection(field_selector=selector)
