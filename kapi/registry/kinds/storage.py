"""The storage kinds: core/v1 PersistentVolumes and storage.k8s.io/v1 StorageClasses,
CSIDrivers, CSINodes, VolumeAttachments and CSIStorageCapacities.

They are stored and served with upstream's defaults, validation and printers; nothing
binds a PersistentVolume to a claim or attaches a volume (README: stored, not bound).
A new PersistentVolume starts in phase Pending, as upstream's strategy leaves it.
"""

from __future__ import annotations

from kapi.defaulting import cluster as defaults
from kapi.meta.resources import status_of
from kapi.printers import storage as printers
from kapi.registry.kinds.base import CORE, Strategy, row
from kapi.validation import storage as rules

STORAGE = "io.k8s.api.storage.v1"

PERSISTENT_VOLUMES = Strategy(
    row("", "v1", "persistentvolumes", "PersistentVolume", CORE, namespaced=False,
        short_names=("pv",), subresources=(status_of("PersistentVolume"),)),
    printer=printers.PV, defaulter=defaults.persistent_volume,
    validate_rule=rules.persistent_volume, initial_status={"phase": "Pending"},
    status_may_change_meta=True, return_deleted_object=True, admission=("StatusTimestamps",))

STORAGE_CLASSES = Strategy(
    row("storage.k8s.io", "v1", "storageclasses", "StorageClass", STORAGE, namespaced=False,
        short_names=("sc",)),
    printer=printers.STORAGE_CLASS, defaulter=defaults.storage_class,
    validate_rule=rules.storage_class, update_rule=rules.storage_class_update,
    return_deleted_object=True)

CSI_DRIVERS = Strategy(
    row("storage.k8s.io", "v1", "csidrivers", "CSIDriver", STORAGE, namespaced=False),
    printer=printers.CSI_DRIVER, defaulter=defaults.csi_driver,
    validate_rule=rules.csi_driver, update_rule=rules.csi_driver_update,
    return_deleted_object=True)

CSI_NODES = Strategy(
    row("storage.k8s.io", "v1", "csinodes", "CSINode", STORAGE, namespaced=False),
    printer=printers.CSI_NODE, validate_rule=rules.csi_node, return_deleted_object=True)

VOLUME_ATTACHMENTS = Strategy(
    row("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", STORAGE,
        namespaced=False, subresources=(status_of("VolumeAttachment"),)),
    printer=printers.VOLUME_ATTACHMENT, validate_rule=rules.volume_attachment,
    initial_status={"attached": False},
    update_rule=rules.volume_attachment_update, status_may_change_meta=True,
    return_deleted_object=True)

CSI_STORAGE_CAPACITIES = Strategy(
    row("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", STORAGE),
    printer=printers.CSI_STORAGE_CAPACITY, validate_rule=rules.csi_storage_capacity)
