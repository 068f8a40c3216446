"""Ports of the conformance tests of test/e2e/common/storage/configmap_volume.go: a
ConfigMap as a volume (default and per-item modes, key-to-path mappings, non-root
readers, two volumes of one ConfigMap, binary data), updates of the ConfigMap reaching
the files, optional ConfigMaps appearing and disappearing, and immutable ConfigMaps."""

from __future__ import annotations

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, expect_container_output, poll
from conformance.ports.node_common import (
    BUSYBOX,
    SECRET_UPDATE_TIMEOUT,
    create_sync,
    file_mode_regex,
    logs_eventually,
    mounttest,
    mounttest_pod,
    set_non_root,
    uid,
)

CM = "ConfigMap › "
NEEDS = ("containers",)
MOUNT = "/etc/configmap-volume"
DATA = {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"}


def new_configmap(c: Ctx, name: str, data: dict[str, str] | None = None) -> client.V1ConfigMap:
    return c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), data=dict(data or DATA)))


def _cm_volume(vol: str, ref: str, **kw: object) -> client.V1Volume:
    return client.V1Volume(name=vol, config_map=client.V1ConfigMapVolumeSource(name=ref, **kw))  # type: ignore[arg-type]


def _mount(vol: str, path: str) -> client.V1VolumeMount:
    return client.V1VolumeMount(name=vol, mount_path=path, read_only=True)


def cm_mounttest_pod(name: str, script: str) -> client.V1Pod:
    """upstream's createConfigMapVolumeMounttestPod."""
    return mounttest_pod("pod-configmaps", [_cm_volume("configmap-volume", name)],
                         [_mount("configmap-volume", MOUNT)], script)


def without_mappings(c: Ctx, as_user: bool, default_mode: int | None) -> None:
    name = f"configmap-test-volume-{uid()}"
    new_configmap(c, name)
    f = f"{MOUNT}/data-1"
    pod = cm_mounttest_pod(name, mounttest(file_content=f, file_mode=f))
    pod.spec.termination_grace_period_seconds = 1
    if as_user:
        set_non_root(pod)
    pod.spec.volumes[0].config_map.default_mode = default_mode
    expect_container_output(c, "consume configMaps", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, default_mode)],
                            regexp=True)


def with_mappings(c: Ctx, as_user: bool, item_mode: int | None) -> None:
    name = f"configmap-test-volume-map-{uid()}"
    new_configmap(c, name)
    f = f"{MOUNT}/path/to/data-2"
    pod = cm_mounttest_pod(name, mounttest(file_content=f, file_mode=f))
    pod.spec.termination_grace_period_seconds = 1
    pod.spec.volumes[0].config_map.items = [client.V1KeyToPath(key="data-2", path="path/to/data-2",
                                                               mode=item_mode)]
    if as_user:
        set_non_root(pod)
    expect_container_output(c, "consume configMaps", pod, 0,
                            [f'content of file "{f}": value-2', file_mode_regex(f, item_mode)],
                            regexp=True)


@conformance(CM + "consumable from pods in volume", basename="configmap", needs=NEEDS)
def volume(c: Ctx) -> None:
    without_mappings(c, False, None)


@conformance(CM + "consumable in volume with defaultMode set [LinuxOnly]", basename="configmap",
             needs=NEEDS)
def volume_default_mode(c: Ctx) -> None:
    without_mappings(c, False, 0o400)


@conformance(CM + "consumable from pods in volume as non-root", basename="configmap", needs=NEEDS)
def volume_non_root(c: Ctx) -> None:
    without_mappings(c, True, None)


@conformance(CM + "consumable in volume with mappings", basename="configmap", needs=NEEDS)
def volume_mappings(c: Ctx) -> None:
    with_mappings(c, False, None)


@conformance(CM + "mappings and Item mode set [LinuxOnly]", basename="configmap", needs=NEEDS)
def volume_item_mode(c: Ctx) -> None:
    with_mappings(c, False, 0o400)


@conformance(CM + "mappings as non-root", basename="configmap", needs=NEEDS)
def volume_mappings_non_root(c: Ctx) -> None:
    with_mappings(c, True, None)


@conformance(CM + "updates should be reflected in volume", basename="configmap", needs=NEEDS)
def updates(c: Ctx) -> None:
    name = f"configmap-test-upd-{uid()}"
    cm = new_configmap(c, name, {"data-1": "value-1"})
    pod = cm_mounttest_pod(name, mounttest(file_content_in_loop=f"{MOUNT}/data-1",
                                           retry_time=SECRET_UPDATE_TIMEOUT))
    create_sync(c, pod)
    logs_eventually(c, pod.metadata.name, "agnhost-container", "value-1")
    cm.metadata.resource_version = None  # to force the update
    cm.data["data-1"] = "value-2"
    c.core.replace_namespaced_config_map(name, c.ns, cm)
    logs_eventually(c, pod.metadata.name, "agnhost-container", "value-2")


