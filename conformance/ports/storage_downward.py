"""Ports of the conformance tests of test/e2e/common/storage/downwardapi_volume.go and
projected_downwardapi.go: pod name, resources, labels and annotations as files of a
downwardAPI volume (or of a projected volume's downwardAPI source), with default and
per-item modes, and label/annotation changes reaching the files.

As upstream, the projected file's podname and resource tests run the plain downwardAPI
volume pod (upstream shares those helpers); its mode and update tests run a projected one."""

from __future__ import annotations

from typing import Any

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports.apps_common import retry_on_conflict
from conformance.ports.node_common import BUSYBOX, create_sync, logs_eventually, mounttest, uid

D = "Downward API volume › "
PD = "Projected downwardAPI › "
NEEDS = ("containers",)
PODINFO = "/etc/podinfo"


def _items() -> list[client.V1DownwardAPIVolumeFile]:
    """downwardAPIVolumeBasePod's items: the pod name and client-container's resources."""
    def res(path: str, resource: str) -> client.V1DownwardAPIVolumeFile:
        return client.V1DownwardAPIVolumeFile(path=path, resource_field_ref=client.V1ResourceFieldSelector(
            container_name="client-container", resource=resource))
    return [client.V1DownwardAPIVolumeFile(path="podname", field_ref=client.V1ObjectFieldSelector(
        api_version="v1", field_path="metadata.name")),
        res("cpu_limit", "limits.cpu"), res("cpu_request", "requests.cpu"),
        res("memory_limit", "limits.memory"), res("memory_request", "requests.memory")]


def _base_pod(name: str, projected: bool, container: client.V1Container,
              labels: dict[str, str] | None = None,
              annotations: dict[str, str] | None = None) -> client.V1Pod:
    items = _items()
    for key, present in (("labels", labels), ("annotations", annotations)):
        if present:  # applyLabelsAndAnnotationsToDownwardAPIPod
            items.append(client.V1DownwardAPIVolumeFile(path=key, field_ref=client.V1ObjectFieldSelector(
                api_version="v1", field_path=f"metadata.{key}")))
    if projected:
        vol = client.V1Volume(name="podinfo", projected=client.V1ProjectedVolumeSource(sources=[
            client.V1VolumeProjection(downward_api=client.V1DownwardAPIProjection(items=items))]))
    else:
        vol = client.V1Volume(name="podinfo", downward_api=client.V1DownwardAPIVolumeSource(items=items))
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name, labels=labels or None,
                                                     annotations=annotations or None),
                        spec=client.V1PodSpec(restart_policy="Never", volumes=[vol],
                                              containers=[container]))


def _client(script: str, resources: client.V1ResourceRequirements | None = None) -> client.V1Container:
    return client.V1Container(name="client-container", image=BUSYBOX, command=["/bin/sh", "-c", script],
                              resources=resources,
                              volume_mounts=[client.V1VolumeMount(name="podinfo", mount_path=PODINFO)])


def simple_pod(name: str, path: str) -> client.V1Pod:
    """downwardAPIVolumePodForSimpleTest."""
    return _base_pod(name, False, _client(mounttest(file_content=path)))


def resources_pod(name: str, path: str, limits: bool = True) -> client.V1Pod:
    """downwardAPIVolumeForContainerResources (requests 250m/32Mi, limits 1250m/128Mi) or,
    with limits=False, downwardAPIVolumeForDefaultContainerResources."""
    res = client.V1ResourceRequirements(requests={"cpu": "250m", "memory": "32Mi"},
                                        limits={"cpu": "1250m", "memory": "128Mi"})
    return _base_pod(name, False, _client(mounttest(file_content=path), res if limits else None))


def mode_pod(name: str, path: str, projected: bool, item_mode: int | None,
             default_mode: int | None) -> client.V1Pod:
    pod = _base_pod(name, projected, _client(mounttest(file_mode=path)))
    vol = pod.spec.volumes[0]
    items = vol.projected.sources[0].downward_api.items if projected else vol.downward_api.items
    items[0].mode = item_mode
    (vol.projected if projected else vol.downward_api).default_mode = default_mode
    return pod


def update_test(c: Ctx, projected: bool, key: str, before: str, change: Any, after: str) -> None:
    """The labels/annotations update tests: the file follows a change of the pod."""
    name = f"{'labelsupdate' if key == 'labels' else 'annotationupdate'}{uid()}"
    labels = {"key1": "value1", "key2": "value2"} if key == "labels" else None
    annotations = {"builder": "bar"} if key == "annotations" else None
    retry = 1200 if projected else 120
    pod = _base_pod(name, projected, _client(mounttest(file_content_in_loop=f"{PODINFO}/{key}",
                                                       retry_time=retry)), labels, annotations)
    timeout = 120 if projected else 180  # podLogTimeout of each file
    create_sync(c, pod)
    logs_eventually(c, name, "client-container", before, timeout)

    def update() -> Any:
        p = c.core.read_namespaced_pod(name, c.ns)
        change(p)
        return c.core.replace_namespaced_pod(name, c.ns, p)
    retry_on_conflict(update)
    logs_eventually(c, name, "client-container", after, timeout)


def _add_label(p: Any) -> None:
    p.metadata.labels["key3"] = "value3"


def _set_annotation(p: Any) -> None:
    p.metadata.annotations["builder"] = "foo"


def _register(prefix: str, projected: bool) -> None:
    def reg(short: str, fn: Any) -> None:
        conformance(prefix + short, basename="projected" if projected else "downward-api",
                    needs=NEEDS)(fn)

    def output(short: str, path: str, want: str, limits: bool | None = True) -> None:
        def port(c: Ctx) -> None:
            name = f"downwardapi-volume-{uid()}"
            pod = simple_pod(name, path) if limits is None else resources_pod(name, path, limits)
            expected = f"{name}\n" if want == "<podname>" else want
            expect_container_output(c, "downward API volume plugin", pod, 0, [expected],
                                    regexp=limits is False)
        reg(short, port)
    output("podname only", f"{PODINFO}/podname", "<podname>", None)
    output("container's cpu limit", f"{PODINFO}/cpu_limit", "2\n")
    output("container's memory limit", f"{PODINFO}/memory_limit", "134217728\n")
    output("container's cpu request", f"{PODINFO}/cpu_request", "1\n")
    output("container's memory request", f"{PODINFO}/memory_request", "33554432\n")
    output("node allocatable (cpu) as default cpu limit", f"{PODINFO}/cpu_limit", "[1-9]", False)
    output("node allocatable (memory) as default memory limit", f"{PODINFO}/memory_limit", "[1-9]", False)

    def modes(short: str, item: int | None, default: int | None) -> None:
        def port(c: Ctx) -> None:
            pod = mode_pod(f"downwardapi-volume-{uid()}", f"{PODINFO}/podname", projected, item, default)
            expect_container_output(c, "downward API volume plugin", pod, 0,
                                    [f'mode of file "{PODINFO}/podname": -r--------'])
        reg(short, port)
    modes("set DefaultMode on files [LinuxOnly]", None, 0o400)
    modes("set mode on item file [LinuxOnly]", 0o400, None)
    reg("update labels on modification", lambda c: update_test(
        c, projected, "labels", 'key1="value1"\n', _add_label, 'key3="value3"\n'))
    reg("update annotations on modification", lambda c: update_test(
        c, projected, "annotations", 'builder="bar"\n', _set_annotation, 'builder="foo"\n'))


_register(D, False)
_register(PD, True)
