"""Ports of the conformance tests of test/e2e/common/storage/secrets_volume.go: a Secret as
a volume (default and per-item modes, key-to-path mappings, a non-root reader with
fsGroup, two volumes of one Secret, a same-named Secret in another namespace), optional
Secrets appearing, changing and disappearing, and immutable Secrets."""

from __future__ import annotations

import base64

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_api_error, expect_container_output
from conformance.ports.node_common import (
    BUSYBOX,
    NON_ROOT_TEST_UID,
    SECRET_UPDATE_TIMEOUT,
    create_sync,
    file_mode_regex,
    logs_eventually,
    mounttest,
    uid,
)

S = "Secrets › "
NEEDS = ("containers",)
MOUNT = "/etc/secret-volume"


def _b64(data: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


def secret_for_test(c: Ctx, ns: str, name: str, data: dict[str, str] | None = None) -> client.V1Secret:
    """upstream's secretForTest (values end in a newline), created in ns."""
    data = data or {"data-1": "value-1\n", "data-2": "value-2\n", "data-3": "value-3\n"}
    return c.core.create_namespaced_secret(ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=ns), data=_b64(data)))


def _pod(volumes: list[client.V1Volume], mounts: list[client.V1VolumeMount], script: str,
         cname: str = "secret-volume-test") -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=f"pod-secrets-{uid()}"),
                        spec=client.V1PodSpec(restart_policy="Never", volumes=volumes, containers=[
                            client.V1Container(name=cname, image=BUSYBOX, volume_mounts=mounts,
                                               command=["/bin/sh", "-c", script])]))


def _vol(name: str, secret: str, **kw: object) -> client.V1Volume:
    return client.V1Volume(name=name, secret=client.V1SecretVolumeSource(secret_name=secret, **kw))  # type: ignore[arg-type]


def without_mapping(c: Ctx, default_mode: int | None, name: str, fs_group: int | None = None,
                    run_as: int | None = None) -> None:
    secret_for_test(c, c.ns, name)
    f = f"{MOUNT}/data-1"
    pod = _pod([_vol("secret-volume", name, default_mode=default_mode)],
               [client.V1VolumeMount(name="secret-volume", mount_path=MOUNT)],
               mounttest(file_content=f, file_mode=f))
    if fs_group is not None or run_as is not None:
        pod.spec.security_context = client.V1PodSecurityContext(fs_group=fs_group, run_as_user=run_as)
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, default_mode)],
                            regexp=True)


def with_mapping(c: Ctx, mode: int | None) -> None:
    name = f"secret-test-map-{uid()}"
    secret_for_test(c, c.ns, name)
    f = f"{MOUNT}/new-path-data-1"
    pod = _pod([_vol("secret-volume", name, items=[client.V1KeyToPath(
        key="data-1", path="new-path-data-1", mode=mode)])],
        [client.V1VolumeMount(name="secret-volume", mount_path=MOUNT)],
        mounttest(file_content=f, file_mode=f))
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, mode)], regexp=True)


@conformance(S + "consumable from pods in volume", basename="secrets", needs=NEEDS)
def volume(c: Ctx) -> None:
    without_mapping(c, None, f"secret-test-{uid()}")


@conformance(S + "consumable with defaultMode set [LinuxOnly]", basename="secrets", needs=NEEDS)
def volume_default_mode(c: Ctx) -> None:
    without_mapping(c, 0o400, f"secret-test-{uid()}")


@conformance(S + "non-root with defaultMode and fsGroup set [LinuxOnly]", basename="secrets",
             needs=NEEDS)
def volume_non_root_fs_group(c: Ctx) -> None:
    without_mapping(c, 0o440, f"secret-test-{uid()}", 1001, NON_ROOT_TEST_UID)


@conformance(S + "consumable with mappings", basename="secrets", needs=NEEDS)
def volume_mappings(c: Ctx) -> None:
    with_mapping(c, None)


@conformance(S + "mappings and Item Mode set [LinuxOnly]", basename="secrets", needs=NEEDS)
def volume_item_mode(c: Ctx) -> None:
    with_mapping(c, 0o400)


@conformance(S + "mount regardless of a same-named secret in another namespace",
             basename="secrets", needs=NEEDS)
def same_name_other_namespace(c: Ctx) -> None:
    ns2 = c.create_namespace("secret-namespace")
    name = f"secret-test-{uid()}"
    secret_for_test(c, ns2, name, {"this_should_not_match_content_of_other_secret":
                                   "similarly_this_should_not_match_content_of_other_secret\n"})
    without_mapping(c, None, name)


