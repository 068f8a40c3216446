"""The ServiceAccount admission plugin (upstream's plugin/pkg/admission/serviceaccount),
for pod creates: the service account defaults to "default" and must exist (403 with
upstream's message otherwise), its imagePullSecrets become the pod's when the pod has
none, and, unless automountServiceAccountToken says no (the pod's choice first, then
the service account's), a projected `kube-api-access-XXXXX` volume (a bound token, the
cluster CA and the namespace) is mounted read-only at
/var/run/secrets/kubernetes.io/serviceaccount in every container and init container
that mounts nothing there yet. Mirror pods are left as they are.

It reads service accounts through an injected lookup (the watch cache, then storage) and never writes.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Awaitable, Callable

from kapi import admission, errors
from kapi.meta.resources import Resource

Obj = dict[str, Any]
Lookup = Callable[[str, str, str], Awaitable[Obj | None]]  # (resource, namespace, name)

DEFAULT_SA = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
MIRROR = "kubernetes.io/config.mirror"
TOKEN_SECONDS = 3607  # the kubelet's projected token lifetime (upstream's magic number)
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # upstream's name generator alphabet


def token_volume_source() -> Obj:
    """upstream's TokenVolumeSource(): a token, the root CA and the namespace."""
    return {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_SECONDS, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt",
                       "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {
            "apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}


def should_automount(sa: Obj, spec: Obj) -> bool:
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    if sa.get("automountServiceAccountToken") is not None:
        return bool(sa["automountServiceAccountToken"])
    return True


def mount_token(spec: Obj, suffix: str) -> None:
    """Add the kube-api-access volume (an existing one is reused) and its mounts."""
    volumes = spec.get("volumes") or []
    name = next((v.get("name") for v in volumes
                 if str(v.get("name", "")).startswith(VOLUME_PREFIX)), None)
    has_volume = name is not None
    name = name or VOLUME_PREFIX + suffix
    needed = False
    for key in ("initContainers", "containers"):
        for c in spec.get(key) or []:
            mounts = c.get("volumeMounts") or []
            if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
                continue  # the pod's own mount at that path wins
            c["volumeMounts"] = [*mounts, {"name": name, "readOnly": True,
                                           "mountPath": MOUNT_PATH}]
            needed = True
    if needed and not has_volume:
        spec["volumes"] = [*volumes, {"name": name, "projected": token_volume_source()}]


class ServiceAccountAdmission:
    def __init__(self, lookup: Lookup, *, attempts: int = 10,
                 rand: random.Random | None = None) -> None:
        self.lookup, self.attempts = lookup, attempts
        self.rand = rand or random.Random()

    async def __call__(self, r: Resource, op: str, new: Obj, old: Obj | None) -> None:
        spec = new.get("spec")
        if op != "CREATE" or admission.current().subresource or not isinstance(spec, dict):
            return
        meta = new.get("metadata") or {}
        if MIRROR in (meta.get("annotations") or {}):
            return
        if not spec.get("serviceAccountName"):
            spec["serviceAccountName"] = spec.get("serviceAccount") or DEFAULT_SA
        spec["serviceAccount"] = spec["serviceAccountName"]
        ns, name = meta.get("namespace", ""), spec["serviceAccountName"]
        sa = await self._service_account(ns, name)
        if sa is None:
            raise errors.Forbidden(
                f'pods "{meta.get("name") or meta.get("generateName", "")}" is forbidden: '
                f"error looking up service account {ns}/{name}: "
                f'serviceaccount "{name}" not found',
                details={"name": meta.get("name", ""), "kind": "pods"})
        if should_automount(sa, spec):
            mount_token(spec, "".join(self.rand.choice(_NAME_CHARS) for _ in range(5)))
        if not spec.get("imagePullSecrets") and sa.get("imagePullSecrets"):
            spec["imagePullSecrets"] = [dict(s) for s in sa["imagePullSecrets"]]

    async def _service_account(self, ns: str, name: str) -> Obj | None:
        # the default service account is made by the controller manager just after its
        # namespace: wait for it a little, as upstream does
        for attempt in range(self.attempts if name == DEFAULT_SA else 1):
            if attempt:
                await asyncio.sleep(0.1 + self.rand.random() / 10)
            sa = await self.lookup("serviceaccounts", ns, name)
            if sa is not None:
                return sa
        return None
