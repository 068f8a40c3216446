"""Ports of test/e2e/common/node/containers.go, runtime.go and kubelet.go: command and
args against the image's defaults, restart policies and exit status, termination
messages, container logs, /etc/hosts entries and a read-only root filesystem.

agnhost's entrypoint-tester prints its argv as "[arg0 arg1 ...]"; the ports make busybox
print the same with `sh -c 'echo "[$0 $*]"' ARG0 ARGS...`, so upstream's expected lines
are compared unchanged."""

from __future__ import annotations

import datetime
from typing import Any

from kubernetes import client

from conformance.framework import (
    POD_START,
    Ctx,
    conformance,
    expect_container_output,
    poll,
)
from conformance.ports.node_common import (
    BUSYBOX,
    ConformanceContainer,
    container_state,
    simple_pod,
    uid,
)

C = "Containers › "
R = "Container Runtime › "
K = "Kubelet › "
ARGV = 'echo "[$0 $*]"'  # entrypoint-tester's output


def _entrypoint_pod(command: list[str] | None, args: list[str] | None) -> client.V1Pod:
    """upstream's entrypointTestPod: restartPolicy Never, grace period 1."""
    ctr = client.V1Container(name="agnhost-container", image=BUSYBOX, command=command, args=args)
    return simple_pod(f"client-containers-{uid()}", [ctr], termination_grace_period_seconds=1)


@conformance(C + "use the image defaults if command and args are blank", basename="containers",
             needs=("containers",))
def image_defaults(c: Ctx) -> None:
    # agnhost's default is `pause` (prints "Paused" and runs on); busybox's default is
    # CMD ["sh"], which exits 0 at once without a terminal: the image's default ran when
    # the container terminated with exit code 0.
    pod = c.core.create_namespaced_pod(c.ns, _entrypoint_pod(None, None))

    def exited() -> Any:
        p = c.core.read_namespaced_pod(pod.metadata.name, c.ns)
        for s in p.status.container_statuses or []:
            if s.state.terminated is not None:
                return s.state.terminated
        return None
    term = poll(exited, POD_START, f"pod {pod.metadata.name} to run the image's default", 2)
    assert term.exit_code == 0, f"image default command exited {term.exit_code}: {term.reason}"


@conformance(C + "override the image's default arguments (container cmd)", basename="containers",
             needs=("containers",))
def override_args(c: Ctx) -> None:
    pod = _entrypoint_pod(None, ["/bin/sh", "-c", ARGV, "/agnhost", "entrypoint-tester",
                                 "override", "arguments"])
    expect_container_output(c, "override arguments", pod, 0,
                            ["[/agnhost entrypoint-tester override arguments]"])


@conformance(C + "override the image's default command (entrypoint)", basename="containers",
             needs=("containers",))
def override_command(c: Ctx) -> None:
    pod = _entrypoint_pod(["/bin/sh", "-c", ARGV, "/agnhost-2"], ["entrypoint-tester"])
    expect_container_output(c, "override command", pod, 0, ["[/agnhost-2 entrypoint-tester]"])


@conformance(C + "override the image's default command and arguments", basename="containers",
             needs=("containers",))
def override_all(c: Ctx) -> None:
    pod = _entrypoint_pod(["/bin/sh", "-c", ARGV, "/agnhost-2"],
                          ["entrypoint-tester", "override", "arguments"])
    expect_container_output(c, "override all", pod, 0,
                            ["[/agnhost-2 entrypoint-tester override arguments]"])


_RESTART_SCRIPT = """
f=%s
count=$(echo 'hello' >> $f ; wc -l $f | awk {'print $1'})
if [ $count -eq 1 ]; then
\texit 1
fi
if [ $count -eq 2 ]; then
\texit 0
fi
while true; do sleep 1; done
"""


@conformance(R + "container that exits should run with the expected status",
             basename="container-runtime", needs=("containers",))
