"""What the ConfigMap, Secret and projected volume ports share. Upstream writes the same
tests four times (configmap_volume.go, secrets_volume.go, projected_configmap.go,
projected_secret.go): a file read through the volume (default mode, key-to-path
mappings, a non-root reader), one object in two volumes, optional sources created,
updated and deleted under a running pod, and immutable objects. Here each is written
once over a `Family` (a ConfigMap or a Secret, as a plain or a projected volume) and keeps
upstream's names for its objects, volumes and containers.

This module registers no port; the port modules do, under upstream's codenames."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any, Callable

from kubernetes import client

from conformance.framework import Ctx, expect_api_error, expect_container_output
from conformance.ports.node_common import (
    BUSYBOX,
    SECRET_UPDATE_TIMEOUT,
    create_sync,
    file_mode_regex,
    logs_eventually,
    mounttest,
    mounttest_pod,
    uid,
)


def b64(data: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}


@dataclass(frozen=True)
class Source:
    """A ConfigMap or a Secret as the object behind a volume."""

    short: str                       # upstream's name prefix in the optional tests
    noun: str                        # in upstream's object, volume and pod names
    kind: str                        # for messages
    api: str                         # config_map or secret, in CoreV1Api's method names
    default: dict[str, str]          # the data upstream creates it with
    what: str                        # expect_container_output's description
    mapping: tuple[str, str, str]    # key, path and value of the mapping tests
    read_only: bool | None           # the mounts of the file tests
    encode: Callable[[dict[str, str]], dict[str, str]] = dict

    def create(self, c: Ctx, name: str, data: dict[str, str] | None = None,
               ns: str | None = None) -> Any:
        ns = ns or c.ns
        body = {"metadata": client.V1ObjectMeta(name=name, namespace=ns),
                "data": self.encode(dict(data or self.default))}
        obj = client.V1ConfigMap(**body) if self.api == "config_map" else client.V1Secret(**body)
        return self.call(c, "create", ns, obj)

    def call(self, c: Ctx, verb: str, *args: Any) -> Any:
        return getattr(c.core, f"{verb}_namespaced_{self.api}")(*args)

    def volume(self, vol: str, ref: str, projected: bool, default_mode: int | None = None,
               **kw: Any) -> client.V1Volume:
        if projected:
            return client.V1Volume(name=vol, projected=client.V1ProjectedVolumeSource(
                default_mode=default_mode, sources=[self.projection(ref, **kw)]))
        if self.api == "config_map":
            return client.V1Volume(name=vol, config_map=client.V1ConfigMapVolumeSource(
                name=ref, default_mode=default_mode, **kw))
        return client.V1Volume(name=vol, secret=client.V1SecretVolumeSource(
            secret_name=ref, default_mode=default_mode, **kw))

    def projection(self, ref: str, **kw: Any) -> client.V1VolumeProjection:
        if self.api == "config_map":
            return client.V1VolumeProjection(config_map=client.V1ConfigMapProjection(name=ref, **kw))
        return client.V1VolumeProjection(secret=client.V1SecretProjection(name=ref, **kw))


CONFIGMAP = Source("cm", "configmap", "ConfigMap", "config_map",
                   {"data-1": "value-1", "data-2": "value-2", "data-3": "value-3"},
                   "consume configMaps", ("data-2", "path/to/data-2", "value-2"), True)
SECRET = Source("s", "secret", "Secret", "secret",  # upstream's secretForTest: values end in \n
                {"data-1": "value-1\n", "data-2": "value-2\n", "data-3": "value-3\n"},
                "consume secrets", ("data-1", "new-path-data-1", "value-1"), None, b64)


@dataclass(frozen=True)
class Family:
    """One upstream file's tests: a Source as a plain or a projected volume."""

    src: Source
    projected: bool
    cname: str                       # the container of the file tests
    names: dict[str, str] = field(default_factory=dict)  # object name prefixes

    @property
    def base(self) -> str:
        return ("projected-" if self.projected else "") + self.src.noun

    @property
    def mount(self) -> str:
        return f"/etc/{self.base}-volume"

    def pod(self, vols: list[client.V1Volume], mounts: list[client.V1VolumeMount], script: str,
            cname: str | None = None) -> client.V1Pod:
        return mounttest_pod(f"pod-{self.base}s", vols, mounts, script, cname or self.cname)

    def mounted(self, ref: str, script: str, **volume: Any) -> client.V1Pod:
        """A pod reading `script` from the one volume of `ref` at self.mount."""
        vol = f"{self.base}-volume"
        return self.pod([self.src.volume(vol, ref, self.projected, **volume)],
                        [client.V1VolumeMount(name=vol, mount_path=self.mount,
                                              read_only=self.src.read_only)], script)


def expect_file(c: Ctx, fam: Family, pod: client.V1Pod, path: str, value: str,
                mode: int | None) -> None:
    expect_container_output(c, fam.src.what, pod, 0,
                            [f'content of file "{path}": {value}', file_mode_regex(path, mode)],
                            regexp=True)


def file_test(c: Ctx, fam: Family, *, mapped: bool = False, mode: int | None = None,
              name: str | None = None, security: dict[str, int] | None = None,
              grace: int | None = None) -> None:
    """upstream's doXxxE2EWithoutMappings / WithMappings: the file through the volume,
    with `mode` as the volume's defaultMode (unmapped, or any projected volume) or as
    the item's mode (a mapped plain volume), read as the pod `security` says."""
    name = name or f"{fam.base}-test-{fam.names.get('map' if mapped else 'file', '')}{uid()}"
    fam.src.create(c, name)
    key, path, value = fam.src.mapping if mapped else ("data-1", "data-1", "value-1")
    f = f"{fam.mount}/{path}"
    volume: dict[str, Any] = {"default_mode": mode}
    if mapped:
        item_mode = None if fam.projected else volume.pop("default_mode")
        volume["items"] = [client.V1KeyToPath(key=key, path=path, mode=item_mode)]
    pod = fam.mounted(name, mounttest(file_content=f, file_mode=f), **volume)
    pod.spec.termination_grace_period_seconds = grace
    for k, v in (security or {}).items():
        setattr(pod.spec.security_context, k, v)
    expect_file(c, fam, pod, f, value, mode)


