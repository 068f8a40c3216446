"""The container spec on a real Docker-backed node, through the official Python client:
env from every source (ConfigMap/Secret keys, envFrom with prefix, fieldRef,
resourceFieldRef, service links, `$(VAR)` expansion in values, command and args),
CreateContainerConfigError for a missing ConfigMap and for runAsNonRoot on a root
image, securityContext (user, groups, read-only root), lifecycle hooks (postStart seen
by the container, preStop before SIGTERM), startup probes, termination messages (file
and FallbackToLogsOnError), the managed /etc/hosts, a hostPort on the node, and
stdin/tty/stdinOnce as the engine sees them.
"""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import httpx
from kubernetes import client as k8s

from tests.e2e import dockerpods
from tests.e2e.dockerpods import core, events, finished, logs, pod_doc, sh, status, waiting
from tests.helpers import wait_for

# the shared fixtures (one Docker-backed node for the module)
engine, cluster, api, ns = (dockerpods.engine, dockerpods.cluster, dockerpods.api,
                            dockerpods.ns)

Obj = dict[str, Any]


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_env_from_every_source(api: k8s.ApiClient, ns: str) -> None:
    c = core(api)
    c.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {
        "COLOR": "blue", "SIZE": "10", "1bad": "skipped"}})
    c.create_namespaced_secret(ns, {"metadata": {"name": "sec"},
                                    "data": {"PASSWORD": _b64("s3cret")}})
    c.create_namespaced_service(ns, {"metadata": {"name": "my-svc"}, "spec": {
        "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    env = [{"name": "FROM_CM", "valueFrom": {"configMapKeyRef": {"name": "cfg",
                                                                 "key": "COLOR"}}},
           {"name": "FROM_SECRET", "valueFrom": {"secretKeyRef": {"name": "sec",
                                                                  "key": "PASSWORD"}}},
           {"name": "ABSENT", "valueFrom": {"secretKeyRef": {
               "name": "nope", "key": "x", "optional": True}}},
           {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
           {"name": "SA", "valueFrom": {"fieldRef": {"fieldPath": "spec.serviceAccountName"}}},
           {"name": "MEM_MI", "valueFrom": {"resourceFieldRef": {
               "resource": "limits.memory", "divisor": "1Mi"}}},
           {"name": "COMBINED", "value": "$(FROM_CM)-$(CM_SIZE) $$(FROM_CM) $(UNSET)"}]
    app = {"name": "app", "image": "busybox", "command": ["sh", "-c"],
           "args": ["echo arg=$(FROM_CM); env | sort"], "env": env,
           "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"},
                       {"configMapRef": {"name": "cfg"}}, {"secretRef": {"name": "sec"}}],
           "resources": {"limits": {"memory": "64Mi"}}}
    c.create_namespaced_pod(ns, pod_doc("envs", app))
    st = finished(api, ns, "envs")
    assert st["phase"] == "Succeeded", st
    out = logs(api, ns, "envs").splitlines()
    assert out[0] == "arg=blue"
    got = dict(line.split("=", 1) for line in out[1:] if "=" in line)
    assert got["FROM_CM"] == "blue" and got["FROM_SECRET"] == "s3cret"
    assert got["CM_COLOR"] == "blue" and got["CM_SIZE"] == "10"
    assert got["PASSWORD"] == "s3cret" and "ABSENT" not in got
    assert got["POD_IP"] == st["podIP"] and got["SA"] == "default"
    assert got["MEM_MI"] == "64"
    assert got["COMBINED"] == "blue-10 $(FROM_CM) $(UNSET)"
    svc = c.read_namespaced_service("my-svc", ns).spec.cluster_ip
    assert got["MY_SVC_SERVICE_HOST"] == svc and got["MY_SVC_SERVICE_PORT"] == "80"
    assert got["MY_SVC_SERVICE_PORT_HTTP"] == "80"
    assert got["MY_SVC_PORT"] == f"tcp://{svc}:80"
    assert got["MY_SVC_PORT_80_TCP_ADDR"] == svc and got["MY_SVC_PORT_80_TCP_PROTO"] == "tcp"
    assert "KUBERNETES_SERVICE_HOST" in got
    assert got["CM_1bad"] == "skipped" and "1bad" not in got
    assert ("Warning", "InvalidEnvironmentVariableNames",
            f"Keys [1bad] from the EnvFrom configmap {ns}/cfg were skipped since they are "
            "considered invalid environment variable names.") in events(api, ns, "envs")


def test_missing_config_map_waits_then_runs(api: k8s.ApiClient, ns: str) -> None:
    app = sh("app", "echo $V", env=[{"name": "V", "valueFrom": {"configMapKeyRef": {
        "name": "later", "key": "v"}}}])
    core(api).create_namespaced_pod(ns, pod_doc("wait", app))
    w = wait_for(lambda: waiting(api, ns, "wait", "CreateContainerConfigError"),
                 "CreateContainerConfigError", timeout=30)
    assert w["message"] == 'configmap "later" not found'
    core(api).create_namespaced_config_map(ns, {"metadata": {"name": "later"},
                                                "data": {"v": "now-here"}})
    assert finished(api, ns, "wait")["phase"] == "Succeeded"
    assert logs(api, ns, "wait").strip() == "now-here"


