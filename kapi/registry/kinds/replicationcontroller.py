"""ReplicationControllers (core/v1): the ReplicaSet's predecessor, still common in YAML.

Upstream's rules: the selector is a plain label map (defaulted, like the RC's own labels,
from the template's labels), `replicas` defaults to 1, the selector must match the
template and may change on update (unlike a ReplicaSet's), generation tracks the spec,
status starts at `replicas: 0`; served with /status and /scale and printed with
upstream's NAME DESIRED CURRENT READY AGE columns. Pure rules over dicts; the work of
keeping pods is runtime/controllers/replicationcontroller's.
"""

from __future__ import annotations

from typing import Any

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import SCALE, status_of
from kapi.printers.common import (
    AGE,
    CONTAINERS,
    IMAGES,
    NAME,
    Column,
    Ctx,
    Obj,
    Printer,
    age,
    format_labels,
    get,
    integer,
    name,
    template_containers,
)
from kapi.registry.kinds.base import ALL, CORE, Strategy, row
from kapi.validation import meta as meta_rules
from kapi.validation import workloads as rules
from kapi.validation.field import FieldError, required

_SELECTOR_DOC = (
    "Selector is a label query over pods that should match the Replicas count. If Selector "
    "is empty, it is defaulted to the labels present on the Pod template. Label keys and "
    "values that must match in order to be controlled by this replication controller, if "
    "empty defaulted to labels on Pod template. More info: https://kubernetes.io/docs/"
    "concepts/overview/working-with-objects/labels/#label-selectors")
_RC_DOC = "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller"

COLUMNS = (
    NAME,
    Column("Desired", "Replicas is the number of desired replicas. This is a pointer to "
                      "distinguish between explicit zero and unspecified. Defaults to 1. More "
                      f"info: {_RC_DOC}#what-is-a-replicationcontroller", type="integer"),
    Column("Current", "Replicas is the most recently observed number of replicas. More info: "
                      f"{_RC_DOC}#what-is-a-replicationcontroller", type="integer"),
    Column("Ready", "The number of ready replicas for this replication controller.",
           type="integer"),
    AGE, CONTAINERS, IMAGES,
    Column("Selector", _SELECTOR_DOC, priority=1),
)


def rc_row(rc: Obj, ctx: Ctx) -> list[Any]:
    selector = get(rc, "spec", "selector")
    return [name(rc), integer(rc, "spec", "replicas"), integer(rc, "status", "replicas"),
            integer(rc, "status", "readyReplicas"), age(rc, ctx), *template_containers(rc),
            format_labels(selector if isinstance(selector, dict) else None)]


def default(obj: dict[str, Any]) -> None:
    """SetDefaults_ReplicationController, then the pod template's defaults."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return
    tpl = spec.get("template")
    labels = (tpl.get("metadata") or {}).get("labels") if isinstance(tpl, dict) else None
    if isinstance(labels, dict) and labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta: dict[str, Any] = obj.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    defaults.template(spec)


def validate(obj: Obj) -> list[FieldError]:
    """ValidateReplicationControllerSpec: counts, a non-empty selector map that matches
    the template, and the template a ReplicaSet's would need."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    assert isinstance(spec, dict)
    errs: list[FieldError] = []
    for key in ("replicas", "minReadySeconds"):
        errs += rules.nonnegative(spec, key, "spec")
    selector = spec.get("selector")
    if not isinstance(selector, dict) or not selector:
        errs.append(required("spec.selector"))
        return errs + rules.validate_template(spec, "spec", ("Always",), selected=False)
    errs += meta_rules.validate_labels(selector, "spec.selector")
    as_label_selector = dict(spec, selector={"matchLabels": selector})
    return errs + rules.validate_template(as_label_selector, "spec", ("Always",))


REPLICATION_CONTROLLERS = Strategy(
    row("", "v1", "replicationcontrollers", "ReplicationController", CORE,
        short_names=("rc",), categories=ALL,
        subresources=(status_of("ReplicationController"), SCALE),
        field_selectors=("status.replicas",)),
    printer=Printer(COLUMNS, rc_row), tracks_generation=True,
    initial_status={"replicas": 0}, defaulter=default, validate_rule=validate)
