"""The generic strategy: everything the store does differently per kind, with the
behaviour every kind shares as its default (upstream's registry pattern,
pkg/registry/<group>/<kind>/strategy.go, and rest.RESTCreateStrategy/RESTUpdateStrategy).

A strategy is one object: the resource rows it serves, plus create/update/status
preparation, initial status, the generation rule, defaulting, validation, the name rule,
the Table printer, the admission steps it needs and deletion behaviour. A kind with no
rules of its own (or a custom resource, built from data) is a plain `Strategy(rows...)`;
a kind whose behaviour is code subclasses it in its own module.

Strategies are pure functions over dicts: they never touch storage, HTTP or the clock.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any, Awaitable, Callable

from kapi.meta import conversion
from kapi.meta.resources import Resource
from kapi.printers.common import Printer
from kapi.validation import meta as meta_rules
from kapi.validation import rules
from kapi.validation.field import FieldError, dedupe

Obj = dict[str, Any]
CORE = "io.k8s.api.core.v1"  # the package of core/v1's OpenAPI definitions
ALL = ("all",)  # the category `kubectl get all` lists
NameRule = meta_rules.NameFn  # a name -> its problems (empty when the name is fine)
Defaulter = Callable[[Obj], None]
Rule = Callable[[Obj], list[FieldError]]
UpdateRule = Callable[[Obj, Obj], list[FieldError]]

# Metadata fields a client may not change with an update (copied from the stored object).
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                "generation", "selfLink")
# What a status write may change in metadata when the kind allows it (upstream's apps
# status strategies reset only spec and labels).
_STATUS_WRITABLE_META = ("annotations", "finalizers", "ownerReferences")


def row(group: str, version: str, resource: str, kind: str, package: str,
        **fields: Any) -> Resource:
    """A resource row whose OpenAPI definition is `<package>.<kind>`."""
    return Resource(group, version, resource, kind, definition=f"{package}.{kind}", **fields)


class Strategy:
    """A kind's behaviour. Keyword options say what differs from the generic default:

    printer: the Table printer (None: upstream's default NAME / Created At columns).
    tracks_generation: metadata.generation starts at 1 and moves on every spec change.
    initial_status: the status a create starts with (Go's non-omitempty fields).
    status_may_change_meta: a /status write may change annotations, finalizers and
        ownerReferences (upstream's apps kinds); otherwise it changes only status.
    name_rule: the object name rule (upstream: DNS-1123 subdomain unless said otherwise).
    defaulter: SetDefaults for the kind (a subclass overrides `default` when versions
        differ).
    validate_rule / update_rule: the kind's own checks after ObjectMeta's, on create and
        on update.
    admission: names of the admission steps the kind needs (the app supplies them).
    allow_create_on_update: a PUT of a missing object creates it.
    return_deleted_object: DELETE answers with the object rather than a Status.
    create_in_terminating_namespace: NamespaceLifecycle lets creates through in a
        namespace being deleted.
    """

    def __init__(self, *rows: Resource, printer: Printer | None = None,
                 tracks_generation: bool = False, initial_status: Obj | None = None,
                 status_may_change_meta: bool = False,
                 name_rule: NameRule = rules.is_dns1123_subdomain,
                 defaulter: Defaulter | None = None, validate_rule: Rule | None = None,
                 update_rule: UpdateRule | None = None, admission: tuple[str, ...] = (),
                 allow_create_on_update: bool = False, return_deleted_object: bool = False,
                 create_in_terminating_namespace: bool = False) -> None:
        self.rows = tuple(dataclasses.replace(r, strategy=self) for r in rows)
        self.has_status = any(r.subresource("status") is not None for r in rows)
        self._printer = printer
        self.tracks_generation = tracks_generation
        self.initial_status = initial_status or {}
        self.status_may_change_meta = status_may_change_meta
        self.name_rule = name_rule
        self.defaulter = defaulter
        self.validate_rule = validate_rule
        self.update_rule = update_rule
        self.admission = admission
        self.allow_create_on_update = allow_create_on_update
        self.return_deleted_object = return_deleted_object
        self.create_in_terminating_namespace = create_in_terminating_namespace

    # -- printing, defaulting, validation ------------------------------------------------
    def printer(self, r: Resource) -> Printer | None:
        """The Table printer of row r (kinds served in several versions may differ)."""
        return self._printer

    def default(self, r: Resource, obj: Obj) -> None:
        """Default obj, as a client sent it in r's group/version, in place."""
        if self.defaulter is not None:
            self.defaulter(obj)

    def validate(self, r: Resource, obj: Obj) -> list[FieldError]:
        """Every error of a new object (upstream's ValidateXxx)."""
        errs = meta_rules.validate_object_meta(obj.get("metadata"), self.name_rule,
                                               r.namespaced)
        if self.validate_rule is not None:
            errs += self.validate_rule(obj)
        return dedupe(errs)

    def validate_update(self, r: Resource, new: Obj, old: Obj,
                        subresource: str = "") -> list[FieldError]:
        """Every error of an update (ValidateXxxUpdate); a status write checks only what
        a status write may change."""
        errs = meta_rules.validate_object_meta_update(new.get("metadata") or {},
                                                      old.get("metadata") or {})
        if subresource == "status":
            return dedupe(errs)
        new = self.normalize_update(new, old)
        errs += self.validate(r, new)
        if self.update_rule is not None:
            errs += self.update_rule(new, old)
        return dedupe(errs)

    def normalize_update(self, new: Obj, old: Obj) -> Obj:
        """What the client meant by an update, before it is validated."""
        return new

    # -- create -------------------------------------------------------------------------
    def prepare_for_create(self, obj: Obj) -> None:
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1
        if self.has_status:
            self.reset_status(obj)

    def reset_status(self, obj: Obj) -> None:
        # upstream always writes the status struct, with its non-omitempty fields
        obj["status"] = copy.deepcopy(self.initial_status)

    # -- update -------------------------------------------------------------------------
    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        """A write to the main resource: status comes from the stored object."""
        meta, old_meta = new["metadata"], old["metadata"]
        for f in _SYSTEM_META:
            if f in old_meta:
                meta[f] = old_meta[f]
            else:
                meta.pop(f, None)
        if self.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation and self.spec_of(new) != self.spec_of(old):
            meta["generation"] = old_meta.get("generation", 1) + 1

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """A write to /status: everything but status (and a few fields) from old."""
        out = copy.copy(old)
        out["metadata"] = dict(old["metadata"])
        new_meta = new.get("metadata", {})
        out["metadata"]["resourceVersion"] = new_meta.get("resourceVersion", "")
        if self.status_may_change_meta:
            for f in _STATUS_WRITABLE_META:
                if f in new_meta:
                    out["metadata"][f] = new_meta[f]
                else:
                    out["metadata"].pop(f, None)
        if "status" in new:
            out["status"] = new["status"]
        else:
            out.pop("status", None)
        return out

    # Subresources besides /status that answer with the object and take writes of it
    # (a CertificateSigningRequest's /approval); the kind prepares such writes itself.
    writable_subresources: tuple[str, ...] = ()

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj:
        """A write to one of writable_subresources: by default, like a /status write."""
        return self.prepare_for_status_update(new, old)

    def spec_of(self, obj: Obj) -> Any:
        """What counts as 'spec' for generation: everything but metadata and status."""
        return {k: v for k, v in obj.items() if k not in ("metadata", "status", "kind", "apiVersion")}

    # -- what the endpoints ask -----------------------------------------------------------
    # A strategic merge patch follows the kind's patch strategies (custom kinds have none:
    # 415, as upstream).
    strategic_merge = True
    # A value of the wrong JSON type fails decoding (400) as Go structs fail it; a custom
    # kind's schema reports it instead (422).
    typed_decoding = True

    def scale_paths(self, r: Resource) -> Obj | None:
        """Where a custom kind keeps its scale (specReplicasPath, ...); None: built in."""
        return None

    # -- conversion ---------------------------------------------------------------------
    # Whether reading a stored object in its own version still changes it (custom
    # resources apply their schema's defaults on read).
    converts_on_read = False
    # A conversion that reaches outside the server, so must be awaited (a custom kind's
    # conversion webhook): (objects, desired apiVersion) -> the objects at that version.
    # The store runs it before to_storage/from_storage, which then find the version equal.
    external_conversion: Callable[[list[Obj], str], Awaitable[list[Obj]]] | None = None

    def to_storage(self, r: Resource, obj: Obj) -> Obj:
        """obj, sent in r's group/version, in its stored form (obj itself when equal)."""
        return conversion.to_storage(r.api_version, r.kind, obj)

    def from_storage(self, r: Resource, stored: Obj) -> Obj:
        """The stored object as r's group/version shows it; never mutates it."""
        return conversion.from_storage(r.api_version, r.kind, stored)

    # -- delete -------------------------------------------------------------------------
    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds of graceful deletion; 0 deletes at once."""
        return 0

    def finalizers_on_delete(self, obj: Obj, propagation_policy: str | None) -> list[str]:
        """metadata.finalizers once a DELETE with this propagation policy has begun."""
        finalizers = list(obj["metadata"].get("finalizers") or [])
        if propagation_policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif propagation_policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        return finalizers

    def deletion_blocked(self, obj: Obj) -> bool:
        """Whether something must still finish before the object may be removed."""
        return bool(obj["metadata"].get("finalizers"))

    def prepare_for_delete(self, obj: Obj) -> None:
        """Changes a graceful or blocked delete makes besides deletionTimestamp."""


def strategy_of(r: Resource) -> Strategy:
    """r's strategy; a row built without one (a bare Resource) behaves generically."""
    if r.strategy is not None:
        s: Strategy = r.strategy
        return s
    return Strategy(r)
