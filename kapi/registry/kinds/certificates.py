"""certificates.k8s.io/v1 CertificateSigningRequests, with the /approval and /status
subresources (`kubectl certificate approve/deny` writes /approval).

On create the requesting user's name, uid, groups and extra are recorded in the spec
(upstream's strategy does the same); the spec never changes afterwards. A main-resource
write changes only metadata; /approval changes only the conditions, and /status keeps
the Approved and Denied conditions as they were. Annotations may change through either
subresource, as upstream allows. Nothing signs: a signer would write status.certificate.
"""

from __future__ import annotations

import copy

from kapi.auth import current_user, user_info
from kapi.meta.resources import Resource, Subresource, status_of
from kapi.printers import cluster as printers
from kapi.registry.kinds.base import Obj, Strategy, row
from kapi.validation import cluster as rules
from kapi.validation import meta as meta_rules
from kapi.validation.field import FieldError, dedupe

APPROVAL = Subresource("approval", "CertificateSigningRequest")
DECISIONS = ("Approved", "Denied")


def _conditions(obj: Obj) -> list[Obj]:
    return list((obj.get("status") or {}).get("conditions") or [])


class CSRStrategy(Strategy):
    writable_subresources = ("approval",)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        spec = obj.setdefault("spec", {})
        user = current_user()
        for f in ("username", "uid", "groups", "extra"):
            spec.pop(f, None)
        if user is not None:
            spec.update(user_info(user))

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = copy.deepcopy(old.get("spec"))

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        out = super().prepare_for_status_update(new, old)
        # Approved and Denied are written through /approval only: keep them as they were
        kept = [c for c in _conditions(old) if c.get("type") in DECISIONS]
        rest = [c for c in _conditions(out) if c.get("type") not in DECISIONS]
        out.setdefault("status", {})["conditions"] = kept + rest
        if not out["status"]["conditions"]:
            out["status"].pop("conditions")
        return out

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj:
        out = super().prepare_for_status_update(new, old)  # /approval: conditions only
        status = copy.deepcopy(old.get("status") or {})
        conditions = _conditions(new)
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        out["status"] = status
        return out

    def validate_update(self, r: Resource, new: Obj, old: Obj,
                        subresource: str = "") -> list[FieldError]:
        if subresource not in ("status", "approval"):
            return super().validate_update(r, new, old, subresource)
        errs = meta_rules.validate_object_meta_update(new.get("metadata") or {},
                                                      old.get("metadata") or {})
        return dedupe(errs + rules.csr_status(new) + rules.csr_update(new, old))


CSRS = CSRStrategy(
    row("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest",
        "io.k8s.api.certificates.v1", namespaced=False, short_names=("csr",),
        subresources=(APPROVAL, status_of("CertificateSigningRequest")),
        field_selectors=("spec.signerName",)),
    printer=printers.CSR, validate_rule=rules.csr, status_may_change_meta=True,
    admission=("StatusTimestamps",))
