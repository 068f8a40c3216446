"""Ports of the conformance tests of test/e2e/storage/subpath.go ("Atomic writer volumes"):
a secret, configMap, downwardAPI or projected volume mounted through a subPath, read by
the container (also over an existing file of the image, /etc/resolv.conf).

upstream builds the pod with testsuites.SubpathTestPod and then drops the containers the
test leaves unused, which leaves one container reading the file in a loop for 20 s
(mounttest --file_content_in_loop --retry_time=20); this port builds that pod directly."""

from __future__ import annotations

import base64
import random
import re
import string

from kubernetes import client
from kubernetes.client.rest import ApiException

from conformance.framework import Ctx, conformance, expect_container_output
from conformance.ports.node_common import BUSYBOX, mounttest

SP = "Subpath › "
NEEDS = ("containers",)
VOLUME_PATH = "/test-volume"
PROBE_VOLUME_PATH = "/probe-volume"
RETRY = 20                  # retryDuration


def _setup(c: Ctx) -> None:
    """The BeforeEach: my-secret and my-configmap (already existing is fine)."""
    for create in (lambda: c.core.create_namespaced_secret(c.ns, client.V1Secret(
            metadata=client.V1ObjectMeta(name="my-secret"),
            data={"secret-key": base64.b64encode(b"secret-value").decode()})),
                   lambda: c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
                       metadata=client.V1ObjectMeta(name="my-configmap"),
                       data={"configmap-key": "configmap-value"}))):
        try:
            create()
        except ApiException as e:
            if e.status != 409:
                raise


def _suffix(volume_type: str) -> str:
    """generateSuffixForPodName."""
    rand = "".join(random.choices(string.ascii_lowercase + string.digits, k=4))
    return f"{re.sub('[^A-Za-z0-9]', '-', volume_type)}-{rand}".lower()


def subpath_pod(subpath: str, volume_type: str, source: dict[str, object], read: str,
                mount_path: str = VOLUME_PATH) -> client.V1Pod:
    suffix = _suffix(volume_type)
    mounts = [client.V1VolumeMount(name="test-volume", mount_path=mount_path, sub_path=subpath),
              client.V1VolumeMount(name="liveness-probe-volume", mount_path=PROBE_VOLUME_PATH)]
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-subpath-test-{suffix}"),
        spec=client.V1PodSpec(
            restart_policy="Never", termination_grace_period_seconds=1,
            security_context=client.V1PodSecurityContext(
                se_linux_options=client.V1SELinuxOptions(level="s0:c0,c1")),
            volumes=[client.V1Volume(name="test-volume", **source),  # type: ignore[arg-type]
                     client.V1Volume(name="liveness-probe-volume",
                                     empty_dir=client.V1EmptyDirVolumeSource())],
            containers=[client.V1Container(
                name=f"test-container-subpath-{suffix}", image=BUSYBOX, volume_mounts=mounts,
                command=["/bin/sh", "-c", mounttest(file_content_in_loop=read, retry_time=RETRY)])]))


def basic_subpath(c: Ctx, contents: str, pod: client.V1Pod) -> None:
    """TestBasicSubpath(File): the container's output holds the contents."""
    expect_container_output(c, "atomic-volume-subpath", pod, 0, [contents])


_CM = {"config_map": client.V1ConfigMapVolumeSource(name="my-configmap")}


@conformance(SP + "subpaths with secret pod", basename="subpath", needs=NEEDS)
def secret(c: Ctx) -> None:
    _setup(c)
    basic_subpath(c, "secret-value", subpath_pod(
        "secret-key", "secret", {"secret": client.V1SecretVolumeSource(secret_name="my-secret")},
        VOLUME_PATH))


@conformance(SP + "Atomic writer volumes: subpaths with configmap pod", basename="subpath",
             needs=NEEDS)
def configmap(c: Ctx) -> None:
    _setup(c)
    basic_subpath(c, "configmap-value", subpath_pod("configmap-key", "configmap", _CM, VOLUME_PATH))


@conformance(SP + "configmap pod with mountPath of existing file", basename="subpath", needs=NEEDS)
def configmap_existing_file(c: Ctx) -> None:
    _setup(c)
    f = "/etc/resolv.conf"
    basic_subpath(c, "configmap-value", subpath_pod("configmap-key", "configmap", _CM, f, f))


@conformance(SP + "subpaths with downward pod", basename="subpath", needs=NEEDS)
def downward(c: Ctx) -> None:
    _setup(c)
    source = {"downward_api": client.V1DownwardAPIVolumeSource(items=[client.V1DownwardAPIVolumeFile(
        path="downward/podname", field_ref=client.V1ObjectFieldSelector(
            api_version="v1", field_path="metadata.name"))])}
    pod = subpath_pod("downward/podname", "downwardAPI", source, VOLUME_PATH)
    basic_subpath(c, pod.metadata.name, pod)


@conformance(SP + "subpaths with projected pod", basename="subpath", needs=NEEDS)
def projected(c: Ctx) -> None:
    _setup(c)
    source = {"projected": client.V1ProjectedVolumeSource(sources=[client.V1VolumeProjection(
        config_map=client.V1ConfigMapProjection(name="my-configmap", items=[
            client.V1KeyToPath(path="projected/configmap-key", key="configmap-key")]))])}
    basic_subpath(c, "configmap-value", subpath_pod("projected/configmap-key", "projected", source,
                                                    VOLUME_PATH))
