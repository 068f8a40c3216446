"""Volumes on a real Docker-backed node, read back from the containers' logs: emptyDir
(shared between an init container and the app, and medium Memory as a tmpfs), hostPath
with its type check, configMap (items, modes), secret (defaultMode), downwardAPI,
projected, subPath and subPathExpr, readOnly mounts; a configMap volume updating in
place (upstream's ..data layout), FailedMount while a ConfigMap is missing, and the
pod's directory removed with the pod; a ConfigMap made with real kubectl (1.27 and
1.33) read as files and env; and the node's own identity reading only the Secrets its
pods use, one by one (the kubelet watches each alone), while those pods get them.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from tests.conftest import Kubectl
from tests.e2e import dockerpods
from tests.e2e.dockerpods import (
    NODE,
    cluster_uid,
    core,
    events,
    finished,
    kubelet_root,
    logs,
    pod_doc,
    sh,
    status,
)
from tests.helpers import api_for, wait_for

engine, cluster, api, ns = (dockerpods.engine, dockerpods.cluster, dockerpods.api,
                            dockerpods.ns)
Obj = dict[str, Any]


def _objects(api: k8s.ApiClient, ns: str) -> None:
    c = core(api)
    c.create_namespaced_config_map(ns, {"metadata": {"name": "cfg"}, "data": {
        "app.conf": "color=blue", "other": "x"}})
    c.create_namespaced_secret(ns, {"metadata": {"name": "sec"}, "data": {
        "token": base64.b64encode(b"t0ken").decode()}})


def test_every_volume_type(api: k8s.ApiClient, ns: str, tmp_path: Path) -> None:
    _objects(api, ns)
    (tmp_path / "host.txt").write_text("from-host")
    script = " ; ".join([
        'p() { for f in "$@"; do cat "$f"; echo; done; }', "cat /shared/init.txt", "grep -c ' /mem tmpfs ' /proc/mounts", "grep -c ' /sec tmpfs ' /proc/mounts",
        "p /host/host.txt /cfg/conf/app.conf", "stat -L -c %a /cfg/conf/app.conf",
        "ls /cfg/conf", "p /sec/token", "stat -L -c %a /sec/token",
        "p /info/labels /all/app.conf /all/token /all/name /single.conf", "ls /by-name", "touch /cfg/x 2>/dev/null || echo cfg-ro",
        "touch /host-ro/y 2>/dev/null || echo host-ro"])
    app = sh("app", script, env=[{"name": "POD", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.name"}}}], volumeMounts=[
        {"name": "shared", "mountPath": "/shared"}, {"name": "mem", "mountPath": "/mem"},
        {"name": "host", "mountPath": "/host"}, {"name": "cfg", "mountPath": "/cfg"},
        {"name": "sec", "mountPath": "/sec"}, {"name": "info", "mountPath": "/info"},
        {"name": "all", "mountPath": "/all"},
        {"name": "whole-cfg", "mountPath": "/single.conf", "subPath": "app.conf"},
        {"name": "shared", "mountPath": "/by-name", "subPathExpr": "$(POD)"},
        {"name": "host", "mountPath": "/host-ro", "readOnly": True}])
    init = sh("init", "echo from-init > /shared/init.txt; mkdir -p /shared/vols; "
              "echo mine > /shared/vols/file",
              volumeMounts=[{"name": "shared", "mountPath": "/shared"}])
    vols = [{"name": "shared", "emptyDir": {}},
            {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
            {"name": "host", "hostPath": {"path": str(tmp_path), "type": "Directory"}},
            {"name": "cfg", "configMap": {"name": "cfg", "items": [
                {"key": "app.conf", "path": "conf/app.conf", "mode": 0o600}]}},
            {"name": "whole-cfg", "configMap": {"name": "cfg"}},
            {"name": "sec", "secret": {"secretName": "sec", "defaultMode": 0o400}},
            {"name": "info", "downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
            {"name": "all", "projected": {"sources": [
                {"configMap": {"name": "cfg", "items": [{"key": "app.conf",
                                                         "path": "app.conf"}]}},
                {"secret": {"name": "sec"}},
                {"downwardAPI": {"items": [{"path": "name", "fieldRef": {
                    "fieldPath": "metadata.name"}}]}}]}}]
    doc = pod_doc("vols", app, initContainers=[init], volumes=vols)
    doc["metadata"]["labels"] = {"app": "vols", "tier": "b"}
    core(api).create_namespaced_pod(ns, doc)
    st = finished(api, ns, "vols")
    assert st["phase"] == "Succeeded", st
    out = logs(api, ns, "vols").splitlines()
    assert out == ["from-init", "1", "1", "from-host", "color=blue", "600", "app.conf",
                   "t0ken", "400", 'app="vols"', 'tier="b"', "color=blue", "t0ken", "vols",
                   "color=blue", "file", "cfg-ro", "host-ro"], out


def test_sub_path_expr_and_host_path_types(api: k8s.ApiClient, ns: str,
                                           tmp_path: Path) -> None:
    made = tmp_path / "made"
    app = sh("app", "echo hi > /logs/out.txt; ls /made -d",
             env=[{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
             volumeMounts=[{"name": "logs", "mountPath": "/logs", "subPathExpr": "$(POD)"},
                           {"name": "made", "mountPath": "/made"}])
    core(api).create_namespaced_pod(ns, pod_doc("subs", app, volumes=[
        {"name": "logs", "hostPath": {"path": str(tmp_path)}},
        {"name": "made", "hostPath": {"path": str(made), "type": "DirectoryOrCreate"}}]))
    bad = sh("app", "true", volumeMounts=[{"name": "f", "mountPath": "/f"}])
    core(api).create_namespaced_pod(ns, pod_doc("badhost", bad, volumes=[
        {"name": "f", "hostPath": {"path": str(tmp_path), "type": "File"}}]))
    assert finished(api, ns, "subs")["phase"] == "Succeeded"
    assert (tmp_path / "subs" / "out.txt").read_text() == "hi\n"
    assert made.is_dir()
    msg = wait_for(lambda: [m for _, r, m in events(api, ns, "badhost") if r == "FailedMount"],
                   "FailedMount for the hostPath type", timeout=30)
    assert msg[0] == (f'MountVolume.SetUp failed for volume "f" : hostPath type check '
                      f"failed: {tmp_path} is not a file")


def test_config_map_volume_updates_in_place(api: k8s.ApiClient, ns: str) -> None:
    c = core(api)
    c.create_namespaced_config_map(ns, {"metadata": {"name": "live"},
                                        "data": {"key": "one"}})
    app = sh("app", "ls -a /cfg; while true; do echo \"v=$(cat /cfg/key)\"; sleep 0.3; done",
             volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}])
    c.create_namespaced_pod(ns, pod_doc("live", app, policy="Always", volumes=[
        {"name": "cfg", "configMap": {"name": "live"}}]))
    wait_for(lambda: "v=one" in logs(api, ns, "live"), "the first value", every=0.3)
    listing = logs(api, ns, "live").split("v=")[0].split()
    assert "..data" in listing and "key" in listing
    assert any(e.startswith("..20") for e in listing)
    c.patch_namespaced_config_map("live", ns, {"data": {"key": "two"}})
    wait_for(lambda: "v=two" in logs(api, ns, "live"), "the updated value", timeout=30,
             every=0.3)
    cs = status(api, ns, "live")["containerStatuses"][0]
    assert cs["restartCount"] == 0  # updated in place, not restarted


def test_missing_config_map_fails_mount_until_created(api: k8s.ApiClient, ns: str) -> None:
    app = sh("app", "cat /cfg/k", volumeMounts=[{"name": "cfg", "mountPath": "/cfg"}])
    core(api).create_namespaced_pod(ns, pod_doc("later", app, volumes=[
        {"name": "cfg", "configMap": {"name": "absent"}}]))
    msg = wait_for(lambda: [m for _, r, m in events(api, ns, "later") if r == "FailedMount"],
                   "FailedMount", timeout=30)
    assert msg[0] == 'MountVolume.SetUp failed for volume "cfg" : configmap "absent" not found'
    cs = status(api, ns, "later")["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "ContainerCreating"
    core(api).create_namespaced_config_map(ns, {"metadata": {"name": "absent"},
                                                "data": {"k": "arrived"}})
    assert finished(api, ns, "later")["phase"] == "Succeeded"
    assert logs(api, ns, "later").strip() == "arrived"


def test_pod_directory_goes_with_the_pod(api: k8s.ApiClient, ns: str) -> None:
    app = sh("app", "sleep 300", volumeMounts=[{"name": "m", "mountPath": "/m"}])
    core(api).create_namespaced_pod(ns, pod_doc("tidy", app, policy="Always", volumes=[
        {"name": "m", "emptyDir": {"medium": "Memory"}}]))
    wait_for(lambda: status(api, ns, "tidy").get("phase") == "Running", "tidy to run")
    uid = core(api).read_namespaced_pod("tidy", ns).metadata.uid
    pod_dir = kubelet_root(cluster_uid(api)) / "pods" / uid
    mem = pod_dir / "volumes" / "kubernetes.io~empty-dir" / "m"
    assert pod_dir.is_dir() and os.path.ismount(mem)
    core(api).delete_namespaced_pod("tidy", ns)
    wait_for(lambda: not pod_dir.exists(), "the pod's directory to go", timeout=30)
    assert str(mem) not in Path("/proc/mounts").read_text()


def test_kubectl_config_map_as_files_and_env(kctl: Kubectl, ns: str) -> None:
    name = f"kc-{kctl.version.replace('.', '')}"
    kctl("create", "configmap", "settings", "-n", ns, "--from-literal=mode=fast",
         "--from-literal=level=3")
    app = sh("app", "cat /etc/settings/mode; echo; echo level=$LEVEL",
             env=[{"name": "LEVEL", "valueFrom": {"configMapKeyRef": {
                 "name": "settings", "key": "level"}}}],
             volumeMounts=[{"name": "s", "mountPath": "/etc/settings"}])
    doc = pod_doc(name, app, volumes=[{"name": "s", "configMap": {"name": "settings"}}])
    kctl("apply", "-n", ns, "-f", "-", input=json.dumps(doc))
    kctl("wait", "-n", ns, f"pod/{name}", "--for=jsonpath={.status.phase}=Succeeded",
         "--timeout=60s", timeout=90)
    assert kctl("logs", "-n", ns, name).split() == ["fast", "level=3"]


def _forbidden(call: Any) -> str:
    with pytest.raises(ApiException) as e:
        call()
    assert e.value.status == 403, e.value.body
    return str(json.loads(e.value.body)["message"])


def test_node_reads_only_its_pods_secrets(cluster: Any, api: k8s.ApiClient, ns: str) -> None:
    c = core(api)
    for name in ("mounted", "env", "unused"):
        c.create_namespaced_secret(ns, {"metadata": {"name": name},
                                        "stringData": {"v": f"{name}-value"}})
    app = sh("app", "cat /s/v; echo; echo $FROM_ENV; sleep 300",
             env=[{"name": "FROM_ENV", "valueFrom": {"secretKeyRef": {"name": "env",
                                                                       "key": "v"}}}],
             volumeMounts=[{"name": "s", "mountPath": "/s"}])
    c.create_namespaced_pod(ns, pod_doc("reader", app, policy="Always", volumes=[
        {"name": "s", "secret": {"secretName": "mounted"}}]))
    wait_for(lambda: "env-value" in logs(api, ns, "reader"), "the pod's secrets", every=0.3)
    assert logs(api, ns, "reader").split() == ["mounted-value", "env-value"]
    c.patch_namespaced_secret("mounted", ns, {"stringData": {"v": "rotated"}})  # its watch
    with api_for(cluster.data_dir / "kubeconfigs" / f"kubelet-{NODE}.kubeconfig") as node_api:
        node = core(node_api)
        assert node.read_namespaced_secret("mounted", ns).metadata.name == "mounted"
        one = node.list_namespaced_secret(ns, field_selector="metadata.name=env")
        assert [s.metadata.name for s in one.items] == ["env"]
        assert _forbidden(lambda: node.read_namespaced_secret("unused", ns)).endswith(
            f"no relationship found between node '{NODE}' and this object")
        assert _forbidden(lambda: node.list_namespaced_secret(
            ns, field_selector="metadata.name=unused")).endswith("this object")
        assert _forbidden(lambda: node.list_namespaced_secret(ns)).endswith(
            ": No Object name found")
        _forbidden(lambda: node.list_secret_for_all_namespaces())
        _forbidden(lambda: node.list_config_map_for_all_namespaces())
    app = sh("app", "while true; do cat /s/v; echo; sleep 0.3; done",
             volumeMounts=[{"name": "s", "mountPath": "/s"}])
    c.create_namespaced_pod(ns, pod_doc("rotated", app, policy="Always", volumes=[
        {"name": "s", "secret": {"secretName": "mounted"}}]))
    wait_for(lambda: "rotated" in logs(api, ns, "rotated"), "the rotated secret", every=0.3)