@conformance(S + "consumable in multiple volumes in a pod", basename="secrets", needs=NEEDS)
def multiple_volumes(c: Ctx) -> None:
    name = f"secret-test-{uid()}"
    secret_for_test(c, c.ns, name)
    f = f"{MOUNT}/data-1"
    pod = _pod([_vol("secret-volume", name), _vol("secret-volume-2", name)],
               [client.V1VolumeMount(name="secret-volume", mount_path=MOUNT, read_only=True),
                client.V1VolumeMount(name="secret-volume-2", mount_path=f"{MOUNT}-2", read_only=True)],
               mounttest(file_content=f, file_mode=f))
    expect_container_output(c, "consume secrets", pod, 0,
                            [f'content of file "{f}": value-1', file_mode_regex(f, None)], regexp=True)


@conformance(S + "optional updates should be reflected in volume", basename="secrets", needs=NEEDS)
def optional_updates(c: Ctx) -> None:
    root = "/etc/secret-volumes"
    names = {"delete": f"s-test-opt-del-{uid()}", "update": f"s-test-opt-upd-{uid()}",
             "create": f"s-test-opt-create-{uid()}"}
    ctrs = {"delete": ("dels-volume-test", "deletes-volume", "data-1"),
            "update": ("upds-volume-test", "updates-volume", "data-3"),
            "create": ("creates-volume-test", "creates-volume", "data-1")}
    secret_for_test(c, c.ns, names["delete"], {"data-1": "value-1"})
    upd = secret_for_test(c, c.ns, names["update"], {"data-1": "value-1"})
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-secrets-{uid()}"),
        spec=client.V1PodSpec(restart_policy="Never", volumes=[
            _vol(vol, names[k], optional=True) for k, (_, vol, _) in ctrs.items()],
            containers=[client.V1Container(
                name=cname, image=BUSYBOX,
                volume_mounts=[client.V1VolumeMount(name=vol, mount_path=f"{root}/{k}", read_only=True)],
                command=["/bin/sh", "-c", mounttest(file_content_in_loop=f"{root}/{k}/{key}",
                                                    retry_time=SECRET_UPDATE_TIMEOUT)])
                for k, (cname, vol, key) in ctrs.items()]))
    create_sync(c, pod)
    pn = pod.metadata.name
    logs_eventually(c, pn, "creates-volume-test", f"Error reading file {root}/create/data-1")
    logs_eventually(c, pn, "upds-volume-test", f"Error reading file {root}/update/data-3")
    logs_eventually(c, pn, "dels-volume-test", "value-1")
    c.core.delete_namespaced_secret(names["delete"], c.ns)
    upd.metadata.resource_version = None  # to force the update
    upd.data = _b64({"data-3": "value-3"})
    c.core.replace_namespaced_secret(names["update"], c.ns, upd)
    secret_for_test(c, c.ns, names["create"], {"data-1": "value-1"})
    logs_eventually(c, pn, "creates-volume-test", "value-1")
    logs_eventually(c, pn, "upds-volume-test", "value-3")
    logs_eventually(c, pn, "dels-volume-test", f"Error reading file {root}/delete/data-1")


@conformance(S + "immutable if `immutable` field is set", basename="secrets")
def immutable(c: Ctx) -> None:
    name = "immutable"
    cur = secret_for_test(c, c.ns, name)
    cur.data["data-4"] = base64.b64encode(b"value-4\n").decode()
    cur = c.core.replace_namespaced_secret(name, c.ns, cur)
    cur.immutable = True
    cur = c.core.replace_namespaced_secret(name, c.ns, cur)
    cur.data["data-5"] = base64.b64encode(b"value-5\n").decode()
    e = expect_api_error(lambda: c.core.replace_namespaced_secret(name, c.ns, cur))
    assert e.status == 422, f"data change of an immutable Secret: HTTP {e.status}, want Invalid"
    cur = c.core.read_namespaced_secret(name, c.ns)
    assert cur.immutable is True
    cur.immutable = False
    e = expect_api_error(lambda: c.core.replace_namespaced_secret(name, c.ns, cur))
    assert e.status == 422, f"immutable back to mutable: HTTP {e.status}, want Invalid"
    cur = c.core.read_namespaced_secret(name, c.ns)
    cur.metadata.labels = {"label1": "value1"}
    c.core.replace_namespaced_secret(name, c.ns, cur)
    c.core.delete_namespaced_secret(name, c.ns)
