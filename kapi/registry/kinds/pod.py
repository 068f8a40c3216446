"""Pods: the pod spec's defaults and rules, initial status (Pending, its QoS class),
graceful deletion of a pod that runs on a node, and the admission step that gives every
new pod a service account, priority and the default tolerations.

Pure functions over dicts; the pod lifecycle itself belongs to the kubelet.
"""

from __future__ import annotations

from kapi.defaulting import pod as pod_defaults
from kapi.meta.resources import Subresource, status_of
from kapi.printers import pods as pod_printer
from kapi.registry.kinds.base import ALL, CORE, Obj, Strategy, row
from kapi.validation import pod as pod_rules
from kapi.validation.field import FieldError


class PodStrategy(Strategy):
    def reset_status(self, obj: Obj) -> None:
        obj["status"] = {"phase": "Pending", "qosClass": qos_class(obj.get("spec") or {})}

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0  # never ran on a node (or is done): nothing to wait for
        if requested is not None:
            return max(requested, 0)
        return int(spec.get("terminationGracePeriodSeconds", 30))


def qos_class(spec: Obj) -> str:
    containers = list(spec.get("containers") or []) + list(spec.get("initContainers") or [])
    requests_any = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            requests_any = True
        for name in ("cpu", "memory"):
            if name not in lim or (name in req and req[name] != lim[name]):
                guaranteed = False
    if not requests_any:
        return "BestEffort"
    return "Guaranteed" if guaranteed and containers else "Burstable"


def _validate(obj: Obj) -> list[FieldError]:
    return pod_rules.validate_pod_spec(obj.get("spec"), "spec")


def _validate_update(new: Obj, old: Obj) -> list[FieldError]:
    return pod_rules.validate_pod_spec_update(new.get("spec"), old.get("spec"))


PROXY_VERBS = ("create", "delete", "get", "patch", "update")  # kapi/endpoints/proxysub.py

PODS = PodStrategy(
    row("", "v1", "pods", "Pod", CORE, short_names=("po",), categories=ALL,
        subresources=(status_of("Pod"), Subresource("binding", "Binding", verbs=("create",)),
                      Subresource("eviction", "Eviction", "policy", "v1", verbs=("create",)),
                      Subresource("log", "Pod", verbs=("get",)),
                      Subresource("proxy", "PodProxyOptions", verbs=PROXY_VERBS),
                      Subresource("exec", "PodExecOptions", verbs=("create", "get")),
                      Subresource("attach", "PodAttachOptions", verbs=("create", "get")),
                      Subresource("portforward", "PodPortForwardOptions",
                                  verbs=("create", "get"))),
        field_selectors=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                         "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                         "status.podIP", "status.podIPs", "status.nominatedNodeName")),
    printer=pod_printer.POD, defaulter=pod_defaults.pod, validate_rule=_validate,
    update_rule=_validate_update,
    admission=("RuntimeClass", "Priority", "PodDefaults", "ServiceAccount"),
    return_deleted_object=True)
