"""upstream's bootstrap RBAC policy, reconciled at API server start.

The policy is data (clusterroles.yaml, clusterrolebindings.yaml, transcribed from
upstream's bootstrappolicy testdata). `reconcile` creates what is missing and, for an
object whose rbac.authorization.kubernetes.io/autoupdate annotation is not "false",
adds the permissions, labels and subjects it lacks, as upstream's policy reconciliation
does (extra permissions a user added stay; aggregated roles get their rules from the
aggregation controller).

kapi's choice for the controller manager: upstream runs each controller under its own
service account (kube-system/<controller>, bound to system:controller:<controller>).
kapi's controller manager runs every controller with one client, so besides those
upstream bindings it binds its own identity, system:kube-controller-manager, to each
system:controller:* role (bindings named kapi:controller-manager:<controller>).
"""

from __future__ import annotations

import asyncio
import copy
from importlib import resources
from typing import Any

import yaml

from kapi import errors

Obj = dict[str, Any]
GROUP = "rbac.authorization.k8s.io"
API_VERSION = f"{GROUP}/v1"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}
CONTROLLER_PREFIX = "system:controller:"
KCM = "system:kube-controller-manager"
# kapi's own roles and bindings that earlier releases made and this one no longer wants:
# removed at start unless a user turned autoupdate off (a data dir made while kubelets
# listed every Secret would otherwise keep granting nodes every Secret)
RETIRED = ("kapi:kubelet-object-watch",)


def _load(name: str) -> Any:
    return yaml.safe_load(resources.files(__package__).joinpath(name).read_text())


def _meta(name: str, labels: dict[str, str] | None = None) -> Obj:
    return {"name": name, "labels": {**BOOTSTRAPPING, **(labels or {})},
            "annotations": {AUTOUPDATE: "true"}}


def cluster_roles() -> list[Obj]:
    out = []
    for name, spec in _load("clusterroles.yaml").items():
        role: Obj = {"apiVersion": API_VERSION, "kind": "ClusterRole",
                     "metadata": _meta(name, spec.get("labels"))}
        if spec.get("aggregate"):
            role["aggregationRule"] = {"clusterRoleSelectors": [
                {"matchLabels": {spec["aggregate"]: "true"}}]}
        role["rules"] = spec.get("rules") or []
        out.append(role)
    return out


def _subject(kind: str, name: str) -> Obj:
    if kind == "ServiceAccount":
        ns, _, sa = name.partition("/")
        return {"kind": kind, "name": sa, "namespace": ns}
    return {"apiGroup": GROUP, "kind": kind, "name": name}


def _binding(name: str, role: str, subjects: list[Obj]) -> Obj:
    return {"apiVersion": API_VERSION, "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": GROUP, "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def cluster_role_bindings() -> list[Obj]:
    out = [_binding(name, spec["role"], [_subject(k, n) for k, n in spec["subjects"]])
           for name, spec in _load("clusterrolebindings.yaml").items()]
    for role in cluster_roles():
        name = role["metadata"]["name"]
        if name.startswith(CONTROLLER_PREFIX):
            controller = name[len(CONTROLLER_PREFIX):]
            out.append(_binding(name, name, [_subject("ServiceAccount",
                                                      f"kube-system/{controller}")]))
            out.append(_binding(f"kapi:controller-manager:{controller}", name,
                                [_subject("User", KCM)]))
    return out


def node_rules() -> list[Obj]:
    """The system:node role's rules, which the Node authorizer holds itself."""
    return list(_load("clusterroles.yaml")["system:node"]["rules"])


def _reconciled(current: Obj, wanted: Obj) -> Obj | None:
    """The object with what `wanted` adds, or None when nothing is missing."""
    if (current.get("metadata", {}).get("annotations") or {}).get(AUTOUPDATE) == "false":
        return None
    new = copy.deepcopy(current)
    md = new.setdefault("metadata", {})
    md["labels"] = {**(md.get("labels") or {}), **wanted["metadata"]["labels"]}
    md["annotations"] = {**(md.get("annotations") or {}), **wanted["metadata"]["annotations"]}
    for field in ("rules", "subjects"):
        if field in wanted and not (field == "rules" and "aggregationRule" in wanted):
            have = new.get(field) or []
            new[field] = have + [x for x in wanted[field] if x not in have]
    if "aggregationRule" in wanted:
        new["aggregationRule"] = wanted["aggregationRule"]
    return None if new == current else new


async def _reconcile_one(store: Any, r: Any, wanted: Obj) -> None:
    name = wanted["metadata"]["name"]
    try:
        current = await store.get(r, None, name)
    except errors.NotFound:
        try:
            await store.create(r, None, copy.deepcopy(wanted))
        except errors.AlreadyExists:
            pass
        return
    new = _reconciled(current, wanted)
    if new is not None:
        async def put(cur: Obj | None) -> Obj:
            assert new is not None
            return new
        await store.guaranteed_update(r, None, name, put, retry=False)


async def reconcile(store: Any, roles_resource: Any, bindings_resource: Any,
                    delete_options: Any) -> None:
    """Create or complete every bootstrap ClusterRole, then every ClusterRoleBinding (the
    objects of each kind written concurrently: storage may batch them); remove the
    RETIRED ones (`delete_options`: the store's DeleteOptions())."""
    for r, objects in ((roles_resource, cluster_roles()),
                       (bindings_resource, cluster_role_bindings())):
        await asyncio.gather(*(_reconcile_one(store, r, wanted) for wanted in objects))
        await asyncio.gather(*(_retire(store, r, name, delete_options) for name in RETIRED))


async def _retire(store: Any, r: Any, name: str, delete_options: Any) -> None:
    try:
        current = await store.get(r, None, name)
        if (current["metadata"].get("annotations") or {}).get(AUTOUPDATE) != "false":
            await store.delete(r, None, name, delete_options)
    except errors.NotFound:
        pass