def test_security_context(api: k8s.ApiClient, ns: str) -> None:
    ids = sh("ids", "id -u; id -g; id -G; touch /rootfs-write 2>/dev/null && echo wrote "
             "|| echo read-only; grep CapEff /proc/self/status; "
             "touch /data/mine && stat -c %g /data /data/mine",
             volumeMounts=[{"name": "data", "mountPath": "/data"}],
             securityContext={"runAsUser": 1000, "runAsGroup": 3000,
                              "readOnlyRootFilesystem": True,
                              "allowPrivilegeEscalation": False,
                              "capabilities": {"drop": ["ALL"]}})
    core(api).create_namespaced_pod(ns, pod_doc(
        "sec", ids, securityContext={"fsGroup": 2000, "supplementalGroups": [4000]},
        volumes=[{"name": "data", "emptyDir": {}}]))
    nonroot = sh("app", "true", securityContext={"runAsNonRoot": True})
    core(api).create_namespaced_pod(ns, pod_doc("nonroot", nonroot))
    assert finished(api, ns, "sec")["phase"] == "Succeeded"
    uid, gid, groups, wrote, caps, dir_gid, file_gid = logs(api, ns, "sec").split("\n")[:7]
    assert (uid, gid) == ("1000", "3000")
    assert {"2000", "4000"} <= set(groups.split())
    assert wrote == "read-only"
    assert caps.split()[1] == "0000000000000000"
    assert dir_gid == file_gid == "2000"  # fsGroup owns the volume (setgid directory)
    w = wait_for(lambda: waiting(api, ns, "nonroot", "CreateContainerConfigError"),
                 "runAsNonRoot refused", timeout=30)
    assert w["message"].startswith("container has runAsNonRoot and image will run as root")


def test_hooks_post_start_and_pre_stop(api: k8s.ApiClient, ns: str, tmp_path: Path) -> None:
    tmp_path.chmod(0o777)
    script = ("until [ -f /tmp/poststart ]; do sleep 0.1; done; cat /tmp/poststart; "
              "trap 'if [ -f /out/prestop ]; then echo prestop-first > /out/order; "
              "else echo term-first > /out/order; fi; exit 0' TERM; "
              "while true; do sleep 0.1; done")
    app = sh("app", script, volumeMounts=[{"name": "out", "mountPath": "/out"}],
             lifecycle={"postStart": {"exec": {"command": [
                 "sh", "-c", "echo from-post-start > /tmp/poststart"]}},
                        "preStop": {"exec": {"command": ["sh", "-c", "touch /out/prestop"]}}})
    doc = pod_doc("hooks", app, policy="Always", volumes=[
        {"name": "out", "hostPath": {"path": str(tmp_path), "type": "Directory"}}])
    doc["spec"]["terminationGracePeriodSeconds"] = 10
    core(api).create_namespaced_pod(ns, doc)
    wait_for(lambda: "from-post-start" in logs(api, ns, "hooks"), "postStart's file",
             timeout=60, every=0.3)
    core(api).delete_namespaced_pod("hooks", ns)
    wait_for(lambda: (tmp_path / "order").exists(), "the container's TERM trap", timeout=30)
    assert (tmp_path / "order").read_text().strip() == "prestop-first"


def test_failed_post_start_hook_is_reported(api: k8s.ApiClient, ns: str) -> None:
    app = sh("app", "sleep 30", lifecycle={"postStart": {"exec": {"command": ["false"]}}})
    core(api).create_namespaced_pod(ns, pod_doc("badhook", app))
    ev = wait_for(lambda: [m for _, r, m in events(api, ns, "badhook")
                           if r == "FailedPostStartHook"], "FailedPostStartHook", timeout=30)
    assert ev[0].startswith("Exec lifecycle hook ([false]) for Container \"app\"")


def test_startup_probe_gates_liveness_and_readiness(api: k8s.ApiClient, ns: str) -> None:
    slow = sh("slow", "sleep 2; touch /tmp/up; sleep 300",
              startupProbe={"exec": {"command": ["test", "-f", "/tmp/up"]},
                            "periodSeconds": 1, "failureThreshold": 20},
              livenessProbe={"exec": {"command": ["test", "-f", "/tmp/up"]},
                             "periodSeconds": 1})
    never = sh("never", "sleep 300", startupProbe={
        "exec": {"command": ["false"]}, "periodSeconds": 1, "failureThreshold": 2})
    core(api).create_namespaced_pod(ns, pod_doc("startup", slow, policy="Always"))
    core(api).create_namespaced_pod(ns, pod_doc("nostart", never, policy="Always"))

    def slow_ready() -> Obj | None:
        cs = (status(api, ns, "startup").get("containerStatuses") or [{}])[0]
        return cs if cs.get("ready") else None
    cs = wait_for(slow_ready, "the slow container to start and be ready", timeout=60)
    assert cs["started"] and cs["restartCount"] == 0
    assert any(r == "Unhealthy" and m.startswith("Startup probe failed")
               for _, r, m in events(api, ns, "startup"))

    def restarted() -> Obj | None:
        cs = (status(api, ns, "nostart").get("containerStatuses") or [{}])[0]
        return cs if cs.get("restartCount", 0) >= 1 else None
    cs = wait_for(restarted, "a restart after failing the startup probe", timeout=60)
    assert not cs["ready"]
    assert any("failed startup probe, will be restarted" in m
               for _, _, m in events(api, ns, "nostart"))


