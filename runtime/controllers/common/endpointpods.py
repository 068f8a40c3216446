"""What the Endpoints, EndpointSlice and mirroring controllers share: which pods a
Service's endpoints include (upstream's ShouldPodBeInEndpoints), a pod's serving and
terminating state, and a Service port resolved against one pod's container ports
(a named targetPort can differ per pod).

Pure functions over dicts: no I/O, no clock, inputs never mutated.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.util.meta import is_terminating, labels_of, meta
from runtime.util.pods import is_ready, phase
from runtime.util.selectors import label_selector

Obj = dict[str, Any]
Pod = Mapping[str, Any]

# labels the controllers set on what they manage (upstream discovery/v1 constants)
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
HEADLESS_LABEL = "service.kubernetes.io/headless"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"
TRIGGER_TIME_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"


def selected_pods(service: Mapping[str, Any], pods: list[Obj]) -> list[Obj]:
    """The pods of the Service's namespace its selector matches, by name (stable order)."""
    selector = (service.get("spec") or {}).get("selector")
    match = label_selector({"matchLabels": selector})
    return sorted((p for p in pods if match(labels_of(p))), key=lambda p: meta(p)["name"])


def has_selector(service: Mapping[str, Any]) -> bool:
    return bool((service.get("spec") or {}).get("selector"))


def is_headless(service: Mapping[str, Any]) -> bool:
    return (service.get("spec") or {}).get("clusterIP") == "None"


def should_include(pod: Pod, *, include_terminating: bool) -> bool:
    """A pod belongs in endpoints when it has an IP, has not finished for good and
    (unless terminating pods are wanted) is not being deleted."""
    status = pod.get("status") or {}
    if not status.get("podIP"):
        return False
    restart = (pod.get("spec") or {}).get("restartPolicy", "Always")
    if phase(pod) == "Failed" or (phase(pod) == "Succeeded" and restart != "Always"):
        return False
    return include_terminating or not is_terminating(pod)


def serving(pod: Pod) -> bool:
    return is_ready(pod)


def terminating(pod: Pod) -> bool:
    return is_terminating(pod)


def resolve_port(pod: Pod, port: Mapping[str, Any]) -> int | None:
    """The pod's port a Service port targets: a number as is, a name looked up among
    the pod's container ports with the same protocol (None when the pod has none)."""
    target = port.get("targetPort", port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    proto = port.get("protocol") or "TCP"
    for c in (pod.get("spec") or {}).get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == target and (cp.get("protocol") or "TCP") == proto:
                return int(cp["containerPort"])
    return None


def endpoint_ports(service: Mapping[str, Any], pod: Pod) -> list[Obj] | None:
    """The Service's ports resolved for this pod, as EndpointPorts; None when a port
    cannot be resolved for it (the pod then serves only the ports it has)."""
    out: list[Obj] = []
    for sp in (service.get("spec") or {}).get("ports") or []:
        number = resolve_port(pod, sp)
        if number is None:
            continue
        ep: Obj = {"port": number, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("name"):
            ep["name"] = sp["name"]
        if sp.get("appProtocol"):
            ep["appProtocol"] = sp["appProtocol"]
        out.append(ep)
    return out


def target_ref(pod: Pod) -> Obj:
    m = meta(pod)
    return {"kind": "Pod", "namespace": m.get("namespace"), "name": m["name"],
            "uid": m.get("uid")}


def pod_hostname(service: Mapping[str, Any], pod: Pod) -> str | None:
    """The hostname a pod publishes under a Service: its spec.hostname when its
    spec.subdomain names the Service (how StatefulSet pods get DNS names)."""
    spec = pod.get("spec") or {}
    if spec.get("hostname") and spec.get("subdomain") == meta(service).get("name"):
        return str(spec["hostname"])
    return None


def placement(service: Mapping[str, Any], pod: Pod) -> Obj:
    """The nodeName and hostname an Endpoints address or an EndpointSlice endpoint of
    `pod` carries, each only when set."""
    out: Obj = {}
    node = (pod.get("spec") or {}).get("nodeName")
    if node:
        out["nodeName"] = node
    hostname = pod_hostname(service, pod)
    if hostname:
        out["hostname"] = hostname
    return out


def service_labels(service: Mapping[str, Any]) -> dict[str, str]:
    """The Service's labels plus the headless marker, as upstream copies them."""
    out = dict(labels_of(service))
    if is_headless(service):
        out[HEADLESS_LABEL] = ""
    else:
        out.pop(HEADLESS_LABEL, None)
    return out
