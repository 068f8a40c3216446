"""storage.k8s.io/v1 and core/v1 PersistentVolume printers: PersistentVolumes,
StorageClasses (a default class is named "NAME (default)"), CSIDrivers, CSINodes,
VolumeAttachments and CSIStorageCapacities, with upstream's columns and cells.

Must never: mutate objects, read the clock, or do I/O.
"""

from __future__ import annotations

from typing import Any

from kapi.printers import common
from kapi.printers.common import AGE, NAME, Column, Ctx, Obj, Printer, age, get, name
from kapi.printers.core import BETA_STORAGE_CLASS_ANNOTATION, access_modes

DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"

PV_COLUMNS = (
    NAME,
    Column("Capacity", "capacity is the description of the persistent volume's resources and "
                       "capacity."),
    Column("Access Modes", "accessModes contains all ways the volume can be mounted."),
    Column("Reclaim Policy", "persistentVolumeReclaimPolicy defines what happens to a persistent "
                             "volume when released from its claim."),
    Column("Status", "phase indicates if a volume is available, bound to a claim, or released "
                     "by a claim."),
    Column("Claim", "claimRef is part of a bi-directional binding between PersistentVolume and "
                    "PersistentVolumeClaim."),
    Column("StorageClass", "StorageClass of the pv"),
    Column("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    Column("Reason", "reason is a brief CamelCase string that describes any failure and is meant "
                     "for machine parsing and tidy display in the CLI."),
    AGE,
    Column("VolumeMode", "volumeMode defines if a volume is intended to be used with a formatted "
                         "filesystem or to remain in raw block state.", priority=1),
)


def is_default_class(sc: Obj) -> bool:
    """storageutil.IsDefaultAnnotation: either annotation set to "true"."""
    ann = get(sc, "metadata", "annotations", default={})
    return ann.get(DEFAULT_CLASS_ANNOTATION) == "true" or \
        ann.get(BETA_DEFAULT_CLASS_ANNOTATION) == "true"


