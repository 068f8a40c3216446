"""Ports of the conformance tests of test/e2e/common/node/security_context.go (runAsUser,
readOnlyRootFilesystem=false, privileged=false, allowPrivilegeEscalation=false) and
test/e2e/node/security_context.go (runAsUser with runAsGroup, pod and container level).

upstream's `nonewprivs` image is a setuid-root program printing "Effective uid: N"; the
local busybox has no setuid program, so that port prints `id -u` in the same words and
checks the uid the container runs as (it cannot show that escalation was refused)."""

from __future__ import annotations

from kubernetes import client

from conformance.framework import Ctx, conformance, expect_container_output, wait_pod_success
from conformance.ports.node_common import BUSYBOX, NON_ROOT_TEST_UID, uid

SC = "Security Context › "
NEEDS = ("containers",)


def _user_pod(name: str, command: list[str], sc: client.V1SecurityContext) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name), spec=client.V1PodSpec(
        restart_policy="Never",
        containers=[client.V1Container(name=name, image=BUSYBOX, command=command, security_context=sc)]))


def _succeeds(c: Ctx, base: str, script: str, sc: client.V1SecurityContext) -> str:
    """A pod `base`-<uid> whose one container runs `script` under `sc` succeeds; its
    name (that of its container too)."""
    name = f"{base}-{uid()}"
    c.core.create_namespaced_pod(c.ns, _user_pod(name, ["sh", "-c", script], sc))
    wait_pod_success(c, name)
    return name


@conformance(SC + "run the container with uid 65534 [LinuxOnly]", basename="security-context-test",
             needs=NEEDS)
def uid_65534(c: Ctx) -> None:
    _succeeds(c, "busybox-user-65534", "test $(id -u) -eq 65534",
              client.V1SecurityContext(run_as_user=65534))


@conformance(SC + "writable rootfs when readOnlyRootFilesystem=false", basename="security-context-test",
             needs=NEEDS)
def writable_rootfs(c: Ctx) -> None:
    _succeeds(c, "busybox-readonly-false", "touch checkfile",
              client.V1SecurityContext(read_only_root_filesystem=False))


@conformance(SC + "run as unprivileged when privileged=false [LinuxOnly]",
             basename="security-context-test", needs=NEEDS)
def unprivileged(c: Ctx) -> None:
    name = _succeeds(c, "busybox-privileged-false", "ip link add dummy0 type dummy || true",
                     client.V1SecurityContext(privileged=False))
    logs = c.core.read_namespaced_pod_log(name, c.ns, container=name)
    assert "Operation not permitted" in logs, \
        f"unprivileged container shouldn't be able to create dummy device: {logs!r}"


@conformance(SC + "not allow privilege escalation when false [LinuxOnly]",
             basename="security-context-test", needs=NEEDS)
def no_privilege_escalation(c: Ctx) -> None:
    name = _succeeds(c, "alpine-nnp-false", 'echo "Effective uid: $(id -u)"',
                     client.V1SecurityContext(allow_privilege_escalation=False,
                                              run_as_user=NON_ROOT_TEST_UID))
    logs = c.core.read_namespaced_pod_log(name, c.ns, container=name)
    want = f"Effective uid: {NON_ROOT_TEST_UID}"
    assert want in logs, f"expected {want!r} in {logs!r}"


def _sc_test_pod() -> client.V1Pod:
    """test/e2e/node's scTestPod(false, false) running `id`."""
    name = f"security-context-{uid()}"
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"name": name}, annotations={}),
        spec=client.V1PodSpec(restart_policy="Never", security_context=client.V1PodSecurityContext(),
                              containers=[client.V1Container(name="test-container", image=BUSYBOX,
                                                             command=["sh", "-c", "id"])]))


@conformance(SC + "pod.Spec.SecurityContext.RunAsUser and RunAsGroup [LinuxOnly]",
             basename="security-context", needs=NEEDS)
def pod_run_as_user_group(c: Ctx) -> None:
    pod = _sc_test_pod()
    pod.spec.security_context.run_as_user, pod.spec.security_context.run_as_group = 1001, 2002
    expect_container_output(c, "pod.Spec.SecurityContext.RunAsUser", pod, 0, ["uid=1001", "gid=2002"])


@conformance(SC + "container.SecurityContext.RunAsUser and RunAsGroup [LinuxOnly]",
             basename="security-context", needs=NEEDS)
def container_run_as_user_group(c: Ctx) -> None:
    pod = _sc_test_pod()
    pod.spec.security_context.run_as_user, pod.spec.security_context.run_as_group = 1001, 2001
    pod.spec.containers[0].security_context = client.V1SecurityContext(run_as_user=1002, run_as_group=2002)
    expect_container_output(c, "pod.Spec.SecurityContext.RunAsUser", pod, 0, ["uid=1002", "gid=2002"])
