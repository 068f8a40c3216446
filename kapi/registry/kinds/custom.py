"""Custom resources: the strategy one CustomResourceDefinition becomes at run time.

One CustomStrategy serves every served version of a definition: its rows (scope, short
names, categories, status and scale subresources), its printer (additionalPrinterColumns),
and per version its structural schema: pruning and defaults on write and on read,
validation (kapi.validation.structural) and CEL rules (kapi.validation.celrules) with the
stored object as oldSelf. Versions convert by rewriting apiVersion (the None strategy);
with the Webhook strategy the store first awaits `external_conversion` (set by
kapi.apiextensions from the definition), so the versions found here already agree.
A status subresource makes status a separate write, and generation moves only with
everything but metadata and status; without it, with everything but metadata.

Pure, like every strategy: it is built from the definition's dict and never touches
storage or HTTP.
"""

from __future__ import annotations

import copy
from typing import Any

from kapi import errors
from kapi.defaulting import structural as shaping
from kapi.meta.resources import SCALE, Resource, Subresource, status_of
from kapi.printers import custom as custom_printers
from kapi.printers.common import Printer
from kapi.registry.kinds.base import Strategy
from kapi.validation import celrules
from kapi.validation import meta as meta_rules
from kapi.validation.field import FieldError, dedupe
from kapi.validation.structural import SchemaValidator

Obj = dict[str, Any]
VERBS = ("delete", "deletecollection", "get", "list", "patch", "create", "update", "watch")


def definition_name(group: str, version: str, kind: str) -> str:
    """Upstream's OpenAPI name of a custom kind: the group reversed, then version and kind
    (com.example.stable.v1.CronTab)."""
    return ".".join([*reversed(group.split(".")), version, kind])


class Version:
    """What one served version knows: its schema (compiled), columns and subresources."""

    def __init__(self, v: Obj) -> None:
        self.name = str(v["name"])
        self.schema: Obj = ((v.get("schema") or {}).get("openAPIV3Schema")) or {}
        self.validator = SchemaValidator(self.schema)
        self.has_rules = celrules.has_rules(self.schema)
        self.has_defaults = shaping.has_defaults(self.schema)
        self.printer = custom_printers.printer(v.get("additionalPrinterColumns"))
        sub = v.get("subresources") or {}
        self.status = isinstance(sub.get("status"), dict)
        self.scale: Obj | None = sub.get("scale") if isinstance(sub.get("scale"), dict) else None


class CustomStrategy(Strategy):
    strategic_merge = False
    typed_decoding = False

    def __init__(self, crd: Obj) -> None:
        spec = crd["spec"]
        names = spec["names"]
        self.crd_name = crd["metadata"]["name"]
        self.uid = crd["metadata"].get("uid", "")
        self.group, self.kind = spec["group"], names["kind"]
        self.versions = {str(v["name"]): Version(v) for v in spec.get("versions") or []
                         if isinstance(v, dict) and v.get("served")}
        self.storage = next((str(v["name"]) for v in spec.get("versions") or []
                             if isinstance(v, dict) and v.get("storage")), "")
        rows = tuple(self._row(spec, names, v) for v in self.versions.values())
        super().__init__(*rows, tracks_generation=True)
        self.converts_on_read = any(v.has_defaults for v in self.versions.values())
        self.terminating = False  # set while the definition's objects are being deleted

    def _row(self, spec: Obj, names: Obj, v: Version) -> Resource:
        subs: list[Subresource] = []
        if v.status:
            subs.append(status_of(self.kind))
        if v.scale is not None:
            subs.append(SCALE)
        return Resource(
            self.group, v.name, names["plural"], self.kind,
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()),
            categories=tuple(names.get("categories") or ()), verbs=VERBS,
            subresources=tuple(subs),
            storage_version=self.storage if self.storage != v.name else None,
            definition=definition_name(self.group, v.name, self.kind))

    # -- the version of a row -----------------------------------------------------------
    def version(self, r: Resource) -> Version:
        return self.versions[r.version]

    def printer(self, r: Resource) -> Printer | None:
        return self.version(r).printer

    # -- writes ---------------------------------------------------------------------------
    def default(self, r: Resource, obj: Obj) -> None:
        """Pruning, then defaults (upstream prunes while decoding, then defaults)."""
        schema = self.version(r).schema
        shaping.prune(schema, obj)
        shaping.apply_defaults(schema, obj)

    def validate(self, r: Resource, obj: Obj) -> list[FieldError]:
        return self._validate(r, obj, None)

    def validate_update(self, r: Resource, new: Obj, old: Obj,
                        subresource: str = "") -> list[FieldError]:
        errs = meta_rules.validate_object_meta_update(new.get("metadata") or {},
                                                      old.get("metadata") or {})
        return dedupe(errs + self._validate(r, new, old))

    def _validate(self, r: Resource, obj: Obj, old: Obj | None) -> list[FieldError]:
        v = self.version(r)
        errs = meta_rules.validate_object_meta(obj.get("metadata"), self.name_rule,
                                               r.namespaced)
        body = {k: val for k, val in obj.items() if k != "metadata"}
        errs += v.validator.validate(body)
        if v.has_rules:
            errs += celrules.check(v.schema, obj) if old is None else \
                celrules.check(v.schema, obj, self._as_version(r, old))
        return dedupe(errs)

    def _as_version(self, r: Resource, obj: Obj) -> Obj:
        return obj if obj.get("apiVersion") == r.api_version else \
            dict(obj, apiVersion=r.api_version)

    def prepare_for_create(self, obj: Obj) -> None:
        if self.terminating:
            raise errors.MethodNotAllowed("create not allowed while custom resource "
                                          "definition is terminating")
        obj["metadata"]["generation"] = 1
        if self.has_status:
            obj.pop("status", None)  # a create may not set status when it has its own write

    def spec_of(self, obj: Obj) -> Any:
        skip = ("metadata", "status") if self.has_status else ("metadata",)
        return {k: v for k, v in obj.items() if k not in skip and k not in ("apiVersion",)}

    # -- conversion (the None strategy) -------------------------------------------------
    def to_storage(self, r: Resource, obj: Obj) -> Obj:
        if r.version == self.storage:
            return obj
        return dict(obj, apiVersion=f"{self.group}/{self.storage}")

    def from_storage(self, r: Resource, stored: Obj) -> Obj:
        v = self.version(r)
        out = stored if stored.get("apiVersion") == r.api_version else \
            dict(stored, apiVersion=r.api_version)
        # defaults the schema gained since the object was written
        if v.has_defaults and shaping.lacks_defaults(v.schema, out):
            out = copy.deepcopy(out)
            shaping.apply_defaults(v.schema, out)
        return out

    # -- scale ---------------------------------------------------------------------------
    def scale_paths(self, r: Resource) -> Obj | None:
        return self.version(r).scale
