"""Ports of the conformance tests of test/e2e/common/storage/projected_configmap.go,
projected_secret.go and projected_combined.go: ConfigMaps and Secrets as sources of a
projected volume (the volume's defaultMode, mappings, non-root readers, two volumes,
updates, optional sources) and one volume projecting a Secret, a ConfigMap and the pod
name together. The tests they share with the plain ConfigMap and Secret ports are in
storage_common.

As upstream, the mapping tests with a mode set the projected volume's defaultMode (not
the item's mode) and expect that mode on the mapped file."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports import storage_common as sc
from conformance.ports.node_common import BUSYBOX, NON_ROOT_TEST_UID, uid

PC = "Projected configMap › "
PS = "Projected secret › "
NEEDS = ("containers",)
CM = sc.Family(sc.CONFIGMAP, projected=True, cname="agnhost-container",
               names={"file": "volume-", "map": "volume-map-"})
SECRET = sc.Family(sc.SECRET, projected=True, cname="projected-secret-volume-test",
                   names={"map": "map-"})
NON_ROOT = {"run_as_user": NON_ROOT_TEST_UID}
FS_GROUP = {"fs_group": 1001, "run_as_user": NON_ROOT_TEST_UID}


def _reg(prefix: str, short: str, fn: Any) -> None:
    conformance(prefix + short, basename="projected", needs=NEEDS)(fn)


_reg(PC, "consumable from pods in volume", lambda c: sc.file_test(c, CM))
_reg(PC, "defaultMode set [LinuxOnly]", lambda c: sc.file_test(c, CM, mode=0o400))
_reg(PC, "consumable as non-root", lambda c: sc.file_test(c, CM, security=NON_ROOT))
_reg(PC, "with mappings", lambda c: sc.file_test(c, CM, mapped=True))
_reg(PC, "mappings and Item mode set [LinuxOnly]",
     lambda c: sc.file_test(c, CM, mapped=True, mode=0o400))
_reg(PC, "mappings as non-root", lambda c: sc.file_test(c, CM, mapped=True, security=NON_ROOT))
_reg(PC, "updates should be reflected in volume", lambda c: sc.updates(c, CM))
_reg(PC, "optional updates should be reflected in volume", lambda c: sc.optional_updates(c, CM))
_reg(PS, "optional updates should be reflected in volume",
     lambda c: sc.optional_updates(c, SECRET))
_reg(PC, "multiple volumes in the same pod",
     lambda c: sc.multiple_volumes(c, CM, "projected-configmap-volume-test", with_mode=False))

_reg(PS, "consumable from pods in volume", lambda c: sc.file_test(c, SECRET))
_reg(PS, "defaultMode set [LinuxOnly]", lambda c: sc.file_test(c, SECRET, mode=0o400))
_reg(PS, "non-root with defaultMode and fsGroup set [LinuxOnly]",
     lambda c: sc.file_test(c, SECRET, mode=0o440, security=FS_GROUP))
_reg(PS, "with mappings", lambda c: sc.file_test(c, SECRET, mapped=True))
_reg(PS, "mappings and Item Mode set [LinuxOnly]",
     lambda c: sc.file_test(c, SECRET, mapped=True, mode=0o400))
# upstream names this container as the plain Secret test does
_reg(PS, "multiple volumes in a pod",
     lambda c: sc.multiple_volumes(c, SECRET, "secret-volume-test", with_mode=True))


@conformance("Projected combined › project all components that make up the projection API",
             basename="projected", needs=NEEDS)
def combined(c: Ctx) -> None:
    pod_name = f"projected-volume-{uid()}"
    secret_name = f"secret-projected-all-test-volume-{uid()}"
    cm_name = f"configmap-projected-all-test-volume-{uid()}"
    sc.CONFIGMAP.create(c, cm_name, {"configmap-data": "configmap-value-1"})
    sc.SECRET.create(c, secret_name, {"secret-data": "secret-value-1"})
    vol = client.V1Volume(name="podinfo", projected=client.V1ProjectedVolumeSource(sources=[
        client.V1VolumeProjection(downward_api=client.V1DownwardAPIProjection(items=[
            client.V1DownwardAPIVolumeFile(path="podname", field_ref=client.V1ObjectFieldSelector(
                api_version="v1", field_path="metadata.name"))])),
        sc.SECRET.projection(secret_name), sc.CONFIGMAP.projection(cm_name)]))
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name=pod_name), spec=client.V1PodSpec(
        restart_policy="Never", volumes=[vol], containers=[client.V1Container(
            name="projected-all-volume-test", image=BUSYBOX,
            command=["sh", "-c", "cat /all/podname && cat /all/secret-data && cat /all/configmap-data"],
            volume_mounts=[client.V1VolumeMount(name="podinfo", mount_path="/all")])]))
    expect_container_output(c, "Check all projections for projected volume plugin", pod, 0,
                            [pod_name, "secret-value-1", "configmap-value-1"])
