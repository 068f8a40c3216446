"""Ports of the API-object tests of sig-storage (test/e2e/storage/): StorageClass,
CSIDriver, CSINode, CSIStorageCapacity and VolumeAttachment lifecycles, VolumeAttachment
status, and pods with inline CSI volumes. None needs a CSI driver: they check the API.
(PersistentVolumes and claims are in storage_pv.py.)"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, poll
from conformance.ports.api_groups import (
    added_or_annotated,
    annotate_and_watch,
    annotations,
    calls_of,
    check_discovery,
    relabel,
    rv_newer,
)
from conformance.ports.apimachinery_discovery import get_json
from conformance.ports.apps_common import SMP, retry_on_conflict
from conformance.watching import Watch

GONE = 30  # the Eventually(...).WithTimeout(30s) confirming a deletion


def rand5() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


def confirm_gone(listed: Callable[[], list[Any]], what: str) -> None:
    poll(lambda: not listed(), GONE, f"{what} to be deleted", interval=1)


def gone_or_deleting(read: Callable[[], Any]) -> None:
    """404, or an object marked for deletion (upstream's switch after a delete)."""
    try:
        obj = read()
    except client.ApiException as e:
        assert e.status == 404, f"expected 404, got {e.status}"
        return
    assert obj.metadata.deletion_timestamp is not None, \
        "should have been deleted or have DeletionTimestamp"


def labels_of(obj: Any) -> dict[str, str]:
    return dict(obj.metadata.labels or {})


@conformance("[sig-storage] StorageClasses CSI Conformance should run through the lifecycle of "
             "a StorageClass [Conformance]", basename="csi-storageclass")
def storage_class_lifecycle(c: Ctx) -> None:
    api = client.StorageV1Api(c.api)

    def make(prefix: str) -> client.V1StorageClass:
        return client.V1StorageClass(metadata=client.V1ObjectMeta(generate_name=prefix),
                                     provisioner="e2e-fake-provisioner")
    created = api.create_storage_class(make("e2e-"))
    name = created.metadata.name
    got = api.read_storage_class(name)
    patched = api.patch_storage_class(name, {"metadata": {"labels": {name: "patched"}}},
                                      _content_type=SMP)
    assert labels_of(patched).get(name) == "patched", "checking that patched label has been applied"
    assert rv_newer(got, patched), "patched object should have a larger resource version"
    api.delete_storage_class(name)
    confirm_gone(lambda: api.list_storage_class(label_selector=f"{name}=patched").items,
                 f"StorageClass {name}")
    second = api.create_storage_class(make("e2e-v2-")).metadata.name
    sc = calls_of(api, "storage_class", "V1StorageClass")
    assert labels_of(relabel(sc, second, {second: "updated"})).get(second) == "updated"
    selector = f"{second}=updated"
    assert len(api.list_storage_class(label_selector=selector).items) == 1
    api.delete_collection_storage_class(label_selector=selector)
    confirm_gone(lambda: api.list_storage_class(label_selector=selector).items,
                 f"StorageClass {second}")


@conformance("[sig-storage] CSIInlineVolumes should support CSIVolumeSource in Pod API "
             "[Conformance]", basename="csiinlinevolumes")
def inline_volumes_in_pod_api(c: Ctx) -> None:
    name, driver = "pod-csi-inline-volumes", "e2e.example.com"
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            volumes=[client.V1Volume(name="csi-inline-vol1",
                                     csi=client.V1CSIVolumeSource(driver=driver)),
                     client.V1Volume(name="csi-inline-vol2", csi=client.V1CSIVolumeSource(
                         driver=driver, fs_type="ext4", read_only=True))],
            containers=[client.V1Container(
                name=name, image="busybox", command=["sh", "-c", "ls /mnt/*"],
                volume_mounts=[client.V1VolumeMount(name="csi-inline-vol1", mount_path="/mnt/vol1"),
                               client.V1VolumeMount(name="csi-inline-vol2",
                                                    mount_path="/mnt/vol2")])]))
    created = c.core.create_namespaced_pod(c.ns, pod)
    expect_api_error(lambda: c.core.create_namespaced_pod(c.ns, pod), 409)
    assert c.core.read_namespaced_pod(name, c.ns).metadata.uid == created.metadata.uid
    listed = c.core.list_namespaced_pod(c.ns).items
    assert len(listed) == 1, f"list should have 1 items, got {len(listed)}"
    patched = c.core.patch_namespaced_pod(name, c.ns, {"metadata": {"annotations": {
        "patched": "true"}}})
    assert annotations(patched).get("patched") == "true"
    c.core.delete_namespaced_pod(name, c.ns)
    gone_or_deleting(lambda: c.core.read_namespaced_pod(name, c.ns))


