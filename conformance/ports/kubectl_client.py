"""Ports of test/e2e/kubectl/kubectl.go's conformance tests that need no
ReplicationController: api-versions, cluster-info, version, diff, label, replace, run,
server-side dry-run and `kubectl proxy`.

Upstream runs httpd, busybox and pause images; this port uses the images every kapi node
has (kapi/pause:latest stands in for httpd, as a container that keeps running, and
busybox:latest for busybox), so the tests also pass where nodes run real containers.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import Any

from conformance.framework import Ctx, conformance, poll

HTTPD = "kapi/pause:latest"  # a long-running image in upstream's httpd role
BUSYBOX = "busybox:latest"
POD_RUNNING_TIMEOUT = "--pod-running-timeout=2m0s"
POD_START = 300  # framework.PodStartTimeout
HTTPD_POD = "e2e-test-httpd-pod"


def _running_pods(c: Ctx, selector: str) -> list[Any] | None:
    pods = c.core.list_namespaced_pod(c.ns, label_selector=selector).items
    return pods if pods and all(p.status.phase == "Running" for p in pods) else None


def _image(c: Ctx, name: str) -> str:
    return str(c.core.read_namespaced_pod(name, c.ns).spec.containers[0].image)


@conformance("[sig-cli] Kubectl client Kubectl api-versions should check if v1 is in available "
             "api versions [Conformance]", basename="kubectl")
def api_versions(c: Ctx) -> None:
    assert "v1" in c.kubectl("api-versions").stdout, "No v1 in kubectl api-versions"


@conformance("[sig-cli] Kubectl client Kubectl cluster-info should check if Kubernetes control "
             "plane services is included in cluster-info [Conformance]", basename="kubectl")
def cluster_info(c: Ctx) -> None:
    out = c.kubectl("cluster-info").stdout
    for item in ("Kubernetes control plane", "is running at"):
        assert item in out, f"Missing {item} in kubectl cluster-info"


@conformance("[sig-cli] Kubectl client Kubectl version should check is all data is printed "
             "[Conformance]", basename="kubectl")
def version(c: Ctx) -> None:
    out = c.kubectl("version").stdout
    for item in ("Client Version: ", "Server Version: "):
        old = re.search(item + r'version.Info\{Major:"\d", Minor:"\d+\+?", '
                        r'GitVersion:"v\d\.\d+\.[\d\w\-\.\+]+", GitCommit:"[0-9a-f]+"', out)
        new = re.search(item + r"v\d\.\d+\.[\d\w\-\.\+]+", out)
        assert old or new, f"Item {item} value is not valid in {out}"


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpd-deployment
spec:
  selector:
    matchLabels:
      app: httpd
  template:
    metadata:
      labels:
        app: httpd
    spec:
      containers:
      - name: httpd
        image: IMAGE
        ports:
        - containerPort: 80
"""


@conformance("[sig-cli] Kubectl client Kubectl diff should check if kubectl diff finds a "
             "difference for Deployments [Conformance]", basename="kubectl")
def diff(c: Ctx) -> None:
    live = DEPLOYMENT.replace("IMAGE", HTTPD)
    c.kubectl("create", "-n", c.ns, "-f", "-", input=live)
    declared = live.replace(HTTPD, BUSYBOX, 1)
    p = c.kubectl("diff", "-n", c.ns, "-f", "-", input=declared, check=False)
    for item in (HTTPD, BUSYBOX):
        assert item in p.stdout, f"Missing {item} in kubectl diff output:\n{p.stdout}\n{p.stderr}"
    c.kubectl("delete", "-n", c.ns, "-f", "-", input=declared)


PAUSE_POD = """apiVersion: v1
kind: Pod
metadata:
  name: pause
  labels:
    name: pause
spec:
  containers:
  - name: pause
    image: kapi/pause:latest
"""


@conformance("[sig-cli] Kubectl client Kubectl label should update the label on a resource "
             "[Conformance]", basename="kubectl")
def label(c: Ctx) -> None:
    c.kubectl("create", "-n", c.ns, "-f", "-", input=PAUSE_POD)
    poll(lambda: _ready(c, "pause"), POD_START, "pod pause ready", 1)
    name, value = "testing-label", "testing-label-value"
    c.kubectl("label", "-n", c.ns, "pods", "pause", f"{name}={value}")
    out = c.kubectl("get", "-n", c.ns, "pod", "pause", "-L", name).stdout
    assert value in out, f"Failed updating label {name} to the pod pause"
    c.kubectl("label", "-n", c.ns, "pods", "pause", f"{name}-")
    out = c.kubectl("get", "-n", c.ns, "pod", "pause", "-L", name).stdout
    assert value not in out, f"Failed removing label {name} of the pod pause"
    c.kubectl("delete", "-n", c.ns, "--grace-period=0", "--force", "-f", "-", input=PAUSE_POD)


