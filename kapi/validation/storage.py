"""storage.k8s.io/v1 kinds and core/v1 PersistentVolumes: upstream's checks
(pkg/apis/storage/validation, ValidatePersistentVolume) and their update rules
(a StorageClass's provisioner, parameters, reclaim policy and binding mode, a
VolumeAttachment's spec and a CSIDriver's attach behaviour are fixed at creation).

Pure functions over the v1 dict form returning every FieldError with its path.
"""

from __future__ import annotations

from typing import Any

from kapi.validation import rules
from kapi.validation.field import (
    FieldError,
    each_object,
    forbidden,
    invalid,
    not_supported,
    object_at,
    required,
    spec_immutable,
)

Obj = dict[str, Any]
RECLAIM_POLICIES = ("Delete", "Retain")
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
LIFECYCLE_MODES = ("Ephemeral", "Persistent")
FS_GROUP_POLICIES = ("File", "None", "ReadWriteOnceWithFSType")
# the volume sources a PersistentVolume may name (exactly one)
PV_SOURCES = ("awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "fc",
              "flexVolume", "flocker", "gcePersistentDisk", "glusterfs", "hostPath", "iscsi",
              "local", "nfs", "photonPersistentDisk", "portworxVolume", "quobyte", "rbd",
              "scaleIO", "storageos", "vsphereVolume")




def _driver_name(value: Any, path: str) -> list[FieldError]:
    """validateProvisioner / validateAttacher / CSI driver names: a qualified name of at
    most 63 characters, compared in lower case."""
    if not value:
        return [required(path)]
    if len(value) > 63:
        return [invalid(path, value, rules.max_len_error(63))]
    return [invalid(path, value, m) for m in rules.is_qualified_name(str(value).lower())]


def storage_class(sc: Obj) -> list[FieldError]:
    errs = _driver_name(sc.get("provisioner"), "provisioner")
    policy = sc.get("reclaimPolicy")
    if policy is not None and policy not in RECLAIM_POLICIES:
        errs.append(not_supported("reclaimPolicy", policy, RECLAIM_POLICIES))
    mode = sc.get("volumeBindingMode")
    if mode is None:
        errs.append(required("volumeBindingMode"))
    elif mode not in BINDING_MODES:
        errs.append(not_supported("volumeBindingMode", mode, BINDING_MODES))
    return errs


def storage_class_update(new: Obj, old: Obj) -> list[FieldError]:
    errs = []
    for f in ("parameters", "provisioner", "reclaimPolicy"):
        if new.get(f) != old.get(f):
            errs.append(forbidden(f, f"updates to {f} are forbidden."))
    if new.get("volumeBindingMode") != old.get("volumeBindingMode"):
        errs.append(invalid("volumeBindingMode", new.get("volumeBindingMode"),
                            "field is immutable"))
    return errs


def csi_driver(d: Obj) -> list[FieldError]:
    spec, errs = object_at(d, "spec"), []
    if spec.get("attachRequired") is None:
        errs.append(required("spec.attachRequired"))
    if spec.get("podInfoOnMount") is None:
        errs.append(required("spec.podInfoOnMount"))
    policy = spec.get("fsGroupPolicy")
    if policy is not None and policy not in FS_GROUP_POLICIES:
        errs.append(not_supported("spec.fsGroupPolicy", policy, FS_GROUP_POLICIES))
    for i, mode in enumerate(spec.get("volumeLifecycleModes") or ()):
        if mode not in LIFECYCLE_MODES:
            errs.append(not_supported(f"spec.volumeLifecycleModes[{i}]", mode, LIFECYCLE_MODES))
    return errs


def csi_driver_update(new: Obj, old: Obj) -> list[FieldError]:
    return [e for f in ("attachRequired", "fsGroupPolicy", "volumeLifecycleModes")
            for e in spec_immutable(new, old, f)]


def csi_node(n: Obj) -> list[FieldError]:
    errs, seen = [], set()
    for path, d in each_object(object_at(n, "spec").get("drivers"), "spec.drivers"):
        errs += _driver_name(d.get("name"), f"{path}.name")
        if not d.get("nodeID"):
            errs.append(required(f"{path}.nodeID"))
        if d.get("name") in seen:
            errs.append(invalid(f"{path}.name", d.get("name"), "duplicate driver name"))
        seen.add(d.get("name"))
    return errs


def volume_attachment(va: Obj) -> list[FieldError]:
    spec = object_at(va, "spec")
    errs = _driver_name(spec.get("attacher"), "spec.attacher")
    if not spec.get("nodeName"):
        errs.append(required("spec.nodeName"))
    source = object_at(spec, "source")
    named = [k for k in ("persistentVolumeName", "inlineVolumeSpec") if source.get(k)]
    if not named:
        errs.append(required("spec.source", "must specify exactly one of persistentVolumeName "
                                            "and inlineVolumeSpec"))
    elif len(named) > 1:
        errs.append(forbidden("spec.source", "must specify exactly one of persistentVolumeName "
                                             "and inlineVolumeSpec"))
    return errs


def volume_attachment_update(new: Obj, old: Obj) -> list[FieldError]:
    if new.get("spec") != old.get("spec"):
        return [invalid("spec", new.get("spec"), "field is immutable")]
    return []


def csi_storage_capacity(c: Obj) -> list[FieldError]:
    name = c.get("storageClassName")
    if not name:
        return [required("storageClassName")]
    return [invalid("storageClassName", name, m) for m in rules.is_dns1123_subdomain(name)]


def persistent_volume(pv: Obj) -> list[FieldError]:
    spec, errs = object_at(pv, "spec"), []
    modes = spec.get("accessModes") or []
    if not modes:
        errs.append(required("spec.accessModes"))
    for mode in modes:
        if mode not in ACCESS_MODES:
            errs.append(not_supported("spec.accessModes", mode, ACCESS_MODES))
    if not (spec.get("capacity") or {}).get("storage"):
        errs.append(required("spec.capacity", "must specify storage"))
    policy = spec.get("persistentVolumeReclaimPolicy")
    if policy and policy not in PV_RECLAIM_POLICIES:
        errs.append(not_supported("spec.persistentVolumeReclaimPolicy", policy,
                                  PV_RECLAIM_POLICIES))
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        errs.append(required("spec", "must specify a volume type"))
    elif len(sources) > 1:
        errs.append(forbidden(f"spec.{sources[1]}", "may not specify more than 1 volume type"))
    return errs
