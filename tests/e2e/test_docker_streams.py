"""Streams through the API server to real containers: `kubectl exec` (plain, -i, -it with
a pty and a resize), `attach`, `cp` both ways and `port-forward`, with kubectl 1.27 (SPDY),
1.30 (WebSocket v5 exec, SPDY port-forward) and 1.33 (WebSocket v5, SPDY tunnelled in a
WebSocket for port-forward), and the official Python client's `stream()` (v4/v5
channels) and `portforward()`. A pod on a simulated node, a missing pod and a missing
container get a clear Status on every path. Each exec is in the audit log, from its start
(101) to its end. Traffic goes only to 127.0.0.1 and the pods.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import socket
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from kubernetes import client as k8s
from kubernetes.stream import portforward, stream

from tests import dockerenv
from tests.conftest import Kubectl, Server, kubectl_or_skip
from tests.dockerenv import docker_cluster
from tests.helpers import api_fixture, namespace, wait_for

engine = dockerenv.engine  # the module-scoped Docker engine fixture

Obj = dict[str, Any]
VERSIONS = ("1.27", "1.30", "1.33")
NODE, SIM_NODE = "kapi-node-1", "kapi-sim-0"


@pytest.fixture(scope="module")
def scluster(engine: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """API server, controllers, scheduler, one Docker-backed and one simulated node."""
    d = tmp_path_factory.mktemp("streams")
    with docker_cluster(engine, d, "--nodes", "1", "--simulated-nodes", "1", "--node-cpu", "2",
                        "--node-memory", "4Gi", "--audit-log-path", str(d / "audit.log"),
                        nodes={NODE, SIM_NODE}) as s:
        yield s


sapi = api_fixture("scluster")


@pytest.fixture(scope="module")
def sns(sapi: k8s.ApiClient) -> Iterator[str]:
    """One namespace for the module, with the pods every test shares."""
    names = namespace(sapi, "streams")
    name = next(names)
    core = k8s.CoreV1Api(sapi)
    core.create_namespaced_pod(name, pod("shell", sh("sleep 3600")))
    core.create_namespaced_pod(name, pod("web", sh(
        "mkdir /www; echo hello-from-pod > /www/index.html; exec httpd -f -p 8080 -h /www")))
    core.create_namespaced_pod(name, pod("sim", sh("sleep 3600"), node=SIM_NODE))
    for p in ("shell", "web", "sim"):
        wait_for(lambda p=p: core.read_namespaced_pod(p, name).status.phase == "Running",
                 f"pod {p} to run", timeout=60)
    yield name
    next(names, None)  # the namespace goes


@pytest.fixture(params=VERSIONS)
def kctl(request: pytest.FixtureRequest, scluster: Server) -> Kubectl:
    return kubectl_or_skip(request.param, scluster.kubeconfig)


def sh(script: str, **more: Any) -> Obj:
    return {"name": "c", "image": "busybox", "command": ["sh", "-c", script], **more}


def pod(name: str, container: Obj, node: str = NODE, policy: str = "Always") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "restartPolicy": policy,
                     "terminationGracePeriodSeconds": 1, "containers": [container]}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- exec ---------------------------------------------------------------------------------
def test_exec_streams_stdout_stderr_and_the_exit_code(kctl: Kubectl, sns: str) -> None:
    p = kctl.run("exec", "-n", sns, "shell", "--", "sh", "-c",
                 "echo to-out; echo to-err >&2; exit 3", check=False)
    assert p.stdout == "to-out\n"
    assert "to-err\n" in p.stderr and "command terminated with exit code 3" in p.stderr
    assert p.returncode == 3
    assert kctl("exec", "-n", sns, "shell", "-c", "c", "--", "echo", "fine") == "fine\n"


def test_an_exec_is_audited_from_start_to_end(kctl: Kubectl, sns: str,
                                              scluster: Server) -> None:
    import json

    kctl("exec", "-n", sns, "shell", "--", "echo", "audited")
    log = scluster.data_dir / "audit.log"

    def ended() -> list[Obj] | None:  # the last line is written as the stream closes
        lines = [json.loads(x) for x in log.read_text().splitlines()]
        mine = [x for x in lines if x.get("objectRef", {}).get("subresource") == "exec"
                and x["objectRef"].get("namespace") == sns]
        last = [x for x in mine if x["auditID"] == mine[-1]["auditID"]] if mine else []
        return last if last and last[-1]["stage"] == "ResponseComplete" else None
    last = wait_for(ended, "the exec's ResponseComplete", timeout=10)
    assert [x["stage"] for x in last] == ["RequestReceived", "ResponseStarted",
                                          "ResponseComplete"]
    assert {x["responseStatus"]["code"] for x in last[1:]} == {101}
    # kubectl 1.27 execs with a SPDY POST (create), later ones with a WebSocket GET
    assert last[0]["verb"] == ("create" if kctl.version == "1.27" else "get")
    assert last[0]["user"]["username"] == "kubernetes-admin"


def test_exec_with_stdin(kctl: Kubectl, sns: str) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))  # 17 kB, several frames
    out = kctl("exec", "-i", "-n", sns, "shell", "--", "sh", "-c", "wc -l; echo end",
               input=text)
    assert out.split() == ["2000", "end"]


def _pty_session(kctl: Kubectl, args: list[str], steps: list[tuple[bytes, Any]],
                 rows: int, cols: int) -> tuple[bytes, int]:
    """Run kubectl on a pty of the given size; each step waits for a text in the output,
    then types bytes or resizes the pty (rows, cols); (output, exit code)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on the pty
        env = dict(os.environ, KUBECONFIG=str(kctl.kubeconfig))
        os.execve(str(kctl.binary), [str(kctl.binary), *args], env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    out, deadline = b"", time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                break  # the child closed the pty: it is done
            if not data:
                break
            out += data
        if steps and steps[0][0] in out:
            _, action = steps.pop(0)
            if isinstance(action, bytes):
                os.write(fd, action)
            else:  # a new size: the kernel signals kubectl (SIGWINCH), which sends it on
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", *action, 0, 0))
    else:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return out, os.waitstatus_to_exitcode(status)


def test_exec_with_a_terminal_follows_its_size(kctl: Kubectl, sns: str) -> None:
    out, rc = _pty_session(kctl, ["exec", "-it", "-n", sns, "shell", "--", "sh"], [
        (b"# ", b"stty size; tty\n"), (b"33 101", (40, 120)),
        # the new size travels asynchronously: the shell polls for it (bounded)
        (b"/dev/pts/", b"for i in $(seq 30); do [ \"$(stty size)\" = \"40 120\" ] && break;"
                       b" sleep 0.2; done; stty size; exit 7\n")], 33, 101)
    assert b"33 101" in out and b"/dev/pts/" in out
    assert b"\n40 120\r\n" in out  # stty's answer, not the echo of the typed test
    assert b"command terminated with exit code 7" in out
    assert rc == 7


def test_attach_to_a_container_reading_stdin(kctl: Kubectl, sapi: k8s.ApiClient,
                                             sns: str) -> None:
    name = f"att-{kctl.version.replace('.', '')}"
    core = k8s.CoreV1Api(sapi)
    core.create_namespaced_pod(sns, pod(name, sh("read l; echo got-$l; echo bye >&2",
                                                 stdin=True), policy="Never"))
    wait_for(lambda: core.read_namespaced_pod(name, sns).status.phase == "Running",
             "the pod to run", timeout=60)
    p = kctl.run("attach", "-i", "-n", sns, name, input="hello\n")
    assert p.stdout == "got-hello\n"
    assert "bye" in p.stderr


def test_cp_both_ways(kctl: Kubectl, sns: str, tmp_path: Path) -> None:
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(200_000))
    remote = f"/tmp/up-{kctl.version}.bin"
    kctl("cp", "-n", sns, str(src), f"shell:{remote}")
    size = kctl("exec", "-n", sns, "shell", "--", "sh", "-c", f"wc -c < {remote}")
    assert size.strip() == "200000"
    back = tmp_path / "down.bin"
    kctl("cp", "-n", sns, f"shell:{remote}", str(back))
    assert back.read_bytes() == src.read_bytes()


