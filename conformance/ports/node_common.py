"""Helpers shared by the sig-node / sig-storage pod ports: the local images, pod makers,
upstream's ConformanceContainer and its timeouts, and mounttest's output in busybox sh.

Upstream's tests run agnhost (mounttest, entrypoint-tester, ...) and a pinned busybox;
kapi's Docker nodes have only the local `busybox:latest` (runtime/kubelet/images.py), so
a port runs busybox with a shell command that prints the very lines agnhost would print,
and compares them with upstream's expected lines unchanged.
"""

from __future__ import annotations

import re
import shlex
import uuid
from typing import Any

from kubernetes import client

from conformance.framework import POD_START, Ctx, is_not_found, poll

BUSYBOX = "busybox:latest"        # stands in for imageutils BusyBox and agnhost
STATUS_TIMEOUT = 300              # ContainerStatusRetryTimeout
STATUS_POLL = 1                   # ContainerStatusPollInterval


def uid() -> str:
    return str(uuid.uuid4())


def sh_container(name: str, script: str, **kw: Any) -> client.V1Container:
    return client.V1Container(name=name, image=BUSYBOX, command=["/bin/sh", "-c", script], **kw)


def simple_pod(name: str, containers: list[client.V1Container], *,
               restart: str = "Never", **spec: Any) -> client.V1Pod:
    return client.V1Pod(metadata=client.V1ObjectMeta(name=name),
                        spec=client.V1PodSpec(containers=containers, restart_policy=restart,
                                              **spec))


class ConformanceContainer:
    """upstream's ConformanceContainer: one container in a pod of its own."""

    def __init__(self, c: Ctx, container: client.V1Container, restart: str,
                 volumes: list[client.V1Volume] | None = None) -> None:
        self.c, self.container, self.restart, self.volumes = c, container, restart, volumes
        self.name = uid()

    def create(self) -> None:
        self.c.core.create_namespaced_pod(self.c.ns, client.V1Pod(
            metadata=client.V1ObjectMeta(name=self.name),
            spec=client.V1PodSpec(restart_policy=self.restart, containers=[self.container],
                                  volumes=self.volumes)))

    def pod(self) -> Any:
        return self.c.core.read_namespaced_pod(self.name, self.c.ns)

    def status(self) -> Any:
        statuses = self.pod().status.container_statuses or []
        assert len(statuses) == 1, f"expected 1 container status, got {len(statuses)}"
        return statuses[0]

    def phase(self) -> str:
        return str(self.pod().status.phase)

    def is_ready(self) -> bool:
        return any(cd.type == "Ready" and cd.status == "True"
                   for cd in self.pod().status.conditions or [])

    def delete(self) -> None:
        self.c.core.delete_namespaced_pod(self.name, self.c.ns,
                                          body=client.V1DeleteOptions(grace_period_seconds=0))

    def present(self) -> bool:
        return not is_not_found(self.pod)

    def eventually(self, get: Any, want: Any, what: str) -> None:
        """gomega.Eventually(get, ContainerStatusRetryTimeout, poll).Should(Equal(want))."""
        last: list[Any] = []

        def ok() -> bool:
            try:
                last[:] = [get()]
            except AssertionError as e:
                last[:] = [e]
            return bool(last[0] == want)
        try:
            poll(ok, STATUS_TIMEOUT, what, STATUS_POLL)
        except AssertionError as e:
            raise AssertionError(f"{e}: want {want!r}, last {last[0] if last else None!r}") from None


def container_state(state: Any) -> str:
    """upstream's GetContainerState."""
    if state.waiting is not None:
        return "Waiting"
    if state.running is not None:
        return "Running"
    if state.terminated is not None:
        return "Terminated"
    return "Unknown"


# -- agnhost mounttest, as busybox sh ---------------------------------------------------
# gomode PATH prints Go's os.FileMode.String() of the file: type and special-bit letters
# ("d", "p", "S", "u", "g", "t", in Go's order; "-" when none) before nine rwx bits, e.g.
# "-rw-r--r--", "drwxrwxrwx", "dtrwxrwxrwx". gomode PATH perm prints Mode().Perm().
_GO_MODE = r"""gomode() {
  a=$(stat -L -c %A "$1"); m=$((0$(stat -L -c %a "$1"))); t=""
  case "$a" in d*) t="d";; p*) t="p";; s*) t="S";; esac
  [ $((m & 2048)) -ne 0 ] && t="${t}u"; [ $((m & 1024)) -ne 0 ] && t="${t}g"
  [ $((m & 512)) -ne 0 ] && t="${t}t"
  [ "$2" = perm ] && t=""
  echo "${t:--}$(echo "$a" | cut -c2-10 | sed "s/[st]/x/g; s/[ST]/-/g")"
}
umask 0
rc=0
newfile() {
  if printf 'mount-tester new file\n' > "$1" && chmod "$2" "$1"; then
    echo "content of file \"$1\": $(cat "$1")"
  else echo "error writing new file \"$1\""; rc=1; fi
}
"""


