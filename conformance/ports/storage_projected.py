"""Ports of the conformance tests of test/e2e/common/storage/projected_configmap.go,
projected_secret.go and projected_combined.go: ConfigMaps and Secrets as sources of a
projected volume (the volume's defaultMode, mappings, non-root readers, two volumes,
updates, optional sources) and one volume projecting a Secret, a ConfigMap and the pod
name together.

As upstream, the mapping tests with a mode set the projected volume's defaultMode (not
the item's mode) and expect that mode on the mapped file."""

from __future__ import annotations

import base64
from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports.node_common import (
    BUSYBOX,
    NON_ROOT_TEST_UID,
    SECRET_UPDATE_TIMEOUT,
    create_sync,
    file_mode_regex,
    logs_eventually,
    mounttest,
    mounttest_pod,
    set_non_root,
    uid,
)
from conformance.ports.storage_configmap import new_configmap
from conformance.ports.storage_secret import secret_for_test

PC = "Projected configMap › "
PS = "Projected secret › "
NEEDS = ("containers",)
CM_MOUNT = "/etc/projected-configmap-volume"
S_MOUNT = "/etc/projected-secret-volume"


def _projected(vol: str, **source: Any) -> client.V1Volume:
    return client.V1Volume(name=vol, projected=client.V1ProjectedVolumeSource(
        sources=[client.V1VolumeProjection(**source)]))


def _cm(name: str, **kw: Any) -> dict[str, Any]:
    return {"config_map": client.V1ConfigMapProjection(name=name, **kw)}


def _secret(name: str, **kw: Any) -> dict[str, Any]:
    return {"secret": client.V1SecretProjection(name=name, **kw)}


def _ro(vol: str, path: str) -> client.V1VolumeMount:
    return client.V1VolumeMount(name=vol, mount_path=path, read_only=True)


def cm_pod(name: str, script: str) -> client.V1Pod:
    """createProjectedConfigMapMounttestPod."""
    return mounttest_pod("pod-projected-configmaps", [_projected("projected-configmap-volume", **_cm(name))],
                         [_ro("projected-configmap-volume", CM_MOUNT)], script)


def cm_without_mappings(c: Ctx, as_user: bool, default_mode: int | None) -> None:
    name = f"projected-configmap-test-volume-{uid()}"
    new_configmap(c, name)
    f = f"{CM_MOUNT}/data-1"
    pod = cm_pod(name, mounttest(file_content=f, file_mode=f))
    if as_user:
        set_non_root(pod)
    pod.spec.volumes[0].projected.default_mode = default_mode
    expect_container_output(c, "consume configMaps", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, default_mode)],
                            regexp=True)


def cm_with_mappings(c: Ctx, as_user: bool, mode: int | None) -> None:
    name = f"projected-configmap-test-volume-map-{uid()}"
    new_configmap(c, name)
    f = f"{CM_MOUNT}/path/to/data-2"
    pod = cm_pod(name, mounttest(file_content=f, file_mode=f))
    pod.spec.volumes[0].projected.sources[0].config_map.items = [
        client.V1KeyToPath(key="data-2", path="path/to/data-2")]
    if as_user:
        set_non_root(pod)
    pod.spec.volumes[0].projected.default_mode = mode
    expect_container_output(c, "consume configMaps", pod, 0,
                            [f'content of file "{f}": value-2', file_mode_regex(f, mode)], regexp=True)


def _reg(prefix: str, short: str, fn: Any) -> None:
    conformance(prefix + short, basename="projected", needs=NEEDS)(fn)


_reg(PC, "consumable from pods in volume", lambda c: cm_without_mappings(c, False, None))
_reg(PC, "defaultMode set [LinuxOnly]", lambda c: cm_without_mappings(c, False, 0o400))
_reg(PC, "consumable as non-root", lambda c: cm_without_mappings(c, True, None))
_reg(PC, "with mappings", lambda c: cm_with_mappings(c, False, None))
_reg(PC, "mappings and Item mode set [LinuxOnly]", lambda c: cm_with_mappings(c, False, 0o400))
_reg(PC, "mappings as non-root", lambda c: cm_with_mappings(c, True, None))


@conformance(PC + "updates should be reflected in volume", basename="projected", needs=NEEDS)
def cm_updates(c: Ctx) -> None:
    name = f"projected-configmap-test-upd-{uid()}"
    cm = new_configmap(c, name, {"data-1": "value-1"})
    pod = cm_pod(name, mounttest(file_content_in_loop=f"{CM_MOUNT}/data-1", retry_time=SECRET_UPDATE_TIMEOUT))
    create_sync(c, pod)
    logs_eventually(c, pod.metadata.name, "agnhost-container", "value-1")
    cm.metadata.resource_version = None  # to force the update
    cm.data["data-1"] = "value-2"
    c.core.replace_namespaced_config_map(name, c.ns, cm)
    logs_eventually(c, pod.metadata.name, "agnhost-container", "value-2")