def expected_status(c: Ctx) -> None:
    volumes = [client.V1Volume(name="restart-count",
                               empty_dir=client.V1EmptyDirVolumeSource(medium="Memory"))]
    cases = [("terminate-cmd-rpa", "Always", "Running", "Running", 2, True),
             ("terminate-cmd-rpof", "OnFailure", "Succeeded", "Terminated", 1, False),
             ("terminate-cmd-rpn", "Never", "Failed", "Terminated", 0, False)]
    for name, policy, phase, state, restarts, ready in cases:
        ctr = client.V1Container(
            name=name, image=BUSYBOX, command=["sh", "-c", _RESTART_SCRIPT % "/restart-count/restartCount"],
            volume_mounts=[client.V1VolumeMount(name="restart-count", mount_path="/restart-count")])
        cc = ConformanceContainer(c, ctr, policy, volumes)
        cc.create()
        cc.eventually(lambda cc=cc: cc.status().restart_count, restarts, f"{name}: restartCount")
        cc.eventually(cc.phase, phase, f"{name}: phase")
        assert cc.is_ready() == ready, f"{name}: Ready should be {ready}"
        got = container_state(cc.status().state)
        assert got == state, f"{name}: state {got}, want {state}"
        cc.delete()
        cc.eventually(cc.present, False, f"{name}: pod to be gone")


def _termination_message(c: Ctx, ctr: client.V1Container, phase: str, want: str) -> None:
    """upstream's matchTerminationMessage."""
    ctr.name = "termination-message-container"
    cc = ConformanceContainer(c, ctr, "Never")
    cc.create()
    cc.eventually(cc.phase, phase, f"the container to reach {phase}")
    status = cc.status()
    assert container_state(status.state) == "Terminated", status.state
    got = status.state.terminated.message or ""
    assert got == want, f"termination message {got!r}, want {want!r}"
    cc.delete()


def _sh(script: str, **kw: Any) -> client.V1Container:
    return client.V1Container(name="", image=BUSYBOX, command=["/bin/sh", "-c"], args=[script], **kw)


_FALLBACK = {"termination_message_path": "/dev/termination-log",
             "termination_message_policy": "FallbackToLogsOnError"}
# upstream's termination message tests: (name, script, container fields, phase, message)
_TERMINATION: tuple[tuple[str, str, dict[str, Any], str, str], ...] = (
    ("termination message with non-root user and non-default path",
     "/bin/echo -n DONE > /dev/termination-custom-log",
     {"termination_message_path": "/dev/termination-custom-log",
      "security_context": client.V1SecurityContext(run_as_user=10000)}, "Succeeded", "DONE"),
    ("termination message from log output if FallbackToLogsOnError",
     "/bin/echo -n DONE; /bin/false", _FALLBACK, "Failed", "DONE"),
    ("termination message empty when pod succeeds with FallbackToLogsOnError",
     "/bin/echo -n DONE; /bin/true", _FALLBACK, "Succeeded", ""),
    ("termination message from file when pod succeeds with FallbackToLogsOnError",
     "/bin/echo -n OK > /dev/termination-log; /bin/echo DONE; /bin/true", _FALLBACK,
     "Succeeded", "OK"),
)
for _name, _script, _fields, _phase, _want in _TERMINATION:
    conformance(R + _name, basename="container-runtime", needs=("containers",))(
        lambda c, s=_script, f=_fields, p=_phase, w=_want: _termination_message(
            c, _sh(s, **f), p, w))


# -- kubelet.go -------------------------------------------------------------------------
def _running(c: Ctx, name: str) -> None:
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running",
         POD_START, f"pod {name} to be running", 2)


def _logs_become(c: Ctx, name: str, want: str, **opts: Any) -> None:
    """gomega.Eventually(logs, time.Minute, 4s).Should(Equal(want))."""
    last: list[str] = [""]

    def got() -> bool:
        try:
            last[0] = c.core.read_namespaced_pod_log(name, c.ns, **opts)
        except client.ApiException:
            last[0] = ""
        return last[0] == want
    try:
        poll(got, 60, f"logs of {name}", 4)
    except AssertionError as e:
        raise AssertionError(f"{e}: want {want!r}, got {last[0]!r}") from None


