"""The kinds kapi serves: one strategy per kind, listed in one explicit table.

Each module of this package is the one home of a kind (or of a few tightly related
kinds): its resource rows, create/update/status preparation, initial status, generation
rule, defaulting, validation, name rule, field selectors, Table printer, the admission
steps it needs and its deletion behaviour (see base.Strategy). The served Scheme, which
routing, discovery, OpenAPI and storage keys read, is built from KINDS; nothing else
lists kinds. Adding a kind is one module and one line in KINDS (README: "Adding a kind").

No registration by import side effects: a module defines its strategy, KINDS lists it.
"""

from __future__ import annotations

from typing import Iterable, Mapping

from kapi.meta.resources import Scheme
from kapi.registry.kinds import (
    admissionregistration,
    apps,
    authentication,
    authorization,
    certificates,
    cluster,
    config,
    core,
    crd,
    cronjob,
    daemonset,
    discovery,
    flowcontrol,
    hpa,
    job,
    namespace,
    networking,
    node,
    pdb,
    pod,
    podtemplate,
    rbac,
    records,
    replicationcontroller,
    service,
    storage,
)
from kapi.registry.kinds.base import Strategy

__all__ = ["KINDS", "PREFERRED", "SCHEME", "Strategy", "scheme_of"]

# The built-in kinds, in the order discovery and OpenAPI list their resources.
KINDS: tuple[Strategy, ...] = (
    namespace.NAMESPACES, pod.PODS, podtemplate.POD_TEMPLATES, service.SERVICES, records.ENDPOINTS, config.CONFIGMAPS,
    config.SECRETS, core.SERVICE_ACCOUNTS, node.NODES, records.EVENTS, core.PVCS,
    core.LIMIT_RANGES, core.RESOURCE_QUOTAS, replicationcontroller.REPLICATION_CONTROLLERS,
    apps.DEPLOYMENTS, apps.REPLICA_SETS, apps.STATEFUL_SETS, daemonset.DAEMON_SETS,
    apps.CONTROLLER_REVISIONS,
    job.JOBS, cronjob.CRON_JOBS,
    hpa.HPAS,
    records.LEASES, discovery.ENDPOINT_SLICES, pdb.PDBS,
    rbac.ROLES, rbac.ROLE_BINDINGS, rbac.CLUSTER_ROLES, rbac.CLUSTER_ROLE_BINDINGS,
    *admissionregistration.KINDS,
    *authorization.REVIEWS,
    authentication.TOKEN_REVIEWS,
    crd.CRDS,
    # the groups conformance tests CRUD: stored and served, most with no controller
    storage.PERSISTENT_VOLUMES, storage.STORAGE_CLASSES, storage.CSI_DRIVERS, storage.CSI_NODES,
    storage.VOLUME_ATTACHMENTS, storage.CSI_STORAGE_CAPACITIES,
    cluster.PRIORITY_CLASSES, cluster.RUNTIME_CLASSES,
    networking.INGRESSES, networking.INGRESS_CLASSES, networking.NETWORK_POLICIES,
    networking.SERVICE_CIDRS, networking.IP_ADDRESSES,
    certificates.CSRS, flowcontrol.FLOW_SCHEMAS, flowcontrol.PRIORITY_LEVELS,
)

# Preferred version per group, in the order discovery lists groups.
PREFERRED: Mapping[str, str] = {
    "": "v1",
    "apps": "v1",
    "events.k8s.io": "v1",
    "authentication.k8s.io": "v1",
    "autoscaling": "v2",
    "batch": "v1",
    "coordination.k8s.io": "v1",
    "discovery.k8s.io": "v1",
    "policy": "v1",
    "rbac.authorization.k8s.io": "v1",
    "authorization.k8s.io": "v1",
    "storage.k8s.io": "v1",
    "scheduling.k8s.io": "v1",
    "node.k8s.io": "v1",
    "networking.k8s.io": "v1",
    "certificates.k8s.io": "v1",
    "flowcontrol.apiserver.k8s.io": "v1",
}


def scheme_of(kinds: Iterable[Strategy], preferred: Mapping[str, str] = PREFERRED) -> Scheme:
    """The Scheme serving these kinds' rows (a group `preferred` omits prefers its first
    row's version)."""
    return Scheme(tuple(r for k in kinds for r in k.rows), dict(preferred))


SCHEME = scheme_of(KINDS)
