"""The ServiceAccount controller and the root-CA publisher, per namespace.

In every Active namespace it keeps a ServiceAccount "default" (created again if
deleted) and a ConfigMap "kube-root-ca.crt" whose data is exactly {"ca.crt": <root CA
PEM>} with upstream's description annotation (created again if deleted, put back if
changed). The CA comes from `rootca.load_root_ca`. It never writes to a namespace that
is Terminating, never deletes anything, and never mutates cached objects.
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Callable

from runtime.client.resources import CONFIGMAPS, NAMESPACES, SERVICEACCOUNTS
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler
from runtime.controllers.serviceaccount.rootca import load_root_ca

log = logging.getLogger(__name__)

Obj = dict[str, Any]

DEFAULT_SA = "default"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")


def is_active(ns: Obj | None) -> bool:
    if ns is None or ns["metadata"].get("deletionTimestamp"):
        return False
    return (ns.get("status") or {}).get("phase", "Active") == "Active"


def root_ca_configmap(pem: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": ROOT_CA_CONFIGMAP,
                         "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
            "data": {"ca.crt": pem}}


def configmap_repaired(cm: Obj, pem: str) -> Obj | None:
    """A corrected copy of the published ConfigMap, or None if it is as it should be."""
    annotations = cm["metadata"].get("annotations") or {}
    if cm.get("data") == {"ca.crt": pem} and annotations.get(DESCRIPTION_ANNOTATION):
        return None
    new = copy.deepcopy(cm)
    new["data"] = {"ca.crt": pem}
    new.pop("binaryData", None)
    new["metadata"]["annotations"] = dict(annotations, **{DESCRIPTION_ANNOTATION: DESCRIPTION})
    return new


async def update_unless_gone(client: Client, gvr: Any, obj: Obj) -> None:
    """Write obj back; one deleted meanwhile needs nothing more (a conflict raises: the
    queue retries it)."""
    try:
        await client.update(gvr, obj)
    except ApiError as e:
        if not e.not_found:
            raise


class ServiceAccountController(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.client: Client = ctx.client
        self.namespaces = ctx.informers.get(NAMESPACES)
        self.accounts = ctx.informers.get(SERVICEACCOUNTS)
        self.configmaps = ctx.informers.get(CONFIGMAPS)
        self.controller = Controller("serviceaccount", self.reconcile, workers=2)
        self.ca_pem: str | None = None
        self.namespaces.add_handler(self._on_namespace)
        self.accounts.add_handler(self._on_named(DEFAULT_SA))
        self.configmaps.add_handler(self._on_named(ROOT_CA_CONFIGMAP))

    # -- events -------------------------------------------------------------------------
    def _on_namespace(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if event != "delete" and is_active(new):
            assert new is not None
            self.controller.enqueue(new["metadata"]["name"])

    def _on_named(self, name: str) -> Callable[[str, Obj | None, Obj | None], None]:
        def handler(event: str, old: Obj | None, new: Obj | None) -> None:
            obj = new if new is not None else old
            if obj is not None and obj["metadata"].get("name") == name and event != "add":
                self.controller.enqueue(obj["metadata"].get("namespace", ""))
        return handler

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, ns: str) -> float | None:
        if not is_active(self.namespaces.get(ns)):
            return None
        if self.accounts.get(f"{ns}/{DEFAULT_SA}") is None:
            await self._create(SERVICEACCOUNTS, ns, {
                "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": DEFAULT_SA}})
        if self.ca_pem is None:
            self.ca_pem = await load_root_ca(self.client, self.ctx.clock(),
                                             self.ctx.options.root_ca_file)
        cm = self.configmaps.get(f"{ns}/{ROOT_CA_CONFIGMAP}")
        if cm is None:
            await self._create(CONFIGMAPS, ns, root_ca_configmap(self.ca_pem))
            return None
        repaired = configmap_repaired(cm, self.ca_pem)
        if repaired is not None:
            await update_unless_gone(self.client, CONFIGMAPS, repaired)
        return None

    async def _create(self, gvr: Any, ns: str, body: Obj) -> None:
        try:
            await self.client.create(gvr, body, ns)
            log.info("created %s %s/%s", body["kind"], ns, body["metadata"]["name"])
        except ApiError as e:
            # already there (our cache lags), or the namespace is gone or terminating
            if not (e.already_exists or e.not_found or e.code == 403):
                raise