def optional_updates(c: Ctx, kind: str) -> None:
    """The create/update/delete test of projected_configmap.go (kind "cm") and
    projected_secret.go (kind "s")."""
    root = "/etc/projected-configmap-volumes" if kind == "cm" else "/etc/projected-secret-volumes"
    names = {"delete": f"{kind}-test-opt-del-{uid()}", "update": f"{kind}-test-opt-upd-{uid()}",
             "create": f"{kind}-test-opt-create-{uid()}"}
    keys = {"delete": "data-1", "update": "data-3", "create": "data-1"}
    short = {"delete": "del", "update": "upd", "create": "create"}
    cname = {k: f"{short[k]}{kind}-volume-test" for k in names}
    vol = {k: f"{k}{kind}-volume" if kind == "cm" else f"{k}s-volume" for k in names}

    def make(k: str, data: dict[str, str]) -> Any:
        if kind == "cm":
            return new_configmap(c, names[k], data)
        return secret_for_test(c, c.ns, names[k], data)
    make("delete", {"data-1": "value-1"})
    upd = make("update", {"data-1": "value-1"})
    src = _cm if kind == "cm" else _secret
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-projected-{'configmaps' if kind == 'cm' else 'secrets'}-{uid()}"),
        spec=client.V1PodSpec(restart_policy="Never", volumes=[
            _projected(vol[k], **src(names[k], optional=True)) for k in names],
            containers=[client.V1Container(
                name=cname[k], image=BUSYBOX, volume_mounts=[_ro(vol[k], f"{root}/{k}")],
                command=["/bin/sh", "-c", mounttest(file_content_in_loop=f"{root}/{k}/{keys[k]}",
                                                    retry_time=SECRET_UPDATE_TIMEOUT)]) for k in names]))
    create_sync(c, pod)
    pn = pod.metadata.name
    logs_eventually(c, pn, cname["create"], f"Error reading file {root}/create/data-1")
    logs_eventually(c, pn, cname["update"], f"Error reading file {root}/update/data-3")
    logs_eventually(c, pn, cname["delete"], "value-1")
    upd.metadata.resource_version = None  # to force the update
    if kind == "cm":
        c.core.delete_namespaced_config_map(names["delete"], c.ns)
        upd.data = {"data-3": "value-3"}
        c.core.replace_namespaced_config_map(names["update"], c.ns, upd)
    else:
        c.core.delete_namespaced_secret(names["delete"], c.ns)
        upd.data = {"data-3": base64.b64encode(b"value-3").decode()}
        c.core.replace_namespaced_secret(names["update"], c.ns, upd)
    make("create", {"data-1": "value-1"})
    logs_eventually(c, pn, cname["create"], "value-1")
    logs_eventually(c, pn, cname["update"], "value-3")
    logs_eventually(c, pn, cname["delete"], f"Error reading file {root}/delete/data-1")


_reg(PC, "optional updates should be reflected in volume", lambda c: optional_updates(c, "cm"))
_reg(PS, "optional updates should be reflected in volume", lambda c: optional_updates(c, "s"))


@conformance(PC + "multiple volumes in the same pod", basename="projected", needs=NEEDS)
def cm_multiple_volumes(c: Ctx) -> None:
    name = f"projected-configmap-test-volume-{uid()}"
    new_configmap(c, name)
    pod = mounttest_pod("pod-projected-configmaps",
                        [_projected("projected-configmap-volume", **_cm(name)),
                         _projected("projected-configmap-volume-2", **_cm(name))],
                        [_ro("projected-configmap-volume", CM_MOUNT),
                         _ro("projected-configmap-volume-2", f"{CM_MOUNT}-2")],
                        mounttest(file_content=f"{CM_MOUNT}/data-1"), cname="projected-configmap-volume-test")
    expect_container_output(c, "consume configMaps", pod, 0, [f'content of file "{CM_MOUNT}/data-1": value-1'])


# -- projected_secret.go --------------------------------------------------------------
def _secret_pod(volumes: list[client.V1Volume], mounts: list[client.V1VolumeMount], script: str,
                cname: str = "projected-secret-volume-test") -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"pod-projected-secrets-{uid()}"),
                        spec=client.V1PodSpec(restart_policy="Never", volumes=volumes, containers=[
                            client.V1Container(name=cname, image=BUSYBOX, volume_mounts=mounts,
                                               command=["/bin/sh", "-c", script])]))


