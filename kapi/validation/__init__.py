"""Validation: pure functions returning every error with its field path, like upstream's
`spec.template.spec.containers[0].image: Required value`.

Owns: the per-kind table of create and update rules (ObjectMeta for every kind, then
the kind's own rules), and `Validator`, which keeps the compiled per-kind types
(kapi.validation.typeinfo) used both by the strict decoding checks
(kapi.validation.decoding) and by server-side apply. It never raises API errors and
never touches HTTP or storage: callers turn FieldErrors into a 422 Status.
"""

from __future__ import annotations

from typing import Any, Callable

from kapi.meta.schema import Definitions
from kapi.validation import core, meta, pod, workloads
from kapi.validation.decoding import Findings, inspect
from kapi.validation.field import FieldError, dedupe
from kapi.validation.typeinfo import TypeNode, Types

Obj = dict[str, Any]
Rule = Callable[[Obj], list[FieldError]]
UpdateRule = Callable[[Obj, Obj], list[FieldError]]

__all__ = ["FieldError", "Findings", "Validator", "validate", "validate_update"]


def _pod(obj: Obj) -> list[FieldError]:
    return pod.validate_pod_spec(obj.get("spec"), "spec")


def _pod_update(new: Obj, old: Obj) -> list[FieldError]:
    return pod.validate_pod_spec_update(new.get("spec"), old.get("spec"))


# (group, kind) -> rules. Kinds not listed get ObjectMeta validation only.
CREATE: dict[tuple[str, str], Rule] = {
    ("", "Pod"): _pod,
    ("", "Service"): core.validate_service,
    ("", "ConfigMap"): core.validate_configmap,
    ("", "Secret"): core.validate_secret,
    ("", "Namespace"): core.validate_namespace,
    ("apps", "Deployment"): workloads.validate_deployment,
    ("apps", "ReplicaSet"): workloads.validate_replicaset,
    ("apps", "StatefulSet"): workloads.validate_statefulset,
    ("apps", "DaemonSet"): workloads.validate_daemonset,
    ("batch", "Job"): workloads.validate_job,
    ("batch", "CronJob"): workloads.validate_cronjob,
}
# (group, kind) -> what the client meant by an update, before it is validated
NORMALIZE: dict[tuple[str, str], Callable[[Obj, Obj], Obj]] = {
    ("", "Service"): core.normalize_service_update,
}
UPDATE: dict[tuple[str, str], UpdateRule] = {
    ("", "Pod"): _pod_update,
    ("", "Service"): core.validate_service_update,
    ("", "ConfigMap"): core.validate_configmap_update,
    ("", "Secret"): core.validate_secret_update,
    ("apps", "Deployment"): workloads.immutable_selector,
    ("apps", "ReplicaSet"): workloads.immutable_selector,
    ("apps", "DaemonSet"): workloads.immutable_selector,
    ("apps", "StatefulSet"): workloads.validate_statefulset_update,
    ("batch", "Job"): workloads.validate_job_update,
}


def validate(group: str, kind: str, namespaced: bool, obj: Obj) -> list[FieldError]:
    """Every error of a new object (ValidateXxx)."""
    errs = meta.validate_object_meta(obj.get("metadata"), kind, namespaced)
    rule = CREATE.get((group, kind))
    if rule is not None:
        errs += rule(obj)
    return dedupe(errs)


def validate_update(group: str, kind: str, namespaced: bool, new: Obj, old: Obj,
                    subresource: str = "") -> list[FieldError]:
    """Every error of an update (ValidateXxxUpdate); a status write checks only what a
    status write may change."""
    errs = meta.validate_object_meta_update(new.get("metadata") or {}, old.get("metadata") or {})
    if subresource == "status":
        return dedupe(errs)
    normalize = NORMALIZE.get((group, kind))
    if normalize is not None:
        new = normalize(new, old)
    errs += validate(group, kind, namespaced, new)
    rule = UPDATE.get((group, kind))
    if rule is not None:
        errs += rule(new, old)
    return dedupe(errs)


class Validator:
    """The compiled types of one Definitions object, shared by every request."""

    def __init__(self, definitions: Definitions) -> None:
        self.types = Types(definitions)
        self.clean: dict[bytes, int] = {}  # subtrees inspect() found clean (by JSON)

    def type_of(self, definition: str) -> TypeNode | None:
        return self.types.of(definition) if definition else None

    def inspect(self, definition: str, obj: Any, *, sort_keys: bool = False,
                prune: bool = False, count: bool = True) -> Findings:
        """The decoder's view of obj: type error and unknown/duplicate fields."""
        node = self.type_of(definition)
        if node is None:
            return Findings()
        return inspect(node, obj, sort_keys=sort_keys, prune=prune, count=count,
                       clean=self.clean)
