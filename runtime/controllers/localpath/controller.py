"""The local-path provisioner and binder: a PersistentVolumeClaim of the `local-path`
StorageClass (the cluster's default, made here when missing) gets a PersistentVolume of
its own, a directory on the node of the first pod that mounts it, and both turn Bound.

Binding waits for the first consumer (upstream's WaitForFirstConsumer): a claim is
provisioned once a pod that names it is bound to a node. The volume is a hostPath
(DirectoryOrCreate, so the node's kubelet makes the directory when it mounts it) under
the kubelet's root directory, which a Docker-backed node publishes in its Node's
ROOT_ANNOTATION (elsewhere: a folder named after the node in the system's temporary
directory); the PV carries upstream's node affinity to that node. Claims of other
classes, or already bound, are left alone; the claim's spec.volumeName is set once, as
upstream's binder does. It never deletes anything and never touches the node's files.
"""

from __future__ import annotations

import copy
import logging
import tempfile
from pathlib import Path
from typing import Any

from runtime.client.resources import NODES, PODS, PVCS, PVS, STORAGECLASSES
from runtime.client.rest import ApiError, Client
from runtime.controllers.base import Controller, Reconciler, split_key

log = logging.getLogger(__name__)

Obj = dict[str, Any]
CLASS = "local-path"
PROVISIONER = "kapi.dev/local-path"
ROOT_ANNOTATION = "kapi.dev/kubelet-root-dir"  # set by runtime/kubelet/kubelet.py
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
CLASS_KEY = "\x00storageclass"  # the work item that makes sure the class exists


def storage_class() -> Obj:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": CLASS, "annotations": {DEFAULT_CLASS: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def claims_of(pod: Obj) -> list[str]:
    return [v["persistentVolumeClaim"].get("claimName", "")
            for v in (pod.get("spec") or {}).get("volumes") or []
            if v.get("persistentVolumeClaim")]


def volume_for(claim: Obj, node: Obj | None, node_name: str) -> Obj:
    """The PersistentVolume provisioned for `claim` on `node_name`."""
    meta, spec = claim["metadata"], claim.get("spec") or {}
    name = f"pvc-{meta['uid']}"
    root = ((node or {}).get("metadata", {}).get("annotations") or {}).get(ROOT_ANNOTATION)
    base = Path(root) if root else Path(tempfile.gettempdir()) / "kapi-local-path" / node_name
    path = base / "local-path" / f"{name}_{meta.get('namespace', '')}_{meta['name']}"
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "1Gi")
    term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                  "values": [node_name]}]}
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": name, "annotations": {
                "pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {"capacity": {"storage": storage},
                     "accessModes": list(spec.get("accessModes") or ["ReadWriteOnce"]),
                     "persistentVolumeReclaimPolicy": "Delete", "storageClassName": CLASS,
                     "volumeMode": spec.get("volumeMode") or "Filesystem",
                     "hostPath": {"path": str(path), "type": "DirectoryOrCreate"},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [term]}},
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "namespace": meta.get("namespace", ""),
                                  "name": meta["name"], "uid": meta["uid"]}}}


class LocalPathProvisioner(Reconciler):
    def __init__(self, ctx: Any) -> None:
        self.client: Client = ctx.client
        self.claims = ctx.informers.get(PVCS)
        self.pods = ctx.informers.get(PODS)
        self.nodes = ctx.informers.get(NODES)
        self.classes = ctx.informers.get(STORAGECLASSES)
        self.controller = Controller("persistentvolume-binder", self.reconcile, workers=2)
        self.claims.add_handler(self._on_claim)
        self.pods.add_handler(self._on_pod)

    def start(self) -> None:
        super().start()
        self.controller.enqueue(CLASS_KEY)

    def _on_claim(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is not None and event != "delete":
            self.controller.enqueue(new)

    def _on_pod(self, event: str, old: Obj | None, new: Obj | None) -> None:
        if new is None or event == "delete" or not (new.get("spec") or {}).get("nodeName"):
            return
        ns = new["metadata"].get("namespace", "")
        for claim in claims_of(new):
            self.controller.enqueue(f"{ns}/{claim}")

    # -- reconcile ----------------------------------------------------------------------
    async def reconcile(self, key: str) -> float | None:
        if key == CLASS_KEY:
            if self.classes.get(CLASS) is None and not self._default_class():
                await self._create(STORAGECLASSES, storage_class())
            return None
        claim = self.claims.get(key)
        if claim is None or claim["metadata"].get("deletionTimestamp"):
            return None
        spec = claim.get("spec") or {}
        if spec.get("volumeName"):
            return None
        wanted = spec.get("storageClassName")  # "" asks for no class: never provisioned
        if (self._default_class() or CLASS if wanted is None else wanted) != CLASS:
            return None
        node_name = self._consumer_node(key) or (claim["metadata"].get("annotations")
                                                 or {}).get(SELECTED_NODE)
        if not node_name:
            return None  # WaitForFirstConsumer: no pod on a node names it yet
        await self._provision(claim, node_name)
        return None

    def _default_class(self) -> str:
        return next((c["metadata"]["name"] for c in self.classes.list()
                     if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"),
                    "")

    def _consumer_node(self, key: str) -> str:
        ns, name = split_key(key)
        return next((p["spec"]["nodeName"] for p in self.pods.list(ns)
                     if (p.get("spec") or {}).get("nodeName") and name in claims_of(p)), "")

    async def _provision(self, claim: Obj, node_name: str) -> None:
        pv = volume_for(claim, self.nodes.get(node_name), node_name)
        created = await self._create(PVS, pv) or await self.client.get(PVS, pv["metadata"]["name"])
        if (created.get("status") or {}).get("phase") != "Bound":
            created["status"] = {"phase": "Bound"}
            await self.client.update_status(PVS, created)
        bound = copy.deepcopy(claim)
        annotations = bound["metadata"].setdefault("annotations", {})
        annotations.update({"pv.kubernetes.io/bind-completed": "yes",
                            "pv.kubernetes.io/bound-by-controller": "yes",
                            SELECTED_NODE: node_name,
                            "volume.kubernetes.io/storage-provisioner": PROVISIONER})
        bound["spec"]["volumeName"] = pv["metadata"]["name"]
        bound["spec"].setdefault("storageClassName", CLASS)
        bound = await self.client.update(PVCS, bound)
        bound["status"] = {"phase": "Bound", "accessModes": pv["spec"]["accessModes"],
                           "capacity": dict(pv["spec"]["capacity"])}
        await self.client.update_status(PVCS, bound)
        log.info("provisioned %s for claim %s/%s on node %s", pv["metadata"]["name"],
                 claim["metadata"].get("namespace"), claim["metadata"]["name"], node_name)

    async def _create(self, gvr: Any, body: Obj) -> Obj | None:
        """The object created, or None when it already exists."""
        try:
            return await self.client.create(gvr, body)
        except ApiError as e:
            if not e.already_exists:
                raise
            return None
