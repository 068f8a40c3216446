"""The Node authorizer: a kubelet (user system:node:NAME in group system:nodes) may touch
its own Node and Lease, the pods bound to it, and the secrets, configmaps, claims and
service-account tokens those pods reference; everything else it may do is the
system:node role's rules, as upstream's node authorizer holds them.

The graph is kept from pod watch events (`NodeGraph.apply`): for each node, how many of
its pods reference each object. Left out of upstream's graph: persistent volumes (behind
their claims), volume attachments and resource claims. A list or watch of one named
Secret or ConfigMap (a `metadata.name` field selector, which the request info turns into
that name: kapi/endpoints/requestinfo.py) is a read of that object, as a get is.
"""

from __future__ import annotations

import collections
from typing import Any, Iterator

from kapi.auth import User
from kapi.auth.rbac import rules as policy
from kapi.auth.rbac.authorizer import ALLOW, Attrs, Decision

Obj = dict[str, Any]
Ref = tuple[str, str, str]  # (resource, namespace, name)
NODES_GROUP = "system:nodes"
PREFIX = "system:node:"


def node_name(user: User) -> str | None:
    if NODES_GROUP in user.groups and user.name.startswith(PREFIX):
        return user.name[len(PREFIX):] or None
    return None


def _containers(spec: Obj) -> Iterator[Obj]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        yield from spec.get(key) or []


def pod_refs(pod: Obj) -> set[Ref]:
    """What a pod makes its node read: its secrets, configmaps, claims and service account."""
    ns = (pod.get("metadata") or {}).get("namespace") or ""
    spec = pod.get("spec") or {}
    refs: set[tuple[str, str]] = {("serviceaccounts", spec.get("serviceAccountName") or "default")}
    refs |= {("secrets", s.get("name") or "") for s in spec.get("imagePullSecrets") or []}
    for c in _containers(spec):
        for e in c.get("env") or []:
            src = e.get("valueFrom") or {}
            refs |= {(k, (src.get(f) or {}).get("name") or "") for k, f in
                     (("secrets", "secretKeyRef"), ("configmaps", "configMapKeyRef")) if f in src}
        for e in c.get("envFrom") or []:
            refs |= {(k, (e.get(f) or {}).get("name") or "") for k, f in
                     (("secrets", "secretRef"), ("configmaps", "configMapRef")) if f in e}
    for v in spec.get("volumes") or []:
        refs |= _volume_refs(v, pod)
    return {(r, ns, n) for r, n in refs if n}


def _volume_refs(v: Obj, pod: Obj) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    if "secret" in v:
        out.add(("secrets", v["secret"].get("secretName") or ""))
    if "configMap" in v:
        out.add(("configmaps", v["configMap"].get("name") or ""))
    if "persistentVolumeClaim" in v:
        out.add(("persistentvolumeclaims", v["persistentVolumeClaim"].get("claimName") or ""))
    if "ephemeral" in v:  # the claim upstream names <pod>-<volume>
        out.add(("persistentvolumeclaims", f"{pod['metadata'].get('name')}-{v.get('name')}"))
    for s in (v.get("projected") or {}).get("sources") or []:
        if "secret" in s:
            out.add(("secrets", s["secret"].get("name") or ""))
        if "configMap" in s:
            out.add(("configmaps", s["configMap"].get("name") or ""))
    return out


class NodeGraph:
    def __init__(self) -> None:
        self.pods: dict[tuple[str, str], tuple[str, set[Ref]]] = {}  # pod -> (node, refs)
        self.refs: dict[str, collections.Counter[Ref]] = {}  # node -> referenced objects

    def apply(self, deleted: bool, pod: Obj) -> None:
        md = pod.get("metadata") or {}
        key = (md.get("namespace") or "", md.get("name") or "")
        old = self.pods.pop(key, None)
        if old is not None:
            counter = self.refs[old[0]]
            counter.subtract(old[1] | {("pods", *key)})
            self.refs[old[0]] = +counter
        node = (pod.get("spec") or {}).get("nodeName")
        if deleted or not node:
            return
        refs = pod_refs(pod)
        self.pods[key] = (node, refs)
        self.refs.setdefault(node, collections.Counter()).update(refs | {("pods", *key)})

    def related(self, node: str, ref: Ref) -> bool:
        return ref in self.refs.get(node, ())


READS = ("get", "list", "watch")
GRAPH = {"secrets": READS, "configmaps": READS, "persistentvolumeclaims": ("get",)}
OWN_WRITES = ("update", "patch", "delete")


class NodeAuthorizer:
    def __init__(self, graph: NodeGraph, node_rules: list[Obj]) -> None:
        self.graph, self.node_rules = graph, node_rules

    @staticmethod
    def node_user(user: User) -> bool:
        return node_name(user) is not None

    def __call__(self, user: User, a: Attrs) -> Decision:
        node = node_name(user)
        if node is None or not a.is_resource:
            return None, ""
        verdict = self._graph(node, a)
        if verdict is not None:
            return verdict
        return (ALLOW, "") if policy.rules_allow(self.node_rules, a) else (None, "")

    def _no_relation(self, node: str) -> Decision:
        return None, f"no relationship found between node '{node}' and this object"

    def _graph(self, node: str, a: Attrs) -> Decision | None:
        """A decision for the objects the graph guards; None for the role's rules."""
        r, sub = (a.resource, a.subresource) if a.group == "" else ("", "")
        if r in GRAPH and not sub:
            if a.verb not in GRAPH[r]:
                return None, ("can only read resources of this type" if GRAPH[r] == READS
                              else "can only get individual resources of this type")
            if not a.name:
                return None, "No Object name found"
            return (ALLOW, "") if self.graph.related(node, (r, a.namespace, a.name)) \
                else self._no_relation(node)
        if (r, sub) == ("serviceaccounts", "token"):
            return (ALLOW, "") if a.verb == "create" and self.graph.related(
                node, ("serviceaccounts", a.namespace, a.name)) else self._no_relation(node)
        # writes to other nodes' pods are refused by NodeRestriction admission (its message)
        if r == "pods" and a.name and a.verb == "get" and not sub:
            return None if self.graph.related(node, ("pods", a.namespace, a.name)) \
                else self._no_relation(node)
        # another Node's writes are refused by NodeRestriction admission, with its message
        if a.group == "coordination.k8s.io" and a.resource == "leases" and a.name and \
                (a.namespace != "kube-node-lease" or a.name != node):
            return self._no_relation(node)
        return None
