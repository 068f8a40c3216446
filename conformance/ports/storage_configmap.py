"""Ports of the conformance tests of test/e2e/common/storage/configmap_volume.go: a
ConfigMap as a volume (default and per-item modes, key-to-path mappings, non-root
readers, two volumes of one ConfigMap, binary data), updates of the ConfigMap reaching
the files, optional ConfigMaps appearing and disappearing, and immutable ConfigMaps.
The tests it shares with the Secret and projected ports are in storage_common."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, poll
from conformance.ports import storage_common as sc
from conformance.ports.node_common import (
    BUSYBOX,
    NON_ROOT_TEST_UID,
    SECRET_UPDATE_TIMEOUT,
    logs_eventually,
    mounttest,
    uid,
)

CM = "ConfigMap › "
NEEDS = ("containers",)
FAMILY = sc.Family(sc.CONFIGMAP, projected=False, cname="agnhost-container",
                   names={"file": "volume-", "map": "volume-map-"})
MOUNT = FAMILY.mount
NON_ROOT = {"run_as_user": NON_ROOT_TEST_UID}


def _reg(short: str, fn: Any, needs: tuple[str, ...] = NEEDS) -> None:
    conformance(CM + short, basename="configmap", needs=needs)(fn)


_reg("consumable from pods in volume", lambda c: sc.file_test(c, FAMILY, grace=1))
_reg("consumable in volume with defaultMode set [LinuxOnly]",
     lambda c: sc.file_test(c, FAMILY, mode=0o400, grace=1))
_reg("consumable from pods in volume as non-root",
     lambda c: sc.file_test(c, FAMILY, security=NON_ROOT, grace=1))
_reg("consumable in volume with mappings", lambda c: sc.file_test(c, FAMILY, mapped=True, grace=1))
_reg("mappings and Item mode set [LinuxOnly]",
     lambda c: sc.file_test(c, FAMILY, mapped=True, mode=0o400, grace=1))
_reg("mappings as non-root",
     lambda c: sc.file_test(c, FAMILY, mapped=True, security=NON_ROOT, grace=1))
_reg("updates should be reflected in volume", lambda c: sc.updates(c, FAMILY))
_reg("optional updates should be reflected in volume", lambda c: sc.optional_updates(c, FAMILY))
_reg("consumable in multiple volumes in the same pod",
     lambda c: sc.multiple_volumes(c, FAMILY, "configmap-volume-test", with_mode=False))
_reg("immutable if `immutable` field is set", lambda c: sc.immutable(c, sc.CONFIGMAP), ())


@conformance(CM + "binary data should be reflected in volume", basename="configmap", needs=NEEDS)
def binary_data(c: Ctx) -> None:
    name = f"configmap-test-upd-{uid()}"
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), data={"data-1": "value-1"},
        binary_data={"dump.bin": "3sr+utD+/w=="}))  # de ca fe ba d0 fe ff
    pod = FAMILY.mounted(name, mounttest(file_content_in_loop=f"{MOUNT}/data-1",
                                         retry_time=SECRET_UPDATE_TIMEOUT))
    pod.spec.containers.append(client.V1Container(
        name="configmap-volume-binary-test", image=BUSYBOX,
        command=["hexdump", "-C", f"{MOUNT}/dump.bin"],
        volume_mounts=[client.V1VolumeMount(name="configmap-volume", mount_path=MOUNT,
                                                 read_only=True)]))
    c.core.create_namespaced_pod(c.ns, pod)
    name_ = pod.metadata.name
    poll(lambda: c.core.read_namespaced_pod(name_, c.ns).status.phase == "Running", 300,
         f"pod {name_} to be running", 2)
    logs_eventually(c, name_, "agnhost-container", "value-1")
    logs_eventually(c, name_, "configmap-volume-binary-test", "de ca fe ba d0 fe ff")
