"""CustomResourceDefinitions (apiextensions.k8s.io/v1): the kind itself, as upstream's
customresourcedefinition strategy treats it.

Defaults (singular and listKind from kind, the None conversion strategy), validation
(kapi.validation.crd), generation on spec changes, status kept from the stored object on
a main write, status.storedVersions growing with each new storage version, and the
customresourcecleanup finalizer a delete adds (the CRD controller,
kapi.apiextensions, removes the objects and then the finalizer). Serving the resources a
definition declares is kapi.apiextensions' work, not this module's.
"""

from __future__ import annotations

from typing import Any

from kapi.meta.resources import Resource, status_of
from kapi.registry.kinds.base import Strategy, row
from kapi.validation import crd as crd_rules
from kapi.validation import meta as meta_rules
from kapi.validation.field import FieldError, dedupe

Obj = dict[str, Any]
GROUP = "apiextensions.k8s.io"
PACKAGE = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1"
FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def storage_version(crd: Obj) -> str:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            return str(v.get("name") or "")
    return ""


def _defaults(crd: Obj) -> None:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    conversion = spec.setdefault("conversion", {"strategy": "None"})
    if isinstance(conversion, dict):
        conversion.setdefault("strategy", "None")
        service = ((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


class CRDStrategy(Strategy):
    def default(self, r: Resource, obj: Obj) -> None:
        _defaults(obj)

    def validate(self, r: Resource, obj: Obj) -> list[FieldError]:
        errs = meta_rules.validate_object_meta(obj.get("metadata"), crd_rules.name_rule(obj),
                                               False)
        errs += crd_rules.validate_spec(obj.get("spec"))
        return dedupe(errs)

    def validate_update(self, r: Resource, new: Obj, old: Obj,
                        subresource: str = "") -> list[FieldError]:
        errs = super().validate_update(r, new, old, subresource)
        if subresource != "status":
            errs += crd_rules.validate_update(new, old)
        errs += crd_rules.stored_versions(new)
        return dedupe(errs)

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        stored = storage_version(obj)
        obj["status"] = {"acceptedNames": {"plural": "", "kind": ""},
                         "storedVersions": [stored] if stored else []}

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        stored = storage_version(new)
        status = new.get("status")
        if stored and isinstance(status, dict):
            versions = list(status.get("storedVersions") or [])
            if stored not in versions:
                new["status"] = dict(status, storedVersions=[*versions, stored])

    def finalizers_on_delete(self, obj: Obj, propagation_policy: str | None) -> list[str]:
        finalizers = super().finalizers_on_delete(obj, propagation_policy)
        if FINALIZER not in finalizers:
            finalizers.append(FINALIZER)
        return finalizers


CRDS = CRDStrategy(
    row(GROUP, "v1", "customresourcedefinitions", "CustomResourceDefinition", PACKAGE,
        namespaced=False, short_names=("crd", "crds"), categories=("api-extensions",),
        subresources=(status_of("CustomResourceDefinition"),)),
    tracks_generation=True)
