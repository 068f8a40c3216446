"""PodTemplates (core/v1): a stored pod template other objects may refer to.

Owns the kind's defaulting (the template's pod spec, as for every workload's template),
its validation (upstream's ValidatePodTemplate: the template's labels, annotations and pod
spec under `template`) and its Table (NAME, CONTAINERS, IMAGES, POD LABELS).
"""

from __future__ import annotations

from typing import Any

from kapi.defaulting import workloads as defaults
from kapi.printers.common import (
    NAME,
    Column,
    Ctx,
    Obj,
    Printer,
    format_labels,
    get,
    layout_containers,
    name,
)
from kapi.registry.kinds.base import CORE, Strategy, row
from kapi.validation import meta, pod
from kapi.validation.field import FieldError, required

COLUMNS = (
    NAME,
    Column("Containers", "Names of each container in the template."),
    Column("Images", "Images referenced by each container in the template."),
    Column("Pod Labels", "The labels for the pod template."),
)


def template_row(pt: Obj, ctx: Ctx) -> list[Any]:
    names, images = layout_containers(get(pt, "template", "spec", "containers"))
    return [name(pt), names, images, format_labels(get(pt, "template", "metadata", "labels"))]


def validate(obj: dict[str, Any]) -> list[FieldError]:
    tpl = obj.get("template")
    if not isinstance(tpl, dict):
        return [required("template")]
    tmeta = m if isinstance(m := tpl.get("metadata"), dict) else {}
    return (meta.validate_labels(tmeta.get("labels"), "template.metadata.labels")
            + meta.validate_annotations(tmeta.get("annotations"), "template.metadata.annotations")
            + pod.validate_pod_spec(tpl.get("spec"), "template.spec"))


POD_TEMPLATES = Strategy(
    row("", "v1", "podtemplates", "PodTemplate", CORE),
    printer=Printer(COLUMNS, template_row), defaulter=defaults.template,
    validate_rule=validate, return_deleted_object=True)