def multiple_volumes(c: Ctx, fam: Family, cname: str, *, with_mode: bool) -> None:
    """One object in two volumes of one pod; `with_mode` as the Secret tests also read
    the file's mode."""
    name = f"{fam.base}-test-{fam.names.get('file', '')}{uid()}"
    fam.src.create(c, name)
    f, vol = f"{fam.mount}/data-1", f"{fam.base}-volume"
    pod = fam.pod([fam.src.volume(v, name, fam.projected) for v in (vol, f"{vol}-2")],
                  [client.V1VolumeMount(name=v, mount_path=p, read_only=True)
                   for v, p in ((vol, fam.mount), (f"{vol}-2", f"{fam.mount}-2"))],
                  mounttest(file_content=f, file_mode=f if with_mode else ""), cname)
    if with_mode:
        expect_file(c, fam, pod, f, "value-1", None)
    else:
        expect_container_output(c, fam.src.what, pod, 0, [f'content of file "{f}": value-1'])


def updates(c: Ctx, fam: Family) -> None:
    """An update of the object reaches the file in a running pod."""
    name = f"{fam.base}-test-upd-{uid()}"
    obj = fam.src.create(c, name, {"data-1": "value-1"})
    pod = fam.mounted(name, mounttest(file_content_in_loop=f"{fam.mount}/data-1",
                                      retry_time=SECRET_UPDATE_TIMEOUT))
    create_sync(c, pod)
    logs_eventually(c, pod.metadata.name, fam.cname, "value-1")
    obj.metadata.resource_version = None  # to force the update
    obj.data = fam.src.encode({"data-1": "value-2"})
    fam.src.call(c, "replace", name, c.ns, obj)
    logs_eventually(c, pod.metadata.name, fam.cname, "value-2")


def optional_updates(c: Ctx, fam: Family) -> None:
    """Three optional sources under one running pod: one deleted, one updated, one
    created after the pod started; each container sees its file follow."""
    s, root = fam.src, f"/etc/{fam.base}-volumes"
    short = {"delete": "del", "update": "upd", "create": "create"}
    keys = {"delete": "data-1", "update": "data-3", "create": "data-1"}
    names = {k: f"{s.short}-test-opt-{short[k]}-{uid()}" for k in short}
    cname = {k: f"{short[k]}{s.short}-volume-test" for k in short}
    s.create(c, names["delete"], {"data-1": "value-1"})
    upd = s.create(c, names["update"], {"data-1": "value-1"})
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-{fam.base}s-{uid()}"),
        spec=client.V1PodSpec(restart_policy="Never", volumes=[
            s.volume(f"{k}{s.short}-volume", names[k], fam.projected, optional=True)
            for k in short],
            containers=[client.V1Container(
                name=cname[k], image=BUSYBOX, volume_mounts=[client.V1VolumeMount(
                    name=f"{k}{s.short}-volume", mount_path=f"{root}/{k}", read_only=True)],
                command=["/bin/sh", "-c", mounttest(file_content_in_loop=f"{root}/{k}/{keys[k]}",
                                                    retry_time=SECRET_UPDATE_TIMEOUT)])
                for k in short]))
    create_sync(c, pod)
    pn = pod.metadata.name
    logs_eventually(c, pn, cname["create"], f"Error reading file {root}/create/data-1")
    logs_eventually(c, pn, cname["update"], f"Error reading file {root}/update/data-3")
    logs_eventually(c, pn, cname["delete"], "value-1")
    s.call(c, "delete", names["delete"], c.ns)
    upd.metadata.resource_version = None  # to force the update
    upd.data = s.encode({"data-3": "value-3"})
    s.call(c, "replace", names["update"], c.ns, upd)
    s.create(c, names["create"], {"data-1": "value-1"})
    logs_eventually(c, pn, cname["create"], "value-1")
    logs_eventually(c, pn, cname["update"], "value-3")
    logs_eventually(c, pn, cname["delete"], f"Error reading file {root}/delete/data-1")


def immutable(c: Ctx, s: Source) -> None:
    """An immutable object refuses data changes and going back to mutable (Invalid), and
    still takes metadata changes and deletion."""
    name = "immutable"
    cur = s.create(c, name)
    cur.data.update(s.encode({"data-4": "value-4\n" if s is SECRET else "value-4"}))
    cur = s.call(c, "replace", name, c.ns, cur)
    cur.immutable = True
    cur = s.call(c, "replace", name, c.ns, cur)
    cur.data.update(s.encode({"data-5": "value-5\n" if s is SECRET else "value-5"}))
    e = expect_api_error(lambda: s.call(c, "replace", name, c.ns, cur))
    assert e.status == 422, f"data change of an immutable {s.kind}: HTTP {e.status}, want Invalid"
    cur = s.call(c, "read", name, c.ns)
    assert cur.immutable is True
    cur.immutable = False
    e = expect_api_error(lambda: s.call(c, "replace", name, c.ns, cur))
    assert e.status == 422, f"immutable back to mutable: HTTP {e.status}, want Invalid"
    cur = s.call(c, "read", name, c.ns)
    cur.metadata.labels = {"label1": "value1"}
    s.call(c, "replace", name, c.ns, cur)
    s.call(c, "delete", name, c.ns)
