"""The cluster-info ConfigMap in kube-public, which joining nodes read before they
trust anything (kubeadm's token discovery): a kubeconfig holding only the cluster's
server URL and CA, plus kubeadm's Role and RoleBinding `kubeadm:bootstrap-signer-clusterinfo`
that let system:anonymous get that one ConfigMap (kapi.auth.x509 lets an anonymous
request reach its path). A joining node checks the CA against the hash it was given
(`--ca-cert-hash`) before it sends its token anywhere.

Created when missing, and its kubeconfig brought up to date when the CA or URL changed;
never deleted. kapi does not add kubeadm's JWS signatures (`jws-kubeconfig-<id>`):
the hash pins the CA instead.
"""

from __future__ import annotations

import base64
from typing import Any

import yaml

from kapi import errors
from kapi.meta.resources import Scheme

Obj = dict[str, Any]
NAMESPACE, NAME = "kube-public", "cluster-info"
ROLE = "kubeadm:bootstrap-signer-clusterinfo"
RBAC = "rbac.authorization.k8s.io"
PATH = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{NAME}"


def config_map(server: str, ca_pem: bytes) -> Obj:
    kubeconfig: Obj = {"apiVersion": "v1", "kind": "Config", "preferences": {},
                  "clusters": [{"name": "", "cluster": {
                      "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                      "server": server}}],
                  "contexts": None, "users": None, "current-context": ""}
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": NAME, "namespace": NAMESPACE},
            "data": {"kubeconfig": yaml.safe_dump(kubeconfig, sort_keys=True)}}


def _rbac() -> list[tuple[str, Obj]]:
    meta = {"name": ROLE, "namespace": NAMESPACE}
    return [("roles", {"apiVersion": f"{RBAC}/v1", "kind": "Role", "metadata": meta,
                       "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                                  "resourceNames": [NAME], "verbs": ["get"]}]}),
            ("rolebindings", {"apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": meta,
                              "roleRef": {"apiGroup": RBAC, "kind": "Role", "name": ROLE},
                              "subjects": [{"apiGroup": RBAC, "kind": "User",
                                            "name": "system:anonymous"}]})]


async def publish(store: Any, scheme: Scheme, server: str, ca_pem: bytes) -> None:
    """Create or refresh cluster-info, then kubeadm's Role and RoleBinding for it."""
    wanted = config_map(server, ca_pem)
    r = scheme.get("", "v1", "configmaps")
    assert r is not None
    try:
        await store.create(r, NAMESPACE, wanted)
    except errors.AlreadyExists:
        async def refresh(current: Obj | None) -> Obj:
            assert current is not None
            current["data"] = {**(current.get("data") or {}), **wanted["data"]}
            return current
        await store.guaranteed_update(r, NAMESPACE, NAME, refresh, retry=True)
    for resource, obj in _rbac():
        rr = scheme.get(RBAC, "v1", resource)
        if rr is None:
            continue
        try:
            await store.create(rr, NAMESPACE, obj)
        except errors.AlreadyExists:
            pass
