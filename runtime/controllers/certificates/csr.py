"""What the CSR approver and signer read from a CertificateSigningRequest: its
conditions, its parsed PKCS#10 request, and whether it is a kubelet's client
certificate request (upstream's isNodeClientCert).

Pure functions of the object, and CSRController, what both controllers share (a CSR
informer queueing every request that changes). Parses with the `cryptography` package.
"""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from runtime.client.resources import GVR
from runtime.client.rest import Client
from runtime.controllers.base import Controller, Reconciler

Obj = dict[str, Any]
CSRS = GVR("certificates.k8s.io", "v1", "certificatesigningrequests",
           "CertificateSigningRequest", namespaced=False)
SARS = GVR("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview",
           namespaced=False)

KUBELET_CLIENT = "kubernetes.io/kube-apiserver-client-kubelet"
APISERVER_CLIENT = "kubernetes.io/kube-apiserver-client"
KUBELET_SERVING = "kubernetes.io/kubelet-serving"
NODE_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
# the usage sets a kubelet client CSR may ask for (key encipherment is optional)
KUBELET_CLIENT_USAGES = ({"digital signature", "client auth"},
                         {"key encipherment", "digital signature", "client auth"})


def conditions(csr: Obj) -> list[Obj]:
    return list((csr.get("status") or {}).get("conditions") or [])


def has_condition(csr: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status", "True") == "True"
               for c in conditions(csr))


def decided(csr: Obj) -> bool:
    return has_condition(csr, "Approved") or has_condition(csr, "Denied")


def parse_request(csr: Obj) -> x509.CertificateSigningRequest | None:
    """The PKCS#10 request in spec.request (base64 of PEM), or None when unparseable."""
    try:
        pem = base64.b64decode((csr.get("spec") or {}).get("request") or "")
        return x509.load_pem_x509_csr(pem)
    except ValueError:
        return None


def subject(req: x509.CertificateSigningRequest) -> tuple[str, list[str]]:
    """(common name, organizations) of the request's subject."""
    cns = req.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    orgs = req.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return (str(cns[0].value) if cns else "", [str(o.value) for o in orgs])


def _has_sans(req: x509.CertificateSigningRequest) -> bool:
    try:
        ext = req.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return len(list(ext.value)) > 0


def node_client_problem(csr: Obj, req: x509.CertificateSigningRequest) -> str:
    """Why this is not a kubelet client certificate request ("" when it is)."""
    cn, orgs = subject(req)
    if orgs != [NODES_GROUP]:
        return f"subject organization is not {NODES_GROUP}"
    if not cn.startswith(NODE_PREFIX):
        return f'subject common name does not begin with "{NODE_PREFIX}"'
    if _has_sans(req):
        return "subjectAltNames are not allowed"
    if set((csr.get("spec") or {}).get("usages") or []) not in KUBELET_CLIENT_USAGES:
        return "usages did not match [digital signature client auth] (key encipherment optional)"
    return ""


class CSRController(Reconciler):
    """A one-worker controller over the CSR informer; subclasses write `reconcile`."""

    def __init__(self, ctx: Any, name: str) -> None:
        self.client: Client = ctx.client
        self.clock = ctx.clock
        self.csrs = ctx.informers.get(CSRS)
        self.controller = Controller(name, self.reconcile, workers=1)
        self.csrs.add_handler(self._on_csr)

    def _on_csr(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None:
            self.controller.enqueue(new)

    async def reconcile(self, name: str) -> float | None:
        raise NotImplementedError
