"""core/v1 printers other than pods: services, endpoints, nodes, namespaces, configmaps,
secrets, service accounts, events, persistent volume claims and resource quotas.

Owns the columns and cell formats upstream's printers.go uses for these kinds (PORT(S)
like "80:30080/TCP", node STATUS with SchedulingDisabled, event LAST SEEN/OBJECT, ...).
LimitRanges have no upstream printer and get the default NAME/CREATED AT table.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any, Mapping

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, integer, name

# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------

SERVICE_COLUMNS = (
    NAME,
    Column("Type", "type determines how the Service is exposed."),
    Column("Cluster-IP", "clusterIP is the IP address of the service and is usually assigned "
                         "randomly."),
    Column("External-IP", "externalIPs is a list of IP addresses for which nodes in the cluster "
                          "will also accept traffic for this service."),
    Column("Port(s)", "The list of ports that are exposed by this service."),
    AGE,
    Column("Selector", "Route service traffic to pods with label keys and values matching this "
                       "selector.", priority=1),
)


def _load_balancer_ips(svc: Obj) -> list[str]:
    """loadBalancerStatusStringer (wide: never truncated): sorted unique IPs/hostnames."""
    found = set()
    for ing in get(svc, "status", "loadBalancer", "ingress", default=[]):
        if ing.get("ip"):
            found.add(ing["ip"])
        elif ing.get("hostname"):
            found.add(ing["hostname"])
    return sorted(found)


def _external_ip(svc: Obj) -> str:
    svc_type, external = get(svc, "spec", "type", default=""), get(svc, "spec", "externalIPs")
    if svc_type in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if svc_type == "LoadBalancer":
        ips = _load_balancer_ips(svc)
        if external:
            return ",".join(ips + list(external))
        return ",".join(ips) if ips else "<pending>"
    if svc_type == "ExternalName":
        return get(svc, "spec", "externalName", default="")
    return "<unknown>"


def make_port_string(ports: list[Mapping[str, Any]]) -> str:
    pieces = []
    for p in ports:
        proto = p.get("protocol", "")
        if p.get("nodePort", 0) > 0:
            pieces.append(f"{p.get('port', 0)}:{p['nodePort']}/{proto}")
        else:
            pieces.append(f"{p.get('port', 0)}/{proto}")
    return ",".join(pieces)


def service_row(svc: Obj, ctx: Ctx) -> list[Any]:
    cluster_ip = get(svc, "spec", "clusterIPs", 0) or get(svc, "spec", "clusterIP") or "<none>"
    ports = make_port_string(get(svc, "spec", "ports", default=[])) or "<none>"
    return [name(svc), get(svc, "spec", "type", default=""), cluster_ip, _external_ip(svc),
            ports, age(svc, ctx), common.format_labels(get(svc, "spec", "selector"))]


# ---------------------------------------------------------------------------
# Endpoints
# ---------------------------------------------------------------------------

ENDPOINTS_COLUMNS = (NAME, Column("Endpoints", "The set of all endpoints is the union of all "
                                               "subsets."), AGE)


def _join_host_port(host: str, port: int) -> str:
    """net.JoinHostPort: brackets around IPv6 literals."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_endpoints(ep: Obj, limit: int = 3) -> str:
    subsets = get(ep, "subsets", default=[])
    if not subsets:
        return "<none>"
    shown: list[str] = []
    count = 0
    for ss in subsets:
        addresses = [a.get("ip", "") for a in ss.get("addresses") or []]
        ports = ss.get("ports") or []
        for port in ports or [None]:  # headless services may have no ports: plain IPs
            count += len(addresses)
            for ip in addresses:
                if len(shown) == limit:
                    break
                shown.append(ip if port is None else _join_host_port(ip, port.get("port", 0)))
    joined = ",".join(shown)
    return f"{joined} + {count - limit} more..." if count > limit else joined


def endpoints_row(ep: Obj, ctx: Ctx) -> list[Any]:
    return [name(ep), format_endpoints(ep), age(ep, ctx)]


# ---------------------------------------------------------------------------
# Nodes
# ---------------------------------------------------------------------------

NODE_COLUMNS = (
    NAME,
    Column("Status", "The status of the node"),
    Column("Roles", "The roles of the node"),
    AGE,
    Column("Version", "Kubelet Version reported by the node."),
    Column("Internal-IP", "List of addresses reachable to the node.", priority=1),
    Column("External-IP", "List of addresses reachable to the node.", priority=1),
    Column("OS-Image", "OS Image reported by the node from /etc/os-release.", priority=1),
    Column("Kernel-Version", "Kernel Version reported by the node from 'uname -r'.", priority=1),
    Column("Container-Runtime", "ContainerRuntime Version reported by the node through runtime "
                                "remote API.", priority=1),
)
NODE_ROLE_PREFIX = "node-role.kubernetes.io/"
NODE_ROLE_LABEL = "kubernetes.io/role"


