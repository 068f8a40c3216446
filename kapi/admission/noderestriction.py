"""NodeRestriction admission: what a kubelet's identity (user `system:node:NAME` in group
`system:nodes`) may write, as upstream's plugin allows it.

- its own Node only; on create no label it may not set, on update neither such labels
  nor taints (node-restriction.kubernetes.io/ labels, and kubernetes.io/ or k8s.io/
  labels other than the kubelet's own, would let a node steer workloads to itself);
- mirror pods bound to itself only (no service account, secrets, config maps, claims,
  and owned only by its own Node); no other pod write but deleting its own pods and
  updating the status of its own pods (labels unchanged);
- its own Lease in kube-node-lease.
Every other user passes untouched. Reads the pod being deleted through the store.
"""

from __future__ import annotations

from typing import Any

from kapi import admission, errors
from kapi.admission.refuse import forbidden
from kapi.auth import current_user
from kapi.meta.resources import Resource

Obj = dict[str, Any]
MIRROR = "kubernetes.io/config.mirror"
KUBELET_LABELS = frozenset({
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
    "beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone"})
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def node_name() -> str | None:
    """The node the current user is, if it is one."""
    user = current_user()
    if user.name.startswith("system:node:") and "system:nodes" in user.groups:
        return user.name[len("system:node:"):] or None
    return None


def forbidden_labels(new: Any, old: Any) -> list[str]:
    new, old = new if isinstance(new, dict) else {}, old if isinstance(old, dict) else {}
    changed = {k for k in set(new) | set(old) if new.get(k) != old.get(k)}
    out = []
    for label in changed:
        ns = label.partition("/")[0] if "/" in label else ""
        restricted = ns == "node-restriction.kubernetes.io" or ns.endswith(
            ".node-restriction.kubernetes.io")
        kubernetes = ns in ("kubernetes.io", "k8s.io") or ns.endswith((".kubernetes.io",
                                                                      ".k8s.io"))
        kubelet = label in KUBELET_LABELS or ns in KUBELET_LABEL_NAMESPACES or \
            ns.endswith(tuple("." + n for n in KUBELET_LABEL_NAMESPACES))
        if restricted or (kubernetes and not kubelet):
            out.append(label)
    return sorted(out)


class NodeRestriction:
    def __init__(self, pods: Resource) -> None:
        self.pods = pods
        self.store: Any = None  # the generic store, set once it exists

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        node = node_name()
        if node is None or r.group not in ("", "coordination.k8s.io"):
            return
        if r.resource == "nodes" and not r.group:
            self._node(r, op, node, new, old)
        elif r.resource == "pods" and not r.group:
            await self._pod(r, op, node, new, old)
        elif r.resource == "leases" and r.group:
            meta = new.get("metadata") or {}
            if meta.get("namespace") != "kube-node-lease":
                raise forbidden(r, new, 'can only access leases in the "kube-node-lease" '
                                        "system namespace")
            if meta.get("name") != node:
                raise forbidden(r, new, "can only access node lease with the same name as "
                                        "the requesting node")

    def _node(self, r: Resource, op: str, node: str, new: Obj, old: Obj | None) -> None:
        name = (new.get("metadata") or {}).get("name")
        if name != node:
            raise forbidden(r, new, f'node "{node}" is not allowed to modify node "{name}"')
        labels = (new.get("metadata") or {}).get("labels")
        if op == "CREATE":
            bad = forbidden_labels(labels, None)
            if bad:
                raise forbidden(r, new, f'node "{node}" is not allowed to set the following '
                                        f"labels: {', '.join(bad)}")
        elif op == "UPDATE" and old is not None:
            if (new.get("spec") or {}).get("taints") != (old.get("spec") or {}).get("taints"):
                raise forbidden(r, new, f'node "{node}" is not allowed to modify taints')
            bad = forbidden_labels(labels, (old.get("metadata") or {}).get("labels"))
            if bad:
                raise forbidden(r, new, f"is not allowed to modify labels: {', '.join(bad)}")

    async def _pod(self, r: Resource, op: str, node: str, new: Obj, old: Obj | None) -> None:
        sub = admission.current().subresource
        if sub == "status" and op == "UPDATE" and old is not None:
            if (old.get("spec") or {}).get("nodeName") != node:
                raise forbidden(r, new, f'node "{node}" can only update pod status for pods '
                                        "with spec.nodeName set to itself")
            if (new.get("metadata") or {}).get("labels") != \
                    (old.get("metadata") or {}).get("labels"):
                raise forbidden(r, new, f'node "{node}" cannot update labels through pod '
                                        "status")
        elif sub == "" and op == "CREATE":
            self._mirror_pod(r, node, new)
        elif sub == "" and op == "DELETE":
            meta = new.get("metadata") or {}
            try:
                pod = await self.store.get(self.pods, meta.get("namespace"), meta.get("name"))
            except errors.NotFound:
                return  # the delete itself answers 404
            if (pod.get("spec") or {}).get("nodeName") != node:
                raise forbidden(r, new, f'node "{node}" can only delete pods with '
                                        "spec.nodeName set to itself")
        elif sub in ("", "eviction"):
            raise forbidden(r, new, f'unexpected operation "{op}", node "{node}" can only '
                                    "create and delete mirror pods")

    def _mirror_pod(self, r: Resource, node: str, pod: Obj) -> None:
        meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if MIRROR not in (meta.get("annotations") or {}):
            raise forbidden(r, pod, f'pod does not have "{MIRROR}" annotation, node "{node}" '
                                    "can only create mirror pods")
        if spec.get("nodeName") != node:
            raise forbidden(r, pod, f'node "{node}" can only create pods with spec.nodeName '
                                    "set to itself")
        for ref in meta.get("ownerReferences") or []:
            if ref.get("kind") != "Node" or ref.get("name") != node or \
                    ref.get("apiVersion") != "v1":
                raise forbidden(r, pod, f'node "{node}" can only create pods with an owner '
                                        "reference set to itself")
        volumes = spec.get("volumes") or []
        for what, found in (
                ("secrets", any(v.get("secret") for v in volumes)),
                ("configmaps", any(v.get("configMap") for v in volumes)),
                ("persistentvolumeclaims", any(v.get("persistentVolumeClaim")
                                               for v in volumes))):
            if found:
                raise forbidden(r, pod, f'node "{node}" can not create pods that reference '
                                        f"{what}")