# -- port-forward -------------------------------------------------------------------------
def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


def test_port_forward_round_trips(kctl: Kubectl, sns: str) -> None:
    local = free_port()
    env = dict(os.environ, KUBECONFIG=str(kctl.kubeconfig))
    proc = subprocess.Popen([str(kctl.binary), "port-forward", "-n", sns, "pod/web",
                             f"{local}:8080"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert "Forwarding from 127.0.0.1" in proc.stdout.readline()
        for _ in range(3):  # each connection is its own pair of streams
            assert _get(local).endswith(b"hello-from-pod\n")
    finally:
        proc.terminate()  # our own kubectl, by its PID
        proc.wait(timeout=10)


# -- the Python client --------------------------------------------------------------------
def test_python_client_exec_and_port_forward(sapi: k8s.ApiClient, sns: str) -> None:
    core = k8s.CoreV1Api(sapi)
    out = stream(core.connect_get_namespaced_pod_exec, "shell", sns,
                 command=["sh", "-c", "echo py-out; echo py-err >&2"], stderr=True,
                 stdin=False, stdout=True, tty=False)
    assert sorted(out.splitlines()) == ["py-err", "py-out"]  # two pipes: either order
    ws = stream(core.connect_get_namespaced_pod_exec, "shell", sns,
                command=["sh", "-c", "read x; echo got-$x; exit 5"], stderr=True,
                stdin=True, stdout=True, tty=False, _preload_content=False)
    ws.write_stdin("abc\n")
    ws.run_forever(timeout=20)
    assert ws.read_stdout() == "got-abc\n"
    assert ws.returncode == 5
    pf = portforward(core.connect_get_namespaced_pod_portforward, "web", sns, ports="8080")
    s = pf.socket(8080)
    s.setblocking(True)
    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := s.recv(4096):
        data += chunk
    s.close()
    assert data.endswith(b"hello-from-pod\n")
    assert pf.error(8080) is None


# -- refusals -----------------------------------------------------------------------------
def test_refusals_are_clear_statuses_on_every_path(kctl: Kubectl, sns: str) -> None:
    sim = kctl.run("exec", "-n", sns, "sim", "--", "true", check=False, timeout=30)
    assert sim.returncode == 1
    assert "Error from server (BadRequest)" in sim.stderr
    assert f'simulated node "{SIM_NODE}"' in sim.stderr
    missing = kctl.run("exec", "-n", sns, "nosuch", "--", "true", check=False, timeout=30)
    assert 'Error from server (NotFound): pods "nosuch" not found' in missing.stderr
    container = kctl.run("exec", "-n", sns, "shell", "-c", "nope", "--", "true",
                         check=False, timeout=30)
    assert "container nope is not valid for pod shell" in container.stderr
    attach = kctl.run("attach", "-n", sns, "sim", check=False, timeout=30)
    assert attach.returncode == 1 and "simulated node" in attach.stderr
    forward = kctl.run("port-forward", "-n", sns, "pod/sim", f"{free_port()}:80",
                       check=False, timeout=30)
    assert forward.returncode == 1 and "simulated node" in forward.stderr


def test_python_client_refusal_is_a_status(sapi: k8s.ApiClient, sns: str) -> None:
    core = k8s.CoreV1Api(sapi)
    with pytest.raises(k8s.ApiException) as e:
        stream(core.connect_get_namespaced_pod_exec, "nosuch", sns, command=["true"],
               stderr=True, stdin=False, stdout=True, tty=False)
    # the client reports a refused handshake with status 0 and the response in `reason`
    assert "404" in str(e.value.reason)
    assert 'pods \\"nosuch\\" not found' in str(e.value.reason) or \
        'pods "nosuch" not found' in str(e.value.reason), e.value.reason