def node_status(node: Obj) -> str:
    ready = next((c for c in get(node, "status", "conditions", default=[])
                  if c.get("type") == "Ready"), None)
    status = ["Unknown"] if ready is None else \
        ["Ready" if ready.get("status") == "True" else "NotReady"]
    if get(node, "spec", "unschedulable"):
        status.append("SchedulingDisabled")
    return ",".join(status)


def node_roles(node: Obj) -> str:
    roles = set()
    for k, v in (get(node, "metadata", "labels") or {}).items():
        if k.startswith(NODE_ROLE_PREFIX) and k[len(NODE_ROLE_PREFIX):]:
            roles.add(k[len(NODE_ROLE_PREFIX):])
        elif k == NODE_ROLE_LABEL and v:
            roles.add(v)
    return ",".join(sorted(roles)) or "<none>"


def _node_address(node: Obj, kind: str) -> str:
    for a in get(node, "status", "addresses", default=[]):
        if a.get("type") == kind:
            return a.get("address", "")
    return "<none>"


def node_row(node: Obj, ctx: Ctx) -> list[Any]:
    info = get(node, "status", "nodeInfo") or {}
    return [name(node), node_status(node), node_roles(node), age(node, ctx),
            info.get("kubeletVersion", ""), _node_address(node, "InternalIP"),
            _node_address(node, "ExternalIP"), info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>",
            info.get("containerRuntimeVersion") or "<unknown>"]


# ---------------------------------------------------------------------------
# Namespaces, ConfigMaps, Secrets, ServiceAccounts
# ---------------------------------------------------------------------------

NAMESPACE_COLUMNS = (NAME, Column("Status", "The status of the namespace"), AGE)
CONFIGMAP_COLUMNS = (NAME, Column("Data", "Data contains the configuration data."), AGE)
SECRET_COLUMNS = (NAME, Column("Type", "Used to facilitate programmatic handling of secret "
                                       "data."),
                  Column("Data", "Data contains the secret data."), AGE)
SERVICE_ACCOUNT_COLUMNS = (NAME, Column("Secrets", "Secrets is a list of the secrets in the same "
                                                   "namespace that pods running using this "
                                                   "ServiceAccount are allowed to use."), AGE)


def namespace_row(ns: Obj, ctx: Ctx) -> list[Any]:
    return [name(ns), get(ns, "status", "phase", default=""), age(ns, ctx)]


def configmap_row(cm: Obj, ctx: Ctx) -> list[Any]:
    return [name(cm), len(cm.get("data") or {}) + len(cm.get("binaryData") or {}), age(cm, ctx)]


def secret_row(secret: Obj, ctx: Ctx) -> list[Any]:
    return [name(secret), secret.get("type", ""), len(secret.get("data") or {}), age(secret, ctx)]


def service_account_row(sa: Obj, ctx: Ctx) -> list[Any]:
    return [name(sa), len(sa.get("secrets") or []), age(sa, ctx)]


# ---------------------------------------------------------------------------
# Events (core/v1; events.k8s.io objects are adapted in events.py)
# ---------------------------------------------------------------------------

EVENT_COLUMNS = (
    Column("Last Seen", "The time at which the most recent occurrence of this event was "
                        "recorded."),
    Column("Type", "Type of this event (Normal, Warning), new types could be added in the "
                   "future"),
    Column("Reason", "This should be a short, machine understandable string that gives the "
                     "reason for the transition into the object's current status."),
    Column("Object", "The object that this event is about."),
    Column("Subobject", "If referring to a piece of an object instead of an entire object, this "
                        "string should contain a valid JSON/Go field access statement.",
           priority=1),
    Column("Source", "The component reporting this event.", priority=1),
    Column("Message", "A human-readable description of the status of this operation."),
    Column("First Seen", "The time at which the event was first recorded.", priority=1),
    Column("Count", "The number of times this event has occurred.", priority=1),
    Column("Name", NAME.description, priority=1, format="name"),
)


def _event_source(ev: Obj) -> str:
    """formatEventSource: component[, host], falling back to reporting controller/instance."""
    component = get(ev, "source", "component") or ev.get("reportingComponent") or ""
    host = get(ev, "source", "host") or ev.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def _event_target(ev: Obj) -> str:
    kind = get(ev, "involvedObject", "kind", default="").lower()
    target = get(ev, "involvedObject", "name", default="")
    return f"{kind}/{target}" if target else kind