@conformance(K + "busybox command in a pod should print the output to logs",
             basename="kubelet-test", needs=("containers",))
def prints_logs(c: Ctx) -> None:
    name = f"busybox-scheduling-{uid()}"
    c.core.create_namespaced_pod(c.ns, simple_pod(name, [client.V1Container(
        name=name, image=BUSYBOX, command=["sh", "-c", "echo 'Hello World' ; sleep 240"])]))
    _running(c, name)
    # the client's since_seconds stands in for sinceTime an hour ago (same window)
    since = datetime.timedelta(hours=1)
    _logs_become(c, name, "Hello World\n", since_seconds=int(since.total_seconds()))


def _bin_false(c: Ctx) -> str:
    name = f"bin-false{uid()}"
    c.core.create_namespaced_pod(c.ns, simple_pod(name, [client.V1Container(
        name=name, image=BUSYBOX, command=["/bin/false"])]))
    return name


@conformance(K + "always-failing command pod should have a terminated reason",
             basename="kubelet-test", needs=("containers",))
def terminated_reason(c: Ctx) -> None:
    name = _bin_false(c)
    last: list[str] = [""]

    def ok() -> bool:
        st = c.core.read_namespaced_pod(name, c.ns).status
        if len(st.container_statuses or []) != 1:
            last[0] = f"expected only one container in the pod {name}"
            return False
        term = st.container_statuses[0].state.terminated
        if term is None:
            last[0] = f"expected state to be terminated, got {st.container_statuses[0].state}"
            return False
        last[0] = f"exitCode {term.exit_code}, reason {term.reason!r}"
        return bool(term.exit_code != 0 and term.reason)
    try:
        poll(ok, POD_START, "a non-zero exit code and a terminated reason", 4)
    except AssertionError as e:
        raise AssertionError(f"{e}: {last[0]}") from None


@conformance(K + "always-failing command pod should be possible to delete",
             basename="kubelet-test", needs=("containers",))
def failing_pod_deleted(c: Ctx) -> None:
    name = _bin_false(c)
    c.core.delete_namespaced_pod(name, c.ns)


@conformance(K + "Pod with hostAliases should write entries to /etc/hosts",
             basename="kubelet-test", needs=("containers",))
def host_aliases(c: Ctx) -> None:
    name = f"agnhost-host-aliases{uid()}"
    # agnhost etc-hosts prints /etc/hosts
    pod = simple_pod(name, [client.V1Container(name="agnhost-container", image=BUSYBOX,
                                               command=["cat", "/etc/hosts"])],
                     host_aliases=[client.V1HostAlias(ip="123.45.67.89", hostnames=["foo", "bar"])])
    c.core.create_namespaced_pod(c.ns, pod)
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase in ("Succeeded", "Failed"),
         POD_START, f"pod {name} to complete", 2)
    hosts = c.core.read_namespaced_pod_log(name, c.ns)
    assert "123.45.67.89\tfoo\tbar" in hosts, \
        f"expected hosts file to contain entries from HostAliases. Got:\n{hosts}"


@conformance(K + "read only busybox container should not write to root filesystem [LinuxOnly]",
             basename="kubelet-test", needs=("containers",))
def read_only_rootfs(c: Ctx) -> None:
    name = f"busybox-readonly-fs{uid()}"
    c.core.create_namespaced_pod(c.ns, simple_pod(name, [client.V1Container(
        name=name, image=BUSYBOX, command=["/bin/sh", "-c", "echo test > /file; sleep 240"],
        security_context=client.V1SecurityContext(read_only_root_filesystem=True))]))
    _running(c, name)
    _logs_become(c, name, "/bin/sh: can't create /file: Read-only file system\n")