def mounttest(*, fs_type: str = "", file_perm: str = "", file_content: str = "",
              new_file_0644: str = "", new_file_0666: str = "", new_file_0660: str = "",
              new_file_0777: str = "", file_mode: str = "", file_owner: str = "",
              file_content_in_loop: str = "", retry_time: int = 180) -> str:
    """A sh script printing what `agnhost mounttest --<flag>=<path> ...` prints, in
    mounttest's order (fs type, new files, mode, perms, owner, content), exiting 1 if a
    step failed. Paths are quoted as Go's %q quotes plain paths. file_content_in_loop
    reads the file every 2 s for retry_time seconds (the content conformance tests expect
    is never mounttest's own, so breaking on it never happens) and fails if the last read
    failed."""
    out = [_GO_MODE]
    if fs_type:
        out.append(f'if t=$(stat -f -c %T {shlex.quote(fs_type)}); then '
                   f'echo "mount type of \\"{fs_type}\\": $t"; else rc=1; fi')
    for mode, path in (("0644", new_file_0644), ("0666", new_file_0666),
                       ("0660", new_file_0660), ("0777", new_file_0777)):
        if path:
            out.append(f"newfile {shlex.quote(path)} {mode}")
    for flag, path, what in (("mode of file", file_mode, "gomode {q}"),
                             ("perms of file", file_perm, "gomode {q} perm")):
        if path:
            cmd = what.format(q=shlex.quote(path))
            out.append(f'[ -e {shlex.quote(path)} ] && echo "{flag} \\"{path}\\": $({cmd})" || rc=1')
    if file_owner:
        q = shlex.quote(file_owner)
        out.append(f'echo "owner UID of \\"{file_owner}\\": $(stat -L -c %u {q})"')
        out.append(f'echo "owner GID of \\"{file_owner}\\": $(stat -L -c %g {q})"')
    if file_content:
        q = shlex.quote(file_content)
        out.append(f'if [ -r {q} ]; then echo "content of file \\"{file_content}\\": $(cat {q})"; '
                   f'else echo "error reading file content for \\"{file_content}\\""; rc=1; fi')
    if file_content_in_loop:
        f, q = file_content_in_loop, shlex.quote(file_content_in_loop)
        out.append(f"end=$(( $(date +%s) + {int(retry_time)} ))")
        out.append(f'while [ "$(date +%s)" -lt "$end" ]; do\n'
                   f'  if c=$(cat {q} 2>/dev/null); then echo "content of file \\"{f}\\": $c"; rc=0\n'
                   f'  else echo "Error reading file {f}: no such file or directory, retrying"; rc=1; fi\n'
                   f'  sleep 2\ndone')
    out.append("exit $rc")
    return "\n".join(out)


# -- pods that run mounttest against a volume -------------------------------------------
NON_ROOT_TEST_UID = 1000          # setPodNonRootUser
SECRET_UPDATE_TIMEOUT = 300       # e2epod.GetPodSecretUpdateTimeout: 240 s + the secret TTL


def mounttest_pod(prefix: str, volumes: list[client.V1Volume], mounts: list[client.V1VolumeMount],
                  script: str, cname: str = "agnhost-container") -> client.V1Pod:
    """upstream's NewAgnhostPod(..., "mounttest", ...): restartPolicy Never, an empty pod
    security context, busybox running the mounttest script."""
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=f"{prefix}-{uid()}"),
        spec=client.V1PodSpec(
            restart_policy="Never", volumes=volumes,
            security_context=client.V1PodSecurityContext(),
            containers=[client.V1Container(name=cname, image=BUSYBOX, command=["/bin/sh", "-c", script],
                                           volume_mounts=mounts)]))


def set_non_root(pod: client.V1Pod) -> None:
    pod.spec.security_context.run_as_user = NON_ROOT_TEST_UID


def go_mode(mode: int) -> str:
    """os.FileMode(mode).String() for permission bits."""
    return "-" + "".join(ch if mode & (1 << (8 - i)) else "-" for i, ch in enumerate("rwxrwxrwx"))


def file_mode_regex(path: str, mask: int | None) -> str:
    """upstream's getFileModeRegex: the mode line on Linux or on Windows."""
    linux = go_mode(0o644 if mask is None else mask)
    windows = go_mode(0o775 if mask is None else mask)
    return (f'(mode of file "{re.escape(path)}": {re.escape(linux)}|'
            f'mode of Windows file "{re.escape(path)}": {re.escape(windows)})')


def logs_eventually(c: Ctx, pod: str, container: str, want: str,
                    timeout: float = SECRET_UPDATE_TIMEOUT) -> None:
    """gomega.Eventually(pollLogs, timeout, framework.Poll).Should(ContainSubstring(want))."""
    last = [""]

    def has() -> bool:
        try:
            last[0] = c.core.read_namespaced_pod_log(pod, c.ns, container=container)
        except client.ApiException:
            return False
        return want in last[0]
    try:
        poll(has, timeout, f"{want!r} in the log of {pod}/{container}", 2)
    except AssertionError as e:
        raise AssertionError(f"{e}; last log: {last[0][-500:]!r}") from None


def create_sync(c: Ctx, pod: client.V1Pod) -> Any:
    """upstream's PodClient.CreateSync."""
    c.core.create_namespaced_pod(c.ns, pod)
    name = pod.metadata.name
    poll(lambda: c.core.read_namespaced_pod(name, c.ns).status.phase == "Running", POD_START,
         f"pod {name} to be running", 2)
    return c.core.read_namespaced_pod(name, c.ns)
