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

from conformance.framework import Ctx, Skip, conformance, expect_api_error
from conformance.ports.api_groups import (
    annotations,
    certificates,
    check_discovery,
    expect_patched_modified,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.watching import Watch

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
    api, signer = certificates(c), "example.com/e2e-" + c.ns
    template = client.V1CertificateSigningRequest(
        metadata=client.V1ObjectMeta(generate_name="e2e-example-csr-"),
        spec=client.V1CertificateSigningRequestSpec(
            request=base64.b64encode(request).decode(), signer_name=signer,
            expiration_seconds=HOUR,
            usages=["digital signature", "key encipherment", "server auth"]))
    check_discovery(c, "certificates.k8s.io", "v1", "certificatesigningrequests",
                    "certificatesigningrequests/approval", "certificatesigningrequests/status")
    selector = f"spec.signerName={signer}"
    try:
        api.create_certificate_signing_request(template)
        api.create_certificate_signing_request(template)
        created = api.create_certificate_signing_request(template)
        name = created.metadata.name
        got = api.read_certificate_signing_request(name)
        assert got.metadata.uid == created.metadata.uid
        assert got.spec.expiration_seconds == HOUR
        listed = api.list_certificate_signing_request(field_selector=selector)
        assert len(listed.items) == 3, "filtered list should have 3 items"
        w = Watch(c.api, api.list_certificate_signing_request, "V1CertificateSigningRequest",
                  resource_version=listed.metadata.resource_version,
                  field_selector=f"metadata.name={name}")
        try:
            patched = api.patch_certificate_signing_request(name, {"metadata": {
                "annotations": {"patched": "true"}}})
            assert annotations(patched).get("patched") == "true"
            patched.metadata.annotations["updated"] = "true"
            updated = api.replace_certificate_signing_request(name, patched)
            assert annotations(updated).get("updated") == "true"
            expect_patched_modified(w)
        finally:
            w.stop()
        _approval_and_status(c, api, created, certificate)
        api.delete_certificate_signing_request(name)
        expect_api_error(lambda: api.read_certificate_signing_request(name), 404)
        assert len(api.list_certificate_signing_request(field_selector=selector).items) == 2, \
            "filtered list should have 2 items"
        api.delete_collection_certificate_signing_request(field_selector=selector)
        assert not api.list_certificate_signing_request(field_selector=selector).items, \
            "filtered list should have 0 items"
    finally:
        api.delete_collection_certificate_signing_request(field_selector=selector)