@conformance("[sig-storage] CSIInlineVolumes should run through the lifecycle of a CSIDriver "
             "[Conformance]", basename="csiinlinevolumes")
def csi_driver_lifecycle(c: Ctx) -> None:
    api, label = client.StorageV1Api(c.api), {"e2e-test": c.ns}

    def driver(modes: list[str]) -> client.V1CSIDriver:
        return client.V1CSIDriver(
            metadata=client.V1ObjectMeta(name=f"inline-driver-{uuid.uuid4()}", labels=label),
            spec=client.V1CSIDriverSpec(volume_lifecycle_modes=modes,
                                        fs_group_policy="ReadWriteOnceWithFSType"))
    d1, d2 = driver(["Ephemeral"]), driver(["Persistent", "Ephemeral"])
    try:
        first = api.create_csi_driver(d1)
        second = api.create_csi_driver(d2)
        expect_api_error(lambda: api.create_csi_driver(d1), 409)
        assert api.read_csi_driver(first.metadata.name).metadata.uid == first.metadata.uid
        assert api.read_csi_driver(second.metadata.name).metadata.uid == second.metadata.uid
        n2 = second.metadata.name
        patched = api.patch_csi_driver(n2, {"metadata": {"labels": {n2: "patched"}}},
                                       _content_type=SMP)
        assert "patched" in labels_of(patched).get(n2, "")
        drivers = calls_of(api, "csi_driver", "V1CSIDriver")
        assert "updated" in labels_of(relabel(drivers, n2, {n2: "updated"}, merge=True)).get(n2, "")
        listed = api.list_csi_driver(label_selector=f"e2e-test={c.ns}").items
        assert len(listed) == 2, f"filtered list should have 2 items, got {len(listed)}"
        api.delete_csi_driver(first.metadata.name)
        gone_or_deleting(lambda: api.read_csi_driver(first.metadata.name))
        api.delete_collection_csi_driver(label_selector=f"{n2}=updated")
        gone_or_deleting(lambda: api.read_csi_driver(n2))
    finally:
        api.delete_collection_csi_driver(label_selector=f"e2e-test={c.ns}")


@conformance("[sig-storage] CSINodes CSI Conformance should run through the lifecycle of a "
             "csinode [Conformance]", basename="csinodes")
def csi_node_lifecycle(c: Ctx) -> None:
    api = client.StorageV1Api(c.api)

    def make() -> client.V1CSINode:
        return client.V1CSINode(metadata=client.V1ObjectMeta(name=f"e2e-csinode-{rand5()}"),
                                spec=client.V1CSINodeSpec(drivers=[]))
    first = api.create_csi_node(make())
    name = first.metadata.name
    assert api.read_csi_node(name).metadata.name == name
    patched = api.patch_csi_node(name, {"metadata": {"labels": {name: "patched"}}},
                                 _content_type=SMP)
    assert labels_of(patched).get(name) == "patched"
    selector = f"{name}=patched"
    assert len(api.list_csi_node(label_selector=selector).items) == 1
    api.delete_csi_node(name)
    confirm_gone(lambda: api.list_csi_node(label_selector=selector).items, f"CSINode {name}")
    second = api.create_csi_node(make()).metadata.name
    assert api.read_csi_node(second).metadata.name == second
    nodes = calls_of(api, "csi_node", "V1CSINode")
    assert labels_of(relabel(nodes, second, {second: "updated"})).get(second) == "updated"
    selector = f"{second}=updated"
    api.delete_collection_csi_node(label_selector=selector)
    confirm_gone(lambda: api.list_csi_node(label_selector=selector).items, f"CSINode {second}")


@conformance("[sig-storage] CSIStorageCapacity should support CSIStorageCapacities API "
             "operations [Conformance]", basename="csistoragecapacity")
