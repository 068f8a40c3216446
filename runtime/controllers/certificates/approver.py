"""The CSR approver (upstream's csrapproving controller): auto-approves kubelet client
certificate requests (signer kubernetes.io/kube-apiserver-client-kubelet, CN
system:node:NAME, O system:nodes, client usages) when the requester may: a
SubjectAccessReview for the requester's user, groups and extra on
certificatesigningrequests/selfnodeclient (when the requester is that node already,
renewing) or /nodeclient (a bootstrapper asking for a node's first certificate), verb
create. Allowed: an Approved condition, reason AutoApproved, through /approval.

It never denies (a request it does not approve waits for a person's `kubectl
certificate approve/deny`) and never signs.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from runtime.client.rest import ApiError
from runtime.controllers.certificates import csr as csrs

log = logging.getLogger(__name__)

Obj = dict[str, Any]
SELF_MESSAGE = "Auto approving self kubelet client certificate after SubjectAccessReview."
NODE_MESSAGE = "Auto approving kubelet client certificate after SubjectAccessReview."


def review(csr: Obj, subresource: str) -> Obj:
    """The SubjectAccessReview asking whether the CSR's requester may create the
    subresource."""
    spec = csr.get("spec") or {}
    body: Obj = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                 "spec": {"user": spec.get("username", ""), "groups": spec.get("groups") or [],
                          "resourceAttributes": {"group": "certificates.k8s.io",
                                                 "resource": "certificatesigningrequests",
                                                 "verb": "create",
                                                 "subresource": subresource}}}
    for key in ("uid", "extra"):
        if spec.get(key):
            body["spec"][key] = spec[key]
    return body


class CSRApprovingController(csrs.CSRController):
    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx, "csrapproving")

    async def reconcile(self, name: str) -> float | None:
        csr = self.csrs.get(name)
        if csr is None or csrs.decided(csr) or (csr.get("status") or {}).get("certificate"):
            return None
        if (csr.get("spec") or {}).get("signerName") != csrs.KUBELET_CLIENT:
            return None
        req = csrs.parse_request(csr)
        if req is None or csrs.node_client_problem(csr, req):
            return None
        cn, _ = csrs.subject(req)
        own = (csr.get("spec") or {}).get("username") == cn
        answer = await self.client.request(
            "POST", csrs.SARS.path(), body=review(csr, "selfnodeclient" if own else "nodeclient"))
        if not (answer.get("status") or {}).get("allowed"):
            return None
        await self._approve(csr, SELF_MESSAGE if own else NODE_MESSAGE)
        return None

    async def _approve(self, csr: Obj, message: str) -> None:
        new = copy.deepcopy(csr)
        now = self.clock().strftime("%Y-%m-%dT%H:%M:%SZ")
        new.setdefault("status", {}).setdefault("conditions", []).append(
            {"type": "Approved", "status": "True", "reason": "AutoApproved",
             "message": message, "lastUpdateTime": now, "lastTransitionTime": now})
        try:
            await self.client.update(csrs.CSRS, new, subresource="approval")
        except ApiError as e:
            if e.code not in (404, 409):  # gone, or changed under us: the event re-queues
                raise
        log.info("csrapproving: approved %s", csr["metadata"]["name"])
