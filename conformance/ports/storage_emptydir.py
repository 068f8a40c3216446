"""Ports of the conformance tests of test/e2e/common/storage/empty_dir.go: the mode and
medium (node default or tmpfs) of an emptyDir volume and of the files made in it, as
root and as a non-root user, and one volume shared by two containers of a pod.

agnhost's mounttest becomes the busybox script of node_common.mounttest; the expected
lines are upstream's."""

from __future__ import annotations

from typing import Callable

from kubernetes import client

from conformance.framework import POD_START, Ctx, conformance, expect_container_output, poll
from conformance.ports.node_common import BUSYBOX, mounttest, uid

E = "EmptyDir volumes › "
VOLUME_PATH = "/test-volume"
FILE = f"{VOLUME_PATH}/test-file"
NON_ROOT_UID = 1001
NEEDS = ("containers",)
PERMS = {"0644": "-rw-r--r--", "0666": "-rw-rw-rw-", "0777": "-rwxrwxrwx"}


def _pod(uid_: int, medium: str, script: str) -> client.V1Pod:
    """upstream's testPodWithVolume: one container with the emptyDir at /test-volume,
    SELinux level s0, runAsUser when uid_ is not 0."""
    sc = client.V1PodSecurityContext(se_linux_options=client.V1SELinuxOptions(level="s0"),
                                     run_as_user=uid_ or None)
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"pod-{uid()}"),
        spec=client.V1PodSpec(
            restart_policy="Never", security_context=sc,
            volumes=[client.V1Volume(name="test-volume", empty_dir=client.V1EmptyDirVolumeSource(
                medium=medium or None))],
            containers=[client.V1Container(
                name="test-container", image=BUSYBOX, command=["/bin/sh", "-c", script],
                volume_mounts=[client.V1VolumeMount(name="test-volume", mount_path=VOLUME_PATH)])]))


def _medium_name(medium: str) -> str:
    return "tmpfs" if medium == "Memory" else "node default medium"


def _tmpfs_line(medium: str) -> list[str]:
    return [f'mount type of "{VOLUME_PATH}": tmpfs'] if medium == "Memory" else []


def do_test_volume_mode(c: Ctx, uid_: int, medium: str) -> None:
    pod = _pod(uid_, medium, mounttest(fs_type=VOLUME_PATH, file_perm=VOLUME_PATH))
    expect_container_output(c, f"emptydir volume type on {_medium_name(medium)}", pod, 0,
                            [f'perms of file "{VOLUME_PATH}": -rwxrwxrwx', *_tmpfs_line(medium)])


def do_test_file_mode(c: Ctx, uid_: int, medium: str, mode: str) -> None:
    """upstream's doTest0644 / doTest0666 / doTest0777."""
    script = mounttest(fs_type=VOLUME_PATH, file_perm=FILE, **{f"new_file_{mode}": FILE})
    expect_container_output(c, f"emptydir {mode} on {_medium_name(medium)}", _pod(uid_, medium, script), 0,
                            [f'perms of file "{FILE}": {PERMS[mode]}',
                             f'content of file "{FILE}": mount-tester new file', *_tmpfs_line(medium)])


def _register_modes() -> None:
    for who, uid_ in (("root", 0), ("non-root", NON_ROOT_UID)):
        for mode in PERMS:
            for medium, label in (("", "default"), ("Memory", "tmpfs")):
                def port(c: Ctx, uid_: int = uid_, medium: str = medium, mode: str = mode) -> None:
                    do_test_file_mode(c, uid_, medium, mode)
                conformance(f"{E}({who},{mode},{label}) [LinuxOnly]", basename="emptydir",
                            needs=NEEDS)(port)


_register_modes()


def _volume_mode(medium: str) -> Callable[[Ctx], None]:
    def port(c: Ctx) -> None:
        do_test_volume_mode(c, 0, medium)
    return port


conformance(E + "volume on tmpfs should have the correct mode [LinuxOnly]", basename="emptydir",
            needs=NEEDS)(_volume_mode("Memory"))
conformance(E + "volume on default medium should have the correct mode [LinuxOnly]",
            basename="emptydir", needs=NEEDS)(_volume_mode(""))


@conformance(E + "pod should support shared volumes between containers", basename="emptydir",
             needs=NEEDS)
def shared_volumes(c: Ctx) -> None:
    message = "Hello from the busy-box sub-container"
    main_path, sub_path = "/usr/share/volumeshare", "/pod-data"

    def ctr(name: str, path: str, arg: str) -> client.V1Container:
        return client.V1Container(name=name, image=BUSYBOX, command=["/bin/sh"], args=["-c", arg],
                                  volume_mounts=[client.V1VolumeMount(name="shared-data", mount_path=path)])
    name = f"pod-sharedvolume-{uid()}"
    c.core.create_namespaced_pod(c.ns, client.V1Pod(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1PodSpec(
            termination_grace_period_seconds=0, restart_policy="Never",
            volumes=[client.V1Volume(name="shared-data", empty_dir=client.V1EmptyDirVolumeSource())],
            containers=[ctr("busybox-main-container", main_path,
                            "trap exit TERM; while true; do sleep 1; done"),  # InfiniteSleepCommand
                        ctr("busybox-sub-container", sub_path,
                            f"echo {message} > {sub_path}/shareddata.txt")])))
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running", POD_START,
         f"pod {name} to be running", 2)
    # ExecShellInContainer: `sh -c CMD` in the container, stdout with whitespace trimmed
    out = c.kubectl("exec", "-n", c.ns, name, "-c", "busybox-main-container", "--",
                    "/bin/sh", "-c", f"cat {main_path}/shareddata.txt").stdout.strip()
    assert out == message, f"failed to match expected string {message!r} with {out!r}"


@conformance("EmptyDir wrapper volumes › should not conflict", basename="emptydir-wrapper",
             needs=NEEDS)
def wrapper_no_conflict(c: Ctx) -> None:
    """empty_dir_wrapper.go: a Secret and a ConfigMap volume in one running pod."""
    name = f"emptydir-wrapper-test-{uid()}"
    c.core.create_namespaced_secret(c.ns, client.V1Secret(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), data={"data-1": "dmFsdWUtMQo="}))
    c.core.create_namespaced_config_map(c.ns, client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, namespace=c.ns), binary_data={"data-1": "dmFsdWUtMQo="}))
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name=f"pod-secrets-{uid()}"), spec=client.V1PodSpec(
        volumes=[client.V1Volume(name="secret-volume", secret=client.V1SecretVolumeSource(secret_name=name)),
                 client.V1Volume(name="configmap-volume",
                                 config_map=client.V1ConfigMapVolumeSource(name=name))],
        containers=[client.V1Container(
            name="secret-test", image=BUSYBOX,  # agnhost test-webserver: busybox httpd
            command=["/bin/sh", "-c", "mkdir -p /www && exec httpd -f -p 80 -h /www"],
            volume_mounts=[client.V1VolumeMount(name="secret-volume", mount_path="/etc/secret-volume",
                                                read_only=True),
                           client.V1VolumeMount(name="configmap-volume",
                                                mount_path="/etc/configmap-volume")])]))
    c.core.create_namespaced_pod(c.ns, pod)
    poll(lambda: c.core.read_namespaced_pod(pod.metadata.name, c.ns).status.phase == "Running",
         POD_START, f"pod {pod.metadata.name} to be running", 2)
    c.core.delete_namespaced_secret(name, c.ns)
    c.core.delete_namespaced_config_map(name, c.ns)
    c.core.delete_namespaced_pod(pod.metadata.name, c.ns,
                                 body=client.V1DeleteOptions(grace_period_seconds=0))
