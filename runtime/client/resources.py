"""The resources runtime components use, as group/version/plural (no import of the API
server's own table: components learn paths the way any client does)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GVR:
    group: str
    version: str
    resource: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        if name:
            base += f"/{name}"
            if subresource:
                base += f"/{subresource}"
        return base


NAMESPACES = GVR("", "v1", "namespaces", "Namespace", namespaced=False)
NODES = GVR("", "v1", "nodes", "Node", namespaced=False)
PODS = GVR("", "v1", "pods", "Pod")
SERVICES = GVR("", "v1", "services", "Service")
ENDPOINTS = GVR("", "v1", "endpoints", "Endpoints")
CONFIGMAPS = GVR("", "v1", "configmaps", "ConfigMap")
SECRETS = GVR("", "v1", "secrets", "Secret")
SERVICEACCOUNTS = GVR("", "v1", "serviceaccounts", "ServiceAccount")
EVENTS = GVR("", "v1", "events", "Event")
PVCS = GVR("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
PVS = GVR("", "v1", "persistentvolumes", "PersistentVolume", namespaced=False)
STORAGECLASSES = GVR("storage.k8s.io", "v1", "storageclasses", "StorageClass",
                     namespaced=False)
REPLICATIONCONTROLLERS = GVR("", "v1", "replicationcontrollers", "ReplicationController")
DEPLOYMENTS = GVR("apps", "v1", "deployments", "Deployment")
REPLICASETS = GVR("apps", "v1", "replicasets", "ReplicaSet")
STATEFULSETS = GVR("apps", "v1", "statefulsets", "StatefulSet")
DAEMONSETS = GVR("apps", "v1", "daemonsets", "DaemonSet")
CONTROLLERREVISIONS = GVR("apps", "v1", "controllerrevisions", "ControllerRevision")
JOBS = GVR("batch", "v1", "jobs", "Job")
CRONJOBS = GVR("batch", "v1", "cronjobs", "CronJob")
LEASES = GVR("coordination.k8s.io", "v1", "leases", "Lease")
ENDPOINTSLICES = GVR("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice")
HPAS = GVR("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler")
PDBS = GVR("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget")

ALL = (NAMESPACES, NODES, PODS, SERVICES, ENDPOINTS, CONFIGMAPS, SECRETS, SERVICEACCOUNTS,
       EVENTS, PVCS, REPLICATIONCONTROLLERS, DEPLOYMENTS, REPLICASETS, STATEFULSETS, DAEMONSETS, CONTROLLERREVISIONS,
       JOBS, CRONJOBS, LEASES, ENDPOINTSLICES, HPAS, PDBS)


def by_api_version_kind(api_version: str, kind: str) -> GVR | None:
    for g in ALL:
        if g.api_version == api_version and g.kind == kind:
            return g
    return None