@conformance(CM + "binary data should be reflected in volume", basename="configmap", needs=NEEDS)
def binary_data(c: Ctx) -> None:
    name = f"configmap-test-upd-{uid()}"
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), data={"data-1": "value-1"},
        binary_data={"dump.bin": "3sr+utD+/w=="}))  # de ca fe ba d0 fe ff
    pod = cm_mounttest_pod(name, mounttest(file_content_in_loop=f"{MOUNT}/data-1",
                                           retry_time=SECRET_UPDATE_TIMEOUT))
    pod.spec.containers.append(client.V1Container(
        name="configmap-volume-binary-test", image=BUSYBOX,
        command=["hexdump", "-C", f"{MOUNT}/dump.bin"],
        volume_mounts=[_mount("configmap-volume", MOUNT)]))
    c.core.create_namespaced_pod(c.ns, pod)
    name_ = pod.metadata.name
    poll(lambda: c.core.read_namespaced_pod(name_, c.ns).status.phase == "Running", 300,
         f"pod {name_} to be running", 2)
    logs_eventually(c, name_, "agnhost-container", "value-1")
    logs_eventually(c, name_, "configmap-volume-binary-test", "de ca fe ba d0 fe ff")


@conformance(CM + "optional updates should be reflected in volume", basename="configmap",
             needs=NEEDS)
def optional_updates(c: Ctx) -> None:
    root = "/etc/configmap-volumes"
    names = {k: f"cm-test-opt-{k[:3] if k != 'create' else 'create'}-{uid()}"
             for k in ("delete", "update", "create")}
    ctrs = {"delete": ("delcm-volume-test", "deletecm-volume", "data-1"),
            "update": ("updcm-volume-test", "updatecm-volume", "data-3"),
            "create": ("createcm-volume-test", "createcm-volume", "data-1")}
    new_configmap(c, names["delete"], {"data-1": "value-1"})
    upd = new_configmap(c, names["update"], {"data-1": "value-1"})
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-configmaps-{uid()}"),
        spec=client.V1PodSpec(restart_policy="Never", volumes=[
            _cm_volume(vol, names[k], optional=True) for k, (_, vol, _) in ctrs.items()],
            containers=[client.V1Container(
                name=cname, image=BUSYBOX, volume_mounts=[_mount(vol, f"{root}/{k}")],
                command=["/bin/sh", "-c", mounttest(file_content_in_loop=f"{root}/{k}/{key}",
                                                    retry_time=SECRET_UPDATE_TIMEOUT)])
                for k, (cname, vol, key) in ctrs.items()]))
    create_sync(c, pod)
    pn = pod.metadata.name
    logs_eventually(c, pn, "createcm-volume-test", f"Error reading file {root}/create/data-1")
    logs_eventually(c, pn, "updcm-volume-test", f"Error reading file {root}/update/data-3")
    logs_eventually(c, pn, "delcm-volume-test", "value-1")
    c.core.delete_namespaced_config_map(names["delete"], c.ns)
    upd.metadata.resource_version = None
    upd.data = {"data-3": "value-3"}
    c.core.replace_namespaced_config_map(names["update"], c.ns, upd)
    new_configmap(c, names["create"], {"data-1": "value-1"})
    logs_eventually(c, pn, "createcm-volume-test", "value-1")
    logs_eventually(c, pn, "updcm-volume-test", "value-3")
    logs_eventually(c, pn, "delcm-volume-test", f"Error reading file {root}/delete/data-1")


@conformance(CM + "consumable in multiple volumes in the same pod", basename="configmap",
             needs=NEEDS)
def multiple_volumes(c: Ctx) -> None:
    name = f"configmap-test-volume-{uid()}"
    new_configmap(c, name)
    pod = mounttest_pod("pod-configmaps",
                        [_cm_volume("configmap-volume", name), _cm_volume("configmap-volume-2", name)],
                        [_mount("configmap-volume", MOUNT), _mount("configmap-volume-2", f"{MOUNT}-2")],
                        mounttest(file_content=f"{MOUNT}/data-1"), cname="configmap-volume-test")
    expect_container_output(c, "consume configMaps", pod, 0,
                            [f'content of file "{MOUNT}/data-1": value-1'])


@conformance(CM + "immutable if `immutable` field is set", basename="configmap")
def immutable(c: Ctx) -> None:
    name = "immutable"
    cur = new_configmap(c, name)
    cur.data["data-4"] = "value-4"
    cur = c.core.replace_namespaced_config_map(name, c.ns, cur)
    cur.immutable = True
    cur = c.core.replace_namespaced_config_map(name, c.ns, cur)
    cur.data["data-5"] = "value-5"
    e = expect_api_error(lambda: c.core.replace_namespaced_config_map(name, c.ns, cur))
    assert e.status == 422, f"data change of an immutable ConfigMap: HTTP {e.status}, want Invalid"
    cur = c.core.read_namespaced_config_map(name, c.ns)
    assert cur.immutable is True
    cur.immutable = False
    e = expect_api_error(lambda: c.core.replace_namespaced_config_map(name, c.ns, cur))
    assert e.status == 422, f"immutable back to mutable: HTTP {e.status}, want Invalid"
    cur = c.core.read_namespaced_config_map(name, c.ns)
    cur.metadata.labels = {"label1": "value1"}
    c.core.replace_namespaced_config_map(name, c.ns, cur)
    c.core.delete_namespaced_config_map(name, c.ns)
