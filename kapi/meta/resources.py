"""The shape of the resource table (the scheme): one row per served
group/version/resource, and the look-ups routing, discovery, OpenAPI and storage keys
make over it.

The rows themselves are declared by the kinds' strategies (kapi/registry/kinds), which
build the served Scheme; this module only defines what a row is. It must never import
from the rest of kapi: every layer above reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

KUBERNETES_VERSION = "1.33"  # the release whose API (definitions, discovery) kapi claims
GIT_VERSION = "v1.33.0-kapi"

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
NAMESPACE_VERBS = ("create", "delete", "get", "list", "patch", "update", "watch")
STATUS_VERBS = ("get", "patch", "update")

# Resources whose etcd keys upstream's API server names differently from the resource
# (kept from Kubernetes' early days; see its storage registries).
UPSTREAM_KEYS = {
    "nodes": "minions",
    "services": "services/specs",
    "endpoints": "services/endpoints",
    "replicationcontrollers": "controllers",
    "ingresses": "ingress",
    "customresourcedefinitions": "apiextensions.k8s.io/customresourcedefinitions",
    "apiservices": "apiregistration.k8s.io/apiservices",
}


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
    # The kind's strategy (kapi.registry.kinds), which built this row: everything the
    # server does differently for this kind. Typed loosely because meta sits below
    # registry and never imports it.
    strategy: Any = field(default=None, compare=False, repr=False)

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
        """Storage key prefix; every object of this resource lives below it. The layout
        is upstream's, so etcdctl shows what users expect: built-in groups store under
        the resource alone (with upstream's historical names), other groups under
        group/resource."""
        g, r = self.stored_group, self.resource
        name = UPSTREAM_KEYS.get(r, r) if "." not in g or g.endswith(".k8s.io") else f"{g}/{r}"
        return f"/registry/{name}/"

    def key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"{self.key_prefix}{namespace}/{name}"
        return f"{self.key_prefix}{name}"

    def subresource(self, name: str) -> Subresource | None:
        for s in self.subresources:
            if s.name == name:
                return s
        return None


SCALE = Subresource("scale", "Scale", "autoscaling", "v1")


def status_of(kind: str) -> Subresource:
    """The /status subresource of a kind (it answers with the kind itself)."""
    return Subresource("status", kind)


@dataclass
class Scheme:
    """Look-ups over the served rows. `preferred` maps a group to its preferred version,
    in the order discovery lists groups; a group it leaves out comes after, in row order,
    preferring its first row's version."""

    resources: tuple[Resource, ...]
    preferred: Mapping[str, str] = field(default_factory=dict)
    _by_gvr: dict[tuple[str, str, str], Resource] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_gvr = {(r.group, r.version, r.resource): r for r in self.resources}
        order = dict(self.preferred)
        for r in self.resources:
            order.setdefault(r.group, r.version)
        self.preferred = order

    def get(self, group: str, version: str, resource: str) -> Resource | None:
        return self._by_gvr.get((group, version, resource))

    def serve(self, rows: tuple[Resource, ...], preferred: str = "") -> None:
        """Serve rows built at run time (a CustomResourceDefinition's versions) in place,
        replacing any row of the same group/version/resource; every holder of this
        Scheme sees them at once. `preferred` is their group's preferred version."""
        new = {(r.group, r.version, r.resource) for r in rows}
        self.resources = tuple(r for r in self.resources
                               if (r.group, r.version, r.resource) not in new) + rows
        self._by_gvr = {(r.group, r.version, r.resource): r for r in self.resources}
        if rows:
            order = dict(self.preferred)
            order[rows[0].group] = preferred or rows[0].version
            self.preferred = order

    def unserve(self, group: str, resource: str) -> None:
        """Stop serving every version of group/resource (a deleted definition)."""
        self.resources = tuple(r for r in self.resources
                               if (r.group, r.resource) != (group, resource))
        self._by_gvr = {(r.group, r.version, r.resource): r for r in self.resources}
        if not any(r.group == group for r in self.resources):
            self.preferred = {g: v for g, v in self.preferred.items() if g != group}

    def groups(self) -> list[str]:
        """Non-core groups, in discovery order."""
        return [g for g in self.preferred if g]

    def versions(self, group: str) -> list[str]:
        vs = [r.version for r in self.resources if r.group == group]
        seen: list[str] = []
        pref = self.preferred.get(group)
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