def pv_row(pv: Obj, ctx: Ctx) -> list[Any]:
    ref = get(pv, "spec", "claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if isinstance(ref, dict) else ""
    phase = get(pv, "status", "phase", default="")
    if get(pv, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    klass = get(pv, "metadata", "annotations", BETA_STORAGE_CLASS_ANNOTATION) or \
        get(pv, "spec", "storageClassName", default="")
    return [name(pv), common.quantity(get(pv, "spec", "capacity", "storage")),
            access_modes(get(pv, "spec", "accessModes")),
            get(pv, "spec", "persistentVolumeReclaimPolicy", default=""), phase, claim, klass,
            get(pv, "spec", "volumeAttributesClassName") or "<unset>",
            get(pv, "status", "reason", default=""), age(pv, ctx),
            get(pv, "spec", "volumeMode") or "<unset>"]


STORAGE_CLASS_COLUMNS = (
    NAME,
    Column("Provisioner", "provisioner indicates the type of the provisioner."),
    Column("ReclaimPolicy", "reclaimPolicy controls the reclaimPolicy for dynamically "
                            "provisioned PersistentVolumes of this storage class. Defaults to "
                            "Delete."),
    Column("VolumeBindingMode", "volumeBindingMode indicates how PersistentVolumeClaims should be "
                                "provisioned and bound.  When unset, VolumeBindingImmediate is "
                                "used. This field is only honored by servers that enable the "
                                "VolumeScheduling feature."),
    Column("AllowVolumeExpansion", "allowVolumeExpansion shows whether the storage class allow "
                                   "volume expand."),
    AGE,
)


def storage_class_row(sc: Obj, ctx: Ctx) -> list[Any]:
    shown = name(sc) + (" (default)" if is_default_class(sc) else "")
    return [shown, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion")),
            age(sc, ctx)]


CSI_DRIVER_COLUMNS = (
    NAME,
    Column("AttachRequired", "attachRequired indicates this CSI volume driver requires an attach "
                             "operation (because it implements the CSI ControllerPublishVolume() "
                             "method), and that the Kubernetes attach detach controller should "
                             "call the attach volume interface which checks the "
                             "volumeattachment status and waits until the volume is attached "
                             "before proceeding to mounting.", type="boolean"),
    Column("PodInfoOnMount", "podInfoOnMount indicates this CSI volume driver requires additional "
                             "pod information (like podName, podUID, etc.) during mount "
                             "operations.", type="boolean"),
    Column("StorageCapacity", "storageCapacity indicates that the CSI volume driver wants pod "
                              "scheduling to consider the storage capacity that the driver "
                              "deployment will report by creating CSIStorageCapacity objects "
                              "with capacity information, if set to true.", type="boolean"),
    Column("TokenRequests", "tokenRequests indicates the CSI driver needs pods' service account "
                            "tokens it is mounting volume for to do necessary authentication."),
    Column("RequiresRepublish", "requiresRepublish indicates the CSI driver wants `NodePublishVolume` "
                                "being periodically called to reflect any possible change in the "
                                "mounted volume.", type="boolean"),
    Column("Modes", "volumeLifecycleModes defines what kind of volumes this CSI volume driver "
                    "supports."),
    AGE,
)


def csi_driver_row(d: Obj, ctx: Ctx) -> list[Any]:
    spec = d.get("spec") or {}
    tokens = [t.get("audience", "") for t in spec.get("tokenRequests") or () if isinstance(t, dict)]
    modes = spec.get("volumeLifecycleModes") or []
    attach = spec.get("attachRequired")
    return [name(d), True if attach is None else bool(attach), bool(spec.get("podInfoOnMount")),
            bool(spec.get("storageCapacity")), ",".join(tokens) or "<unset>",
            bool(spec.get("requiresRepublish")), ",".join(modes) or "<none>", age(d, ctx)]


CSI_NODE_COLUMNS = (NAME, Column("Drivers", "Drivers indicates the number of CSI drivers "
                                            "registered on the node", type="integer"), AGE)


def csi_node_row(n: Obj, ctx: Ctx) -> list[Any]:
    return [name(n), len(get(n, "spec", "drivers", default=[])), age(n, ctx)]


VOLUME_ATTACHMENT_COLUMNS = (
    NAME,
    Column("Attacher", "attacher indicates the name of the volume driver that MUST handle this "
                       "request. This is the name returned by GetPluginName().", format="name"),
    Column("PV", "persistentVolumeName represents the name of the persistent volume to attach."),
    Column("Node", "nodeName represents the node that the volume should be attached to."),
    Column("Attached", "attached indicates the volume is successfully attached. This field must "
                       "only be set by the entity completing the attach operation, i.e. the "
                       "external-attacher.", type="boolean"),
    AGE,
)


def volume_attachment_row(va: Obj, ctx: Ctx) -> list[Any]:
    return [name(va), get(va, "spec", "attacher", default=""),
            get(va, "spec", "source", "persistentVolumeName", default=""),
            get(va, "spec", "nodeName", default=""), bool(get(va, "status", "attached")),
            age(va, ctx)]


CSI_STORAGE_CAPACITY_COLUMNS = (
    NAME,
    Column("StorageClassName", "storageClassName represents the name of the StorageClass that "
                               "the reported capacity applies to."),
    Column("Capacity", "capacity is the value reported by the CSI driver in its "
                       "GetCapacityResponse for a GetCapacityRequest with topology and "
                       "parameters that match the previous fields."),
)


def csi_storage_capacity_row(c: Obj, ctx: Ctx) -> list[Any]:
    cap = c.get("capacity")
    return [name(c), c.get("storageClassName", ""), "<unset>" if cap is None else str(cap)]


PV = Printer(PV_COLUMNS, pv_row)
STORAGE_CLASS = Printer(STORAGE_CLASS_COLUMNS, storage_class_row)
CSI_DRIVER = Printer(CSI_DRIVER_COLUMNS, csi_driver_row)
CSI_NODE = Printer(CSI_NODE_COLUMNS, csi_node_row)
VOLUME_ATTACHMENT = Printer(VOLUME_ATTACHMENT_COLUMNS, volume_attachment_row)
CSI_STORAGE_CAPACITY = Printer(CSI_STORAGE_CAPACITY_COLUMNS, csi_storage_capacity_row)