def csi_storage_capacity_api(c: Ctx) -> None:
    api, ns, unique = client.StorageV1Api(c.api), c.ns, c.ns
    selector = f"test={unique}"

    def make(suffix: str) -> client.V1CSIStorageCapacity:
        return client.V1CSIStorageCapacity(
            metadata=client.V1ObjectMeta(name=unique + suffix, labels={"test": unique}),
            storage_class_name="e2e.example.com")
    check_discovery(c, "storage.k8s.io", "v1", "csistoragecapacities")
    created = api.create_namespaced_csi_storage_capacity(ns, make("-csc1"))
    expect_api_error(lambda: api.create_namespaced_csi_storage_capacity(ns, make("-csc1")), 409)
    api.create_namespaced_csi_storage_capacity(ns, make("-csc2"))
    csc = calls_of(api, "csi_storage_capacity", "V1CSIStorageCapacity", ns)
    watches = [csc.watch(c, label_selector=selector),
               Watch(c.api, api.list_csi_storage_capacity_for_all_namespaces,
                     "V1CSIStorageCapacity", label_selector=selector)]
    api.create_namespaced_csi_storage_capacity(ns, make("-csc3"))
    name = created.metadata.name
    assert csc.read(name).metadata.uid == created.metadata.uid
    assert len(csc.list(label_selector=selector).items) == 3, "filtered list should have 3 items"
    assert len(api.list_csi_storage_capacity_for_all_namespaces(
        label_selector=selector).items) == 3, "filtered list should have 3 items"
    annotate_and_watch(csc, name, watches, wait=added_or_annotated)
    api.delete_namespaced_csi_storage_capacity(name, ns)
    gone_or_deleting(lambda: api.read_namespaced_csi_storage_capacity(name, ns))
    left = api.list_namespaced_csi_storage_capacity(ns, label_selector=selector).items
    assert 2 <= len(left) <= 3, f"expected 2 or 3 remaining CSIStorageCapacity objects, got {len(left)}"
    api.delete_collection_namespaced_csi_storage_capacity(ns, label_selector=selector)
    for obj in api.list_namespaced_csi_storage_capacity(ns, label_selector=selector).items:
        assert obj.metadata.deletion_timestamp and obj.metadata.finalizers, \
            "CSIStorageCapacity should have been deleted or be held by a finalizer"


def _attachment(c: Ctx) -> client.V1VolumeAttachment:
    """NewVolumeAttachment on a random node, attached false."""
    suffix = "e2e-" + rand5()
    nodes = c.core.list_node().items
    assert nodes, "no nodes"
    return client.V1VolumeAttachment(
        metadata=client.V1ObjectMeta(name="va-" + suffix),
        spec=client.V1VolumeAttachmentSpec(
            attacher="e2e-test.storage.k8s.io", node_name=random.choice(nodes).metadata.name,
            source=client.V1VolumeAttachmentSource(persistent_volume_name="pv-" + suffix)),
        status=client.V1VolumeAttachmentStatus(attached=False))


@conformance("[sig-storage] VolumeAttachment Conformance should run through the lifecycle of a "
             "VolumeAttachment [Conformance]", basename="volumeattachment")
def volume_attachment_lifecycle(c: Ctx) -> None:
    api = client.StorageV1Api(c.api)
    first = api.create_volume_attachment(_attachment(c)).metadata.name
    assert api.read_volume_attachment(first).metadata.name == first
    patched = api.patch_volume_attachment(first, {"metadata": {"labels": {first: "patched"}}})
    assert labels_of(patched).get(first) == "patched"
    selector = f"{first}=patched"
    assert len(api.list_volume_attachment(label_selector=selector).items) == 1
    api.delete_volume_attachment(first)
    confirm_gone(lambda: api.list_volume_attachment(label_selector=selector).items,
                 f"VolumeAttachment {first}")
    vas = calls_of(api, "volume_attachment", "V1VolumeAttachment")
    for _ in range(2):  # the second and third attachments, labelled va-e2e=updated
        name = api.create_volume_attachment(_attachment(c)).metadata.name
        assert labels_of(relabel(vas, name, {"va-e2e": "updated"})).get("va-e2e") == "updated"
    api.delete_collection_volume_attachment(label_selector="va-e2e=updated")
    confirm_gone(lambda: api.list_volume_attachment(label_selector="va-e2e=updated").items,
                 "the VolumeAttachments")


@conformance("[sig-storage] VolumeAttachment Conformance should apply changes to a "
             "volumeattachment status [Conformance]", basename="volumeattachment")
def volume_attachment_status(c: Ctx) -> None:
    api = client.StorageV1Api(c.api)
    created = api.create_volume_attachment(_attachment(c))
    name = created.metadata.name
    patched = api.patch_volume_attachment(name, {"metadata": {"labels": {name: "patched"}}})
    assert labels_of(patched).get(name) == "patched"
    got = get_json(c, f"/apis/storage.k8s.io/v1/volumeattachments/{name}/status")
    assert not (got.get("status") or {}).get("attached"), \
        "Checking that the VolumeAttachment status has been read"
    patched = api.patch_volume_attachment_status(name, {"status": {"attached": True}})
    assert patched.status.attached is True, "the VolumeAttachment status should be patched"

    def update() -> Any:
        va = api.read_volume_attachment(name)
        va.status.attached = False
        return api.replace_volume_attachment_status(name, va)
    assert retry_on_conflict(update).status.attached is False
    api.delete_volume_attachment(name)
    confirm_gone(lambda: api.list_volume_attachment(label_selector=f"{name}=patched").items,
                 f"VolumeAttachment {name}")