def test_termination_messages(api: k8s.ApiClient, ns: str) -> None:
    by_file = sh("file", "echo -n bye > /dev/termination-log; exit 3")
    by_logs = sh("logs", "echo oops; exit 1", terminationMessagePolicy="FallbackToLogsOnError")
    custom = sh("custom", "echo -n here > /tmp/msg", terminationMessagePath="/tmp/msg")
    core(api).create_namespaced_pod(ns, pod_doc("msgs", by_file, by_logs, custom))
    st = finished(api, ns, "msgs")
    term = {c["name"]: c["state"]["terminated"] for c in st["containerStatuses"]}
    assert term["file"]["exitCode"] == 3 and term["file"]["message"] == "bye"
    assert term["logs"]["message"] == "oops\n"
    assert term["custom"]["message"] == "here"


def test_etc_hosts_and_host_port(api: k8s.ApiClient, ns: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    web = sh("web", "cat /etc/hosts; hostname; echo hi > /www/index.html; "
             "exec httpd -f -p 8080 -h /www", ports=[{"containerPort": 8080,
                                                      "hostPort": port}],
             volumeMounts=[{"name": "www", "mountPath": "/www"}])
    core(api).create_namespaced_pod(ns, pod_doc(
        "named", web, policy="Always", hostname="box", subdomain="sub",
        hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}],
        volumes=[{"name": "www", "emptyDir": {}}]))
    wait_for(lambda: status(api, ns, "named").get("phase") == "Running", "named to run")
    ip = status(api, ns, "named")["podIP"]
    text = wait_for(lambda: logs(api, ns, "named"), "the hosts file in the log")
    assert text.startswith("# Kubernetes-managed hosts file.\n")
    assert f"{ip}\tbox.sub.{ns}.svc.cluster.local\tbox" in text
    assert "# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local" in text
    assert text.strip().splitlines()[-1] == "box"
    r = wait_for(lambda: _get(f"http://127.0.0.1:{port}/"), "the hostPort to answer",
                 timeout=20, every=0.3)
    assert r.strip() == "hi"


def _get(url: str) -> str | None:
    try:
        return httpx.get(url, timeout=2).text
    except httpx.HTTPError:
        return None


def test_stdin_tty_and_stdin_once_reach_the_engine(api: k8s.ApiClient, ns: str,
                                                   engine: Any) -> None:
    once = sh("once", "sleep 300", stdin=True, stdinOnce=True, tty=True)
    kept = sh("kept", "sleep 300", stdin=True)
    core(api).create_namespaced_pod(ns, pod_doc("tty", once, kept, policy="Always"))
    wait_for(lambda: status(api, ns, "tty").get("phase") == "Running", "tty to run")
    ids = {c["name"]: c["containerID"].removeprefix("docker://")
           for c in status(api, ns, "tty")["containerStatuses"]}
    config = {n: engine.api.inspect_container(cid)["Config"] for n, cid in ids.items()}
    assert (config["once"]["OpenStdin"], config["once"]["StdinOnce"],
            config["once"]["Tty"]) == (True, True, True)
    assert (config["kept"]["OpenStdin"], config["kept"]["StdinOnce"],
            config["kept"]["Tty"]) == (True, False, False)


def test_active_deadline_fails_the_pod_and_stops_its_containers(api: k8s.ApiClient,
                                                                 ns: str) -> None:
    core(api).create_namespaced_pod(ns, pod_doc(
        "deadline", sh("c", "sleep 3600"), policy="Always", activeDeadlineSeconds=3))

    def failed() -> Obj | None:
        st = status(api, ns, "deadline")
        return st if st.get("phase") == "Failed" else None
    st = wait_for(failed, "the pod to fail at its deadline", timeout=60)
    assert (st["reason"], st["message"]) == (
        "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
    stopped = wait_for(lambda: "terminated" in (status(api, ns, "deadline")["containerStatuses"]
                                                [0]["state"]) and status(api, ns, "deadline"),
                       "the container stopped", timeout=60)
    assert stopped["phase"] == "Failed" and stopped["reason"] == "DeadlineExceeded"  # sticks
    assert ("Normal", "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline") in \
        events(api, ns, "deadline")
