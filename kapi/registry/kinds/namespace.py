"""Namespaces: DNS-1123 label names, the `kubernetes` finalizer and name label set on
create, spec.finalizers changed only through /finalize, and deletion as upstream's
namespace storage does it: a DELETE turns the namespace Terminating and the namespace
controller empties it; the object goes when spec.finalizers and metadata.finalizers are
both empty.

Pure functions over dicts; emptying the namespace belongs to the namespace controller.
"""

from __future__ import annotations

from kapi.meta.resources import NAMESPACE_VERBS, Subresource, status_of
from kapi.printers import core as core_printers
from kapi.registry.kinds.base import CORE, Obj, Strategy, row
from kapi.validation import core as core_rules
from kapi.validation import rules

NAME_LABEL = "kubernetes.io/metadata.name"


class NamespaceStrategy(Strategy):
    def prepare_for_create(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Active"}
        spec = obj.setdefault("spec", {})
        fin = spec.setdefault("finalizers", [])
        if "kubernetes" not in fin:
            fin.append("kubernetes")
        if obj["metadata"].get("name"):  # a missing name is validation's to report
            obj["metadata"].setdefault("labels", {})[NAME_LABEL] = obj["metadata"]["name"]

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        super().prepare_for_update(new, old)
        new["spec"] = old.get("spec", {})  # spec.finalizers only change through /finalize
        new["metadata"].setdefault("labels", {})[NAME_LABEL] = new["metadata"]["name"]

    def finalizers_on_delete(self, obj: Obj, propagation_policy: str | None) -> list[str]:
        # the namespace controller, not the garbage collector, empties a namespace
        return list(obj["metadata"].get("finalizers") or [])

    def deletion_blocked(self, obj: Obj) -> bool:
        return super().deletion_blocked(obj) or bool((obj.get("spec") or {}).get("finalizers"))

    def prepare_for_delete(self, obj: Obj) -> None:
        obj["status"] = dict(obj.get("status") or {}, phase="Terminating")


NAMESPACES = NamespaceStrategy(
    row("", "v1", "namespaces", "Namespace", CORE, namespaced=False, short_names=("ns",),
        verbs=NAMESPACE_VERBS,
        subresources=(status_of("Namespace"),
                      Subresource("finalize", "Namespace", verbs=("update",))),
        field_selectors=("status.phase",)),
    printer=core_printers.NAMESPACE, name_rule=rules.is_dns1123_label,
    validate_rule=core_rules.validate_namespace, return_deleted_object=True,
    status_may_change_meta=True)  # upstream: a /status write keeps only spec from old
