"""Ports of the "CSI Conformance" tests of test/e2e/storage/persistent_volumes.go: a
PersistentVolume and a claim through create, patch, get, delete, re-create, update and
deletecollection, and their /status subresources. Nothing needs to bind them: the status
test accepts a Pending volume and claim."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance
from conformance.ports.api_groups import calls_of, relabel, rv_newer
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import SMP, retry_on_conflict
from conformance.ports.storage_api import confirm_gone, labels_of

PV = "[sig-storage] PersistentVolumes CSI Conformance "
POOL = "e2e-pv-pool"  # e2epv.VolumeSelectorKey


def _pv_and_pvc(c: Ctx, driver: str, handle: str) -> tuple[Any, Any]:
    """e2epv.CreatePVsPVCs with one of each: MakePersistentVolume (2Gi, three access
    modes, Retain, the pool label) and MakePersistentVolumeClaim (1Gi, same class)."""
    pv = client.V1PersistentVolume(
        metadata=client.V1ObjectMeta(generate_name=c.ns + "-", labels={POOL: c.ns},
                                     annotations={"pv.beta.kubernetes.io/gid": "777"}),
        spec=client.V1PersistentVolumeSpec(
            capacity={"storage": "2Gi"}, persistent_volume_reclaim_policy="Retain",
            access_modes=["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany"],
            storage_class_name=c.ns,
            csi=client.V1CSIPersistentVolumeSource(driver=driver, volume_handle=handle)))
    pvc = client.V1PersistentVolumeClaim(
        metadata=client.V1ObjectMeta(generate_name="pvc-", namespace=c.ns),
        spec=client.V1PersistentVolumeClaimSpec(
            access_modes=["ReadWriteOnce"], storage_class_name=c.ns,
            resources=client.V1VolumeResourceRequirements(requests={"storage": "1Gi"})))
    return (c.core.create_persistent_volume(pv),
            c.core.create_namespaced_persistent_volume_claim(c.ns, pvc))


def _only(items: list[Any]) -> Any:
    assert len(items) == 1, f"expected 1 item, got {len(items)}"
    assert items[0].metadata.resource_version, "should have a valid resource version"
    return items[0]


@conformance(PV + "should run through the lifecycle of a PV and a PVC [Conformance]",
             basename="pv")
def pv_pvc_lifecycle(c: Ctx) -> None:
    core, ns, pool = c.core, c.ns, f"{POOL}={c.ns}"
    driver = client.V1CSIDriver(
        metadata=client.V1ObjectMeta(name=f"inline-driver-{uuid.uuid4()}",
                                     labels={"e2e-test": ns}),
        spec=client.V1CSIDriverSpec(volume_lifecycle_modes=["Persistent"],
                                    fs_group_policy="ReadWriteOnceWithFSType"))
    try:
        _pv_and_pvc(c, driver.metadata.name, "e2e-conformance")
        pv = _only(core.list_persistent_volume(label_selector=pool).items)
        pvc = _only(core.list_namespaced_persistent_volume_claim(ns).items)
        for obj, patch in ((pv, core.patch_persistent_volume),
                           (pvc, lambda n, b, **kw: core.patch_namespaced_persistent_volume_claim(
                               n, ns, b, **kw))):
            name = obj.metadata.name
            patched = patch(name, {"metadata": {"labels": {name: "patched"}}}, _content_type=SMP)
            assert labels_of(patched).get(name) == "patched"
            assert rv_newer(obj, patched), "patched object should have a larger resource version"
        assert core.read_persistent_volume(pv.metadata.name).metadata.uid == pv.metadata.uid
        assert core.read_namespaced_persistent_volume_claim(
            pvc.metadata.name, ns).metadata.uid == pvc.metadata.uid
        core.delete_namespaced_persistent_volume_claim(pvc.metadata.name, ns)
        confirm_gone(lambda: core.list_namespaced_persistent_volume_claim(ns).items, "the PVC")
        core.delete_persistent_volume(pv.metadata.name)
        confirm_gone(lambda: core.list_persistent_volume(label_selector=pool).items, "the PV")
        pv, pvc = _pv_and_pvc(c, driver.metadata.name, "e2e-conformance")
        _update_and_collect(c, pv.metadata.name, pvc.metadata.name)
    finally:
        core.delete_collection_persistent_volume(label_selector=pool)


def _update_and_collect(c: Ctx, pv_name: str, pvc_name: str) -> None:
    core, ns = c.core, c.ns
    pvs = calls_of(core, "persistent_volume", "V1PersistentVolume")
    pvcs = calls_of(core, "persistent_volume_claim", "V1PersistentVolumeClaim", ns)
    updated = relabel(pvs, pv_name, {pv_name: "updated"}, merge=True)
    assert labels_of(updated).get(pv_name) == "updated"
    assert labels_of(relabel(pvcs, pvc_name, {pvc_name: "updated"})).get(pvc_name) == "updated"
    pvc_sel, pv_sel = f"{pvc_name}=updated", f"{pv_name}=updated"
    assert len(core.list_persistent_volume_claim_for_all_namespaces(
        label_selector=pvc_sel).items) == 1
    pvcs.delete_collection(label_selector=pvc_sel)
    confirm_gone(lambda: pvcs.list(label_selector=pvc_sel).items, f"PVC {pvc_name}")
    pvs.delete_collection(label_selector=pv_sel)
    confirm_gone(lambda: pvs.list(label_selector=pv_sel).items, f"PV {pv_name}")


def _has(conds: Any, ctype: str, reason: str, message: str) -> bool:
    return any(x.type == ctype and reason in (x.reason or "") and message in (x.message or "")
               for x in conds or ())


@conformance(PV + "should apply changes to a pv/pvc status [Conformance]", basename="pv")
def pv_pvc_status(c: Ctx) -> None:
    core, ns, pool = c.core, c.ns, f"{POOL}={c.ns}"
    try:
        _pv_and_pvc(c, f"e2e-driver-{uuid.uuid4()}", "e2e-status-conformance")
        pv = _only(core.list_persistent_volume(label_selector=pool).items)
        pvc = _only(core.list_namespaced_persistent_volume_claim(ns).items)
        got = get_json(c, f"/api/v1/namespaces/{ns}/persistentvolumeclaims/"
                          f"{pvc.metadata.name}/status")
        assert (got.get("status") or {}).get("phase") in ("Pending", "Bound")
        got = get_json(c, f"/api/v1/persistentvolumes/{pv.metadata.name}/status")
        assert (got.get("status") or {}).get("phase") in ("Available", "Bound", "Pending")
        patched = core.patch_namespaced_persistent_volume_claim_status(pvc.metadata.name, ns, {
            "status": {"conditions": [{"type": "StatusPatched", "status": "True",
                                       "reason": "E2E patchedStatus",
                                       "message": "Set from e2e test"}]}})
        assert _has(patched.status.conditions, "StatusPatched", "E2E patchedStatus",
                    "Set from e2e test"), "Checking that patched status has been applied"
        patched_pv = core.patch_persistent_volume_status(pv.metadata.name, {"status": {
            "message": "StatusPatched", "reason": "E2E patchStatus"}})
        assert (patched_pv.status.reason, patched_pv.status.message) == (
            "E2E patchStatus", "StatusPatched")
        _update_statuses(c, pv.metadata.name, pvc.metadata.name)
    finally:
        core.delete_collection_persistent_volume(label_selector=pool)


def _update_statuses(c: Ctx, pv_name: str, pvc_name: str) -> None:
    core, ns = c.core, c.ns

    def update_pvc() -> Any:
        pvc = core.read_namespaced_persistent_volume_claim(pvc_name, ns)
        pvc.status.conditions = (pvc.status.conditions or []) + [
            client.V1PersistentVolumeClaimCondition(type="StatusUpdated", status="True",
                                                    reason="E2E updateStatus",
                                                    message="Set from e2e test")]
        return core.replace_namespaced_persistent_volume_claim_status(pvc_name, ns, pvc)
    assert _has(retry_on_conflict(update_pvc).status.conditions, "StatusUpdated",
                "E2E updateStatus", "Set from e2e test"), "updated status should be applied"

    def update_pv() -> Any:
        pv = core.read_persistent_volume(pv_name)
        pv.status.reason, pv.status.message = "E2E updateStatus", "StatusUpdated"
        return core.replace_persistent_volume_status(pv_name, pv)
    updated = retry_on_conflict(update_pv)
    assert (updated.status.reason, updated.status.message) == ("E2E updateStatus",
                                                               "StatusUpdated")