def secret_without_mapping(c: Ctx, default_mode: int | None, name: str, fs_group: int | None = None,
                           run_as: int | None = None) -> None:
    secret_for_test(c, c.ns, name)
    f = f"{S_MOUNT}/data-1"
    pod = _secret_pod([_projected("projected-secret-volume", **_secret(name))],
                      [client.V1VolumeMount(name="projected-secret-volume", mount_path=S_MOUNT)],
                      mounttest(file_content=f, file_mode=f))
    pod.spec.volumes[0].projected.default_mode = default_mode
    if fs_group is not None or run_as is not None:
        pod.spec.security_context = client.V1PodSecurityContext(fs_group=fs_group, run_as_user=run_as)
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, default_mode)],
                            regexp=True)


def secret_with_mapping(c: Ctx, mode: int | None) -> None:
    name = f"projected-secret-test-map-{uid()}"
    secret_for_test(c, c.ns, name)
    f = f"{S_MOUNT}/new-path-data-1"
    pod = _secret_pod([_projected("projected-secret-volume", **_secret(name, items=[
        client.V1KeyToPath(key="data-1", path="new-path-data-1")]))],
        [client.V1VolumeMount(name="projected-secret-volume", mount_path=S_MOUNT)],
        mounttest(file_content=f, file_mode=f))
    pod.spec.volumes[0].projected.default_mode = mode
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, mode)], regexp=True)


_reg(PS, "consumable from pods in volume",
     lambda c: secret_without_mapping(c, None, f"projected-secret-test-{uid()}"))
_reg(PS, "defaultMode set [LinuxOnly]",
     lambda c: secret_without_mapping(c, 0o400, f"projected-secret-test-{uid()}"))
_reg(PS, "non-root with defaultMode and fsGroup set [LinuxOnly]",
     lambda c: secret_without_mapping(c, 0o440, f"projected-secret-test-{uid()}", 1001, NON_ROOT_TEST_UID))
_reg(PS, "with mappings", lambda c: secret_with_mapping(c, None))
_reg(PS, "mappings and Item Mode set [LinuxOnly]", lambda c: secret_with_mapping(c, 0o400))


@conformance(PS + "multiple volumes in a pod", basename="projected", needs=NEEDS)
def secret_multiple_volumes(c: Ctx) -> None:
    name = f"projected-secret-test-{uid()}"
    secret_for_test(c, c.ns, name)
    f = f"{S_MOUNT}/data-1"
    pod = _secret_pod([_projected("projected-secret-volume", **_secret(name)),
                       _projected("projected-secret-volume-2", **_secret(name))],
                      [_ro("projected-secret-volume", S_MOUNT), _ro("projected-secret-volume-2", f"{S_MOUNT}-2")],
                      mounttest(file_content=f, file_mode=f), cname="secret-volume-test")
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, None)], regexp=True)


@conformance("Projected combined › project all components that make up the projection API",
             basename="projected", needs=NEEDS)
def combined(c: Ctx) -> None:
    pod_name = f"projected-volume-{uid()}"
    secret_name = f"secret-projected-all-test-volume-{uid()}"
    cm_name = f"configmap-projected-all-test-volume-{uid()}"
    new_configmap(c, cm_name, {"configmap-data": "configmap-value-1"})
    secret_for_test(c, c.ns, secret_name, {"secret-data": "secret-value-1"})
    vol = client.V1Volume(name="podinfo", projected=client.V1ProjectedVolumeSource(sources=[
        client.V1VolumeProjection(downward_api=client.V1DownwardAPIProjection(items=[
            client.V1DownwardAPIVolumeFile(path="podname", field_ref=client.V1ObjectFieldSelector(
                api_version="v1", field_path="metadata.name"))])),
        client.V1VolumeProjection(**_secret(secret_name)),
        client.V1VolumeProjection(**_cm(cm_name))]))
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name=pod_name), spec=client.V1PodSpec(
        restart_policy="Never", volumes=[vol], containers=[client.V1Container(
            name="projected-all-volume-test", image=BUSYBOX,
            command=["sh", "-c", "cat /all/podname && cat /all/secret-data && cat /all/configmap-data"],
            volume_mounts=[client.V1VolumeMount(name="podinfo", mount_path="/all")])]))
    expect_container_output(c, "Check all projections for projected volume plugin", pod, 0,
                            [pod_name, "secret-value-1", "configmap-value-1"])
