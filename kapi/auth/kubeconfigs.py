"""The kubeconfigs a data dir holds: the admin's (`<data-dir>/kubeconfig`, as kind
writes it: the CA's data, an admin client certificate and key, https://127.0.0.1:PORT)
and one per kapi component under `<data-dir>/kubeconfigs/`, each with its own identity.

The identities are upstream's: the controller manager and the scheduler are the users
`system:kube-controller-manager` and `system:kube-scheduler`, the proxy `system:kube-proxy`,
each kubelet `system:node:NAME` in `system:nodes`. kapi's DNS is the CoreDNS service
account's user (`system:serviceaccount:kube-system:coredns`, upstream's cluster DNS runs
as that account), by certificate. The simulated nodes (kwok's part) share one client
across many nodes, so, like kwok's controller, they run as a cluster admin.

Owns those files only; every one is written 0600.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import yaml

from kapi.auth.pki import ClusterPKI, Pair, write_private

ADMIN = ("kubernetes-admin", ("system:masters",))
SA_GROUPS = ("system:serviceaccounts", "system:serviceaccounts:kube-system")

# file name -> (user, groups) of each control-plane component
COMPONENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "proxy": ("system:kube-proxy", ()),
    "dns": ("system:serviceaccount:kube-system:coredns", SA_GROUPS),
    "simulated-nodes": ("kapi:simulated-nodes", ("system:masters",)),
}


def node_identity(node: str) -> tuple[str, tuple[str, ...]]:
    return f"system:node:{node}", ("system:nodes",)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def kubeconfig(server: str, *, ca_pem: bytes | None, user: str,
               credential: dict[str, str]) -> dict[str, Any]:
    cluster: dict[str, str] = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(ca_pem)
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kapi", "cluster": cluster}],
        "users": [{"name": user, "user": credential}],
        "contexts": [{"name": "kapi", "context": {"cluster": "kapi", "user": user,
                                                 "namespace": "default"}}],
        "current-context": "kapi",
        "preferences": {},
    }


def cert_credential(pair: Pair) -> dict[str, str]:
    cert, key = pair.pem()
    return {"client-certificate-data": _b64(cert), "client-key-data": _b64(key)}


def write(path: Path, doc: dict[str, Any]) -> Path:
    write_private(path, yaml.safe_dump(doc, sort_keys=False).encode())
    return path


class Kubeconfigs:
    """Writes the kubeconfigs of one data dir for one server URL."""

    def __init__(self, data_dir: Path, server: str, pki: ClusterPKI | None) -> None:
        self.data_dir, self.server, self.pki = data_dir, server, pki

    def admin(self) -> Path:
        """`<data-dir>/kubeconfig`: the admin's certificate, or (plain HTTP) no
        credential at all, as every caller there is the admin."""
        if self.pki is None:
            return write(self.data_dir / "kubeconfig", kubeconfig(
                self.server, ca_pem=None, user="kapi-admin", credential={}))
        return self._for("kubeconfig", "admin", *ADMIN, path=self.data_dir / "kubeconfig")

    def component(self, name: str) -> Path:
        user, groups = COMPONENTS[name]
        return self._for(name, name, user, groups)

    def node(self, node: str) -> Path:
        user, groups = node_identity(node)
        return self._for(f"kubelet-{node}", f"kubelet-{node}", user, groups)

    def _for(self, file_name: str, cert_name: str, user: str, groups: tuple[str, ...], *,
             path: Path | None = None) -> Path:
        target = path or self.data_dir / "kubeconfigs" / f"{file_name}.kubeconfig"
        if self.pki is None:  # plain HTTP: the admin's (credential-less) kubeconfig
            return write(target, kubeconfig(self.server, ca_pem=None, user=user,
                                            credential={}))
        ca = self.pki.ensure_ca()
        return write(target, kubeconfig(self.server, ca_pem=ca.cert.read_bytes(), user=user,
                                        credential=cert_credential(self.pki.client(
                                            cert_name, user, groups))))
