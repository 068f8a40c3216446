"""The resource table (the scheme): one row per served group/version/resource.

Routing, discovery, OpenAPI, Table printing and storage keys are all derived from
this table; nothing else lists the kinds kapi serves. It must never import from the
rest of kapi: every layer above reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KUBERNETES_VERSION = "1.33"  # the release whose API (definitions, discovery) kapi claims
GIT_VERSION = "v1.33.0-kapi"

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class Subresource:
    name: str  # "status", "scale", "binding", "eviction"
    kind: str  # response kind, e.g. "Scale" for scale
    group: str = ""  # group of the response kind when it differs ("autoscaling" for scale)
    version: str = ""
    verbs: tuple[str, ...] = STATUS_VERBS


@dataclass(frozen=True)
class Resource:
    """One served group/version/resource."""

    group: str
    version: str
    resource: str  # plural, lower case: "deployments"
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = ()
    # Several group/versions may share one stored form (events and events.k8s.io events,
    # autoscaling v1 and v2 HPAs). storage_gr names the group/resource that owns the keys;
    # the object is stored in the storage_version of that group.
    storage_group: str | None = None
    storage_version: str | None = None
    # The OpenAPI definition name of the kind, e.g. "io.k8s.api.apps.v1.Deployment".
    definition: str = ""
    # Field selectors this kind supports besides metadata.name and metadata.namespace.
    field_selectors: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def stored_group(self) -> str:
        return self.group if self.storage_group is None else self.storage_group

    @property
    def stored_version(self) -> str:
        return self.version if self.storage_version is None else self.storage_version

    @property
    def key_prefix(self) -> str:
        """Storage key prefix; every object of this resource lives below it."""
        g = self.stored_group
        return f"/registry/{g + '/' if g else ''}{self.resource}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None


STATUS = Subresource("status", "")  # kind filled in as the resource's own kind
SCALE = Subresource("scale", "Scale", "autoscaling", "v1")


def _status(kind: str) -> Subresource:
    return Subresource("status", kind)


def _r(group: str, version: str, resource: str, kind: str, pkg: str, **kw) -> Resource:  # type: ignore[no-untyped-def]
    return Resource(group, version, resource, kind, definition=f"{pkg}.{kind}", **kw)


CORE = "io.k8s.api.core.v1"
ALL = ("all",)

RESOURCES: tuple[Resource, ...] = (
    # core/v1
    _r("", "v1", "namespaces", "Namespace", CORE, namespaced=False, short_names=("ns",),
       verbs=NAMESPACE_VERBS, subresources=(_status("Namespace"), Subresource("finalize", "Namespace", verbs=("update",))),
       field_selectors=("status.phase",)),
    _r("", "v1", "pods", "Pod", CORE, short_names=("po",), categories=ALL,
       subresources=(_status("Pod"), Subresource("binding", "Binding", verbs=("create",)),
                     Subresource("eviction", "Eviction", "policy", "v1", verbs=("create",)),
                     Subresource("log", "Pod", verbs=("get",))),
       field_selectors=("spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                        "spec.serviceAccountName", "spec.hostNetwork", "status.phase",
                        "status.podIP", "status.podIPs", "status.nominatedNodeName")),
    _r("", "v1", "services", "Service", CORE, short_names=("svc",), categories=ALL,
       subresources=(_status("Service"),), field_selectors=("spec.clusterIP", "spec.type")),
    _r("", "v1", "endpoints", "Endpoints", CORE, short_names=("ep",)),
    _r("", "v1", "configmaps", "ConfigMap", CORE, short_names=("cm",)),
    _r("", "v1", "secrets", "Secret", CORE, field_selectors=("type",)),
    _r("", "v1", "serviceaccounts", "ServiceAccount", CORE, short_names=("sa",)),
    _r("", "v1", "nodes", "Node", CORE, namespaced=False, short_names=("no",),
       subresources=(_status("Node"),), field_selectors=("spec.unschedulable",)),
    _r("", "v1", "events", "Event", CORE, short_names=("ev",),
       field_selectors=("involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
                        "involvedObject.uid", "involvedObject.apiVersion",
                        "involvedObject.resourceVersion", "involvedObject.fieldPath",
                        "reason", "reportingComponent", "source", "type")),
    _r("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", CORE, short_names=("pvc",),
       subresources=(_status("PersistentVolumeClaim"),)),
    _r("", "v1", "limitranges", "LimitRange", CORE, short_names=("limits",)),
    _r("", "v1", "resourcequotas", "ResourceQuota", CORE, short_names=("quota",),
       subresources=(_status("ResourceQuota"),)),
    # apps/v1
    _r("apps", "v1", "deployments", "Deployment", "io.k8s.api.apps.v1", short_names=("deploy",),
       categories=ALL, subresources=(_status("Deployment"), SCALE)),
    _r("apps", "v1", "replicasets", "ReplicaSet", "io.k8s.api.apps.v1", short_names=("rs",),
       categories=ALL, subresources=(_status("ReplicaSet"), SCALE),
       field_selectors=("status.replicas",)),
    _r("apps", "v1", "statefulsets", "StatefulSet", "io.k8s.api.apps.v1", short_names=("sts",),
       categories=ALL, subresources=(_status("StatefulSet"), SCALE),
       field_selectors=("status.successful",)),
    _r("apps", "v1", "daemonsets", "DaemonSet", "io.k8s.api.apps.v1", short_names=("ds",),
       categories=ALL, subresources=(_status("DaemonSet"),)),
    _r("apps", "v1", "controllerrevisions", "ControllerRevision", "io.k8s.api.apps.v1"),
    # batch/v1
    _r("batch", "v1", "jobs", "Job", "io.k8s.api.batch.v1", categories=ALL,
       subresources=(_status("Job"),), field_selectors=("status.successful",)),
    _r("batch", "v1", "cronjobs", "CronJob", "io.k8s.api.batch.v1", short_names=("cj",),
       categories=ALL, subresources=(_status("CronJob"),)),
    # autoscaling: v2 is the stored form; v1 is converted on the way in and out.
    _r("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
       "io.k8s.api.autoscaling.v2", short_names=("hpa",), categories=ALL,
       subresources=(_status("HorizontalPodAutoscaler"),)),
    _r("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler",
       "io.k8s.api.autoscaling.v1", short_names=("hpa",), categories=ALL,
       subresources=(_status("HorizontalPodAutoscaler"),), storage_version="v2"),
    # coordination, discovery, events, policy, rbac
    _r("coordination.k8s.io", "v1", "leases", "Lease", "io.k8s.api.coordination.v1"),
    _r("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", "io.k8s.api.discovery.v1"),
    _r("events.k8s.io", "v1", "events", "Event", "io.k8s.api.events.v1", short_names=("ev",),
       storage_group="", storage_version="v1",
       field_selectors=("regarding.kind", "regarding.namespace", "regarding.name",
                        "regarding.uid", "reason", "reportingController", "type")),
    _r("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", "io.k8s.api.policy.v1",
       short_names=("pdb",), subresources=(_status("PodDisruptionBudget"),)),
    _r("rbac.authorization.k8s.io", "v1", "roles", "Role", "io.k8s.api.rbac.v1"),
    _r("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", "io.k8s.api.rbac.v1"),
    _r("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", "io.k8s.api.rbac.v1",
       namespaced=False),
    _r("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding",
       "io.k8s.api.rbac.v1", namespaced=False),
)

# Preferred version per group, in the order discovery lists groups.
PREFERRED: dict[str, str] = {
    "": "v1",
    "apps": "v1",
    "events.k8s.io": "v1",
    "autoscaling": "v2",
    "batch": "v1",
    "coordination.k8s.io": "v1",
    "discovery.k8s.io": "v1",
    "policy": "v1",
    "rbac.authorization.k8s.io": "v1",
}


@dataclass
class Scheme:
    """Look-ups over RESOURCES."""

    resources: tuple[Resource, ...] = RESOURCES
    _by_gvr: dict[tuple[str, str, str], Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_gvr = {(r.group, r.version, r.resource): r for r in self.resources}

    def get(self, group: str, version: str, resource: str) -> Resource | None:
        return self._by_gvr.get((group, version, resource))

    def by_kind(self, api_version: str, kind: str) -> Resource | None:
        for r in self.resources:
            if r.api_version == api_version and r.kind == kind:
                return r
        return None

    def groups(self) -> list[str]:
        """Non-core groups, in discovery order."""
        return [g for g in PREFERRED if g]

    def versions(self, group: str) -> list[str]:
        vs = [r.version for r in self.resources if r.group == group]
        seen: list[str] = []
        pref = PREFERRED.get(group)
        for v in ([pref] if pref in vs else []) + vs:
            if v not in seen:
                seen.append(v)
        return seen

    def in_group_version(self, group: str, version: str) -> list[Resource]:
        return [r for r in self.resources if r.group == group and r.version == version]

    def storage_resource(self, r: Resource) -> Resource:
        """The row whose group/version is the stored form of r."""
        s = self.get(r.stored_group, r.stored_version, r.resource)
        assert s is not None, r
        return s


SCHEME = Scheme()
