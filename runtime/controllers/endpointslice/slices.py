"""EndpointSlices as plain data: the endpoints a Service's pods give (ready, serving,
terminating), cut into slices of at most 100 per port set, and the plan that turns the
slices that exist into the ones wanted with the fewest writes (keep equal slices,
rewrite others in place, create what is missing, delete the rest).

Pure: no I/O, no clock; inputs are never mutated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Mapping

from runtime.controllers.common import endpointpods as ep
from runtime.util.meta import meta

Obj = dict[str, Any]
MAX_ENDPOINTS = 100  # upstream's default --max-endpoints-per-slice
CONTROLLER = "endpointslice-controller.k8s.io"
MIRROR_CONTROLLER = "endpointslicemirroring-controller.k8s.io"


def pod_endpoint(service: Mapping[str, Any], pod: Mapping[str, Any]) -> Obj:
    """A pod as a discovery/v1 Endpoint. Ready is serving and not terminating, except
    that publishNotReadyAddresses makes every endpoint ready."""
    publish = bool((service.get("spec") or {}).get("publishNotReadyAddresses"))
    serving, terminating = ep.serving(pod), ep.terminating(pod)
    return {"addresses": [pod["status"]["podIP"]],
            "conditions": {"ready": publish or (serving and not terminating),
                           "serving": serving, "terminating": terminating},
            "targetRef": ep.target_ref(pod), **ep.placement(service, pod)}


def _slice_ports(ports: list[Obj]) -> list[Obj]:
    return [{"name": p.get("name", ""), **{k: v for k, v in p.items() if k != "name"}}
            for p in ports]


def service_groups(service: Mapping[str, Any], pods: list[Obj]) -> list[tuple[list[Obj],
                                                                                list[Obj]]]:
    """(ports, endpoints) per distinct resolved port set, for a Service with a selector."""
    groups: dict[str, tuple[list[Obj], list[Obj]]] = {}
    has_ports = bool((service.get("spec") or {}).get("ports"))
    for pod in ep.selected_pods(service, pods):
        if not ep.should_include(pod, include_terminating=True):
            continue
        ports = ep.endpoint_ports(service, pod) or []
        if has_ports and not ports:
            continue
        ports = _slice_ports(ports)
        groups.setdefault(repr(ports), (ports, []))[1].append(pod_endpoint(service, pod))
    return [groups[k] for k in sorted(groups)]


def endpoints_groups(endpoints: Mapping[str, Any]) -> list[tuple[list[Obj], list[Obj]]]:
    """(ports, endpoints) per subset of a hand-written Endpoints object (mirroring)."""
    out = []
    for subset in endpoints.get("subsets") or []:
        ports = _slice_ports([dict(p) for p in subset.get("ports") or []])
        items = []
        for field_, ready in (("addresses", True), ("notReadyAddresses", False)):
            for a in subset.get(field_) or []:
                e: Obj = {"addresses": [a["ip"]], "conditions": {"ready": ready}}
                for k in ("hostname", "nodeName", "targetRef"):
                    if a.get(k):
                        e[k] = a[k]
                items.append(e)
        if items:
            out.append((ports, items))
    return out


def chunk(groups: list[tuple[list[Obj], list[Obj]]]) -> list[tuple[list[Obj], list[Obj]]]:
    out = []
    for ports, items in groups:
        for i in range(0, len(items), MAX_ENDPOINTS):
            out.append((ports, items[i:i + MAX_ENDPOINTS]))
    return out


@dataclass
class SlicePlan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)


def _body(ports: list[Obj], items: list[Obj]) -> Obj:
    return {"addressType": "IPv4", "ports": ports, "endpoints": items}


def _same(existing: Mapping[str, Any], body: Mapping[str, Any], md: Mapping[str, Any]) -> bool:
    em = meta(existing)
    return (existing.get("ports") or []) == body["ports"] and \
        (existing.get("endpoints") or []) == body["endpoints"] and \
        (em.get("labels") or {}) == md["labels"] and \
        (em.get("ownerReferences") or []) == md["ownerReferences"] and \
        (em.get("annotations") or {}) == (md.get("annotations") or {})


def plan(wanted: list[tuple[list[Obj], list[Obj]]], existing: list[Obj],
         template: Mapping[str, Any]) -> SlicePlan:
    """What to write so that `existing` (our slices for one owner) become `wanted`.
    template: metadata every slice gets (namespace, generateName, labels, owner)."""
    out = SlicePlan()
    bodies = [_body(p, i) for p, i in wanted]
    left = sorted(existing, key=lambda s: meta(s)["name"])
    todo = []
    for body in bodies:
        match = next((s for s in left if _same(s, body, template)), None)
        if match is not None:
            left.remove(match)
        else:
            todo.append(body)
    for body in todo:
        md = copy.deepcopy(dict(template))
        if left:
            old = left.pop(0)
            md.pop("generateName", None)
            md.update({"name": meta(old)["name"],
                       "resourceVersion": meta(old).get("resourceVersion")})
            out.update.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "metadata": md, **body})
        else:
            out.create.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                               "metadata": md, **body})
    out.delete = left
    return out


def service_template(service: Mapping[str, Any]) -> Obj:
    m = meta(service)
    labels = {k: v for k, v in ep.service_labels(service).items()}
    labels.update({ep.SERVICE_NAME_LABEL: m["name"], ep.MANAGED_BY_LABEL: CONTROLLER})
    return {"namespace": m.get("namespace"), "generateName": f"{m['name']}-",
            "labels": labels,
            "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": m["name"],
                                 "uid": m.get("uid"), "controller": True,
                                 "blockOwnerDeletion": True}]}


def mirror_template(endpoints: Mapping[str, Any]) -> Obj:
    m = meta(endpoints)
    labels = dict(m.get("labels") or {})
    labels.update({ep.SERVICE_NAME_LABEL: m["name"], ep.MANAGED_BY_LABEL: MIRROR_CONTROLLER})
    skip = (ep.TRIGGER_TIME_ANNOTATION, "kubectl.kubernetes.io/last-applied-configuration")
    ann = {k: v for k, v in (m.get("annotations") or {}).items() if k not in skip}
    out: Obj = {"namespace": m.get("namespace"), "generateName": f"{m['name']}-",
                "labels": labels,
                "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints",
                                     "name": m["name"], "uid": m.get("uid"),
                                     "controller": True, "blockOwnerDeletion": True}]}
    if ann:
        out["annotations"] = ann
    return out