def _ready(c: Ctx, name: str) -> bool:
    conds = c.core.read_namespaced_pod(name, c.ns).status.conditions or []
    return any(x.type == "Ready" and x.status == "True" for x in conds)


@conformance("[sig-cli] Kubectl client Kubectl replace should update a single-container pod's "
             "image [Conformance]", basename="kubectl")
def replace(c: Ctx) -> None:
    c.kubectl("run", "-n", c.ns, HTTPD_POD, f"--image={HTTPD}", POD_RUNNING_TIMEOUT,
              f"--labels=run={HTTPD_POD}")
    poll(lambda: _running_pods(c, f"run={HTTPD_POD}"), POD_START, f"pod {HTTPD_POD} running", 1)
    pod_json = c.kubectl("get", "-n", c.ns, "pod", HTTPD_POD, "-o", "json").stdout
    assert HTTPD_POD in pod_json, f"Failed to find pod {HTTPD_POD} in [{pod_json}]"
    c.kubectl("replace", "-n", c.ns, "-f", "-", input=pod_json.replace(HTTPD, BUSYBOX, 1))
    assert _image(c, HTTPD_POD) == BUSYBOX, f"Failed creating pod with expected image {BUSYBOX}"
    c.kubectl("delete", "-n", c.ns, "pods", HTTPD_POD)


@conformance("[sig-cli] Kubectl client Kubectl run pod should create a pod from an image when "
             "restart is Never [Conformance]", basename="kubectl")
def run_pod(c: Ctx) -> None:
    c.kubectl("run", "-n", c.ns, HTTPD_POD, "--restart=Never", POD_RUNNING_TIMEOUT,
              f"--image={HTTPD}")
    pod = c.core.read_namespaced_pod(HTTPD_POD, c.ns)
    assert pod.spec.containers[0].image == HTTPD, \
        f"Failed creating pod {HTTPD_POD} with expected image {HTTPD}"
    assert pod.spec.restart_policy == "Never", \
        "Failed creating a pod with correct restart policy for --restart=Never"
    c.kubectl("delete", "-n", c.ns, "pods", HTTPD_POD)


@conformance("[sig-cli] Kubectl client Kubectl server-side dry-run should check if kubectl can "
             "dry-run update Pods [Conformance]", basename="kubectl")
def dry_run(c: Ctx) -> None:
    c.kubectl("run", "-n", c.ns, HTTPD_POD, f"--image={HTTPD}", POD_RUNNING_TIMEOUT,
              f"--labels=run={HTTPD_POD}")
    spec = json.dumps({"spec": {"containers": [{"name": HTTPD_POD, "image": BUSYBOX}]}})
    c.kubectl("patch", "-n", c.ns, "pod", HTTPD_POD, "-p", spec, "--dry-run=server")
    assert _image(c, HTTPD_POD) == HTTPD, f"Failed creating pod with expected image {HTTPD}"
    c.kubectl("delete", "-n", c.ns, "pods", HTTPD_POD)


def _start_proxy(c: Ctx, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Start `kubectl proxy` and return it with the first line it prints."""
    argv, env = c.kubectl_command("proxy", *args)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"Failed to start proxy server: {proc.stderr.read() if proc.stderr else ''}")
    return proc, line


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@conformance("[sig-cli] Kubectl client Proxy server should support proxy with --port 0 "
             "[Conformance]", basename="kubectl")
def proxy_port_zero(c: Ctx) -> None:
    proc, line = _start_proxy(c, "-p", "0", "--disable-filter")
    try:
        m = re.search(r"Starting to serve on .*:(\d+)", line)
        assert m, f"Failed to parse port from proxy stdout: {line}"
        with urllib.request.urlopen(f"http://localhost:{m.group(1)}/api/", timeout=30) as r:
            versions = json.loads(r.read()).get("versions") or []
        assert len(versions) >= 1, f"Expected at least one supported apiversion, got {versions}"
    finally:
        _stop(proc)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("unused", timeout=30)
        self.path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(30)
        sock.connect(self.path)
        self.sock = sock


@conformance("[sig-cli] Kubectl client Proxy server should support --unix-socket=/path "
             "[Conformance]", basename="kubectl")
def proxy_unix_socket(c: Ctx) -> None:
    with tempfile.TemporaryDirectory(prefix="kubectl-proxy-unix") as tmp:
        path = str(Path(tmp) / "test")
        proc, _ = _start_proxy(c, f"--unix-socket={path}")
        try:
            poll(lambda: Path(path).exists(), 30, "the proxy's socket", 0.1)
            conn = _UnixConnection(path)
            # upstream only needs an answer; asking as localhost (which kubectl proxy's
            # host filter accepts) lets this port also check that the answer is /api's
            conn.request("GET", "/api", headers={"Host": "localhost"})
            resp = conn.getresponse()
            body = resp.read()
            assert resp.status == 200 and json.loads(body).get("versions"), \
                f"Failed get of /api at {path}: {resp.status} {body[:200]!r}"
        finally:
            _stop(proc)