def event_row(ev: Obj, ctx: Ctx) -> list[Any]:
    first = common.since(ev.get("firstTimestamp"), ctx.now) if ev.get("firstTimestamp") \
        else common.since(ev.get("eventTime"), ctx.now)
    last = common.since(ev.get("lastTimestamp"), ctx.now) if ev.get("lastTimestamp") else first
    count = integer(ev, "count")
    if ev.get("series") is not None:
        last = common.since(get(ev, "series", "lastObservedTime"), ctx.now)
        count = integer(ev, "series", "count")
    elif count == 0:
        count = 1  # singleton events don't set a count in the new API
    return [last, ev.get("type", ""), ev.get("reason", ""), _event_target(ev),
            get(ev, "involvedObject", "fieldPath", default=""), _event_source(ev),
            (ev.get("message") or "").strip(), first, count, name(ev)]


# ---------------------------------------------------------------------------
# PersistentVolumeClaims
# ---------------------------------------------------------------------------

PVC_COLUMNS = (
    NAME,
    Column("Status", "phase represents the current phase of PersistentVolumeClaim."),
    Column("Volume", "volumeName is the binding reference to the PersistentVolume backing this "
                     "claim."),
    Column("Capacity", "capacity represents the actual resources of the underlying volume."),
    Column("Access Modes", "accessModes contains the actual access modes the volume backing the "
                           "PVC has."),
    Column("StorageClass", "StorageClass of the pvc"),
    Column("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    Column("VolumeMode", "volumeMode defines what type of volume is required by the claim.",
           priority=1),
)
_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))
BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def access_modes(modes: list[str] | None) -> str:
    """helper.GetAccessModesAsString: RWO,ROX,RWX,RWOP in that fixed order."""
    modes = modes or []
    return ",".join(short for mode, short in _ACCESS_MODES if mode in modes)


def _claim_class(pvc: Obj) -> str:
    annotations = get(pvc, "metadata", "annotations") or {}
    if BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return annotations[BETA_STORAGE_CLASS_ANNOTATION]
    return get(pvc, "spec", "storageClassName", default="")


def pvc_row(pvc: Obj, ctx: Ctx) -> list[Any]:
    phase = get(pvc, "status", "phase", default="")
    if get(pvc, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    volume = get(pvc, "spec", "volumeName", default="")
    capacity = modes = ""
    if volume:
        modes = access_modes(get(pvc, "status", "accessModes"))
        capacity = common.quantity(get(pvc, "status", "capacity", "storage"))
    return [name(pvc), phase, volume, capacity, modes, _claim_class(pvc),
            get(pvc, "spec", "volumeAttributesClassName") or "<unset>", age(pvc, ctx),
            get(pvc, "spec", "volumeMode") or "<unset>"]


# ---------------------------------------------------------------------------
# ResourceQuotas
# ---------------------------------------------------------------------------

RESOURCE_QUOTA_COLUMNS = (
    NAME,
    Column("Request", "Request represents a minimum amount of cpu/memory that a container may "
                      "consume."),
    Column("Limit", "Limits control the maximum amount of cpu/memory that a container may use "
                    "independent of contention on the node."),
    AGE,
)


def resource_quota_row(rq: Obj, ctx: Ctx) -> list[Any]:
    hard = get(rq, "status", "hard") or {}
    used = get(rq, "status", "used") or {}
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        pieces = resource.split(".")
        column = limits if len(pieces) > 1 and pieces[0] == "limits" else requests
        usage = f"{common.quantity(used.get(resource))}/{common.quantity(hard[resource])}"
        column.append(f"{resource}: {usage}")
    return [name(rq), ", ".join(requests), ", ".join(limits), age(rq, ctx)]


SERVICE = Printer(SERVICE_COLUMNS, service_row)
ENDPOINTS = Printer(ENDPOINTS_COLUMNS, endpoints_row)
NODE = Printer(NODE_COLUMNS, node_row)
NAMESPACE = Printer(NAMESPACE_COLUMNS, namespace_row)
CONFIGMAP = Printer(CONFIGMAP_COLUMNS, configmap_row)
SECRET = Printer(SECRET_COLUMNS, secret_row)
SERVICE_ACCOUNT = Printer(SERVICE_ACCOUNT_COLUMNS, service_account_row)
EVENT = Printer(EVENT_COLUMNS, event_row)
PVC = Printer(PVC_COLUMNS, pvc_row)
RESOURCE_QUOTA = Printer(RESOURCE_QUOTA_COLUMNS, resource_quota_row)
