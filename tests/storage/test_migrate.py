"""`kapi storage migrate --from DATA_DIR --to etcd://…`: a SQLite cluster's objects copied
into a real etcd, then served from etcd by `kapi apiserver --storage etcd` on the same
data dir (its CA and keys) and read back with kubectl: uids, creationTimestamps and
contents kept. A target that already holds a cluster, and a bad URL, are refused.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import REPO, kubectl_or_skip, start_server, stop_server
from tests.etcdenv import start_etcd


def kapi_migrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kapi.cli", "storage", "migrate", *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def _snapshot(kubectl: Any) -> dict[str, Any]:
    """What must survive: each object's uid, creationTimestamp, labels and contents."""
    out = {}
    for kind, ns in (("configmaps", "moving"), ("secrets", "moving"), ("deployments", "moving"),
                     ("namespaces", ""), ("clusterroles", "")):
        flags = ["-n", ns] if ns else []
        for item in json.loads(kubectl("get", kind, *flags, "-o", "json"))["items"]:
            meta = item["metadata"]
            if kind in ("namespaces", "clusterroles") and meta["name"] not in (
                    "moving", "reader"):
                continue
            out[f"{kind}/{meta['name']}"] = {
                "uid": meta["uid"], "created": meta["creationTimestamp"],
                "labels": meta.get("labels"),
                "body": {k: v for k, v in item.items() if k in ("data", "spec", "rules", "type")}}
    return out


def test_a_sqlite_cluster_moves_into_etcd(tmp_path: Path) -> None:
    data = tmp_path / "cluster"
    server = start_server(data)
    try:
        kubectl = kubectl_or_skip("1.33", server.kubeconfig)
        kubectl("create", "namespace", "moving")
        kubectl("create", "configmap", "cfg", "-n", "moving", "--from-literal", "k=v")
        kubectl("label", "configmap", "cfg", "-n", "moving", "tier=gold")
        kubectl("create", "secret", "generic", "s", "-n", "moving", "--from-literal", "pw=hunter2")
        kubectl("create", "deployment", "web", "-n", "moving", "--image", "busybox",
                "--replicas", "2")
        kubectl("create", "clusterrole", "reader", "--verb", "get", "--resource", "pods")
        before = _snapshot(kubectl)
    finally:
        stop_server(server.proc)
    assert len(before) == 5
    etcd = start_etcd()
    try:
        target = etcd.url.replace("http://", "etcd://") + "/moved"
        done = kapi_migrate("--from", str(data), "--to", target)
        assert done.returncode == 0, done.stderr
        assert "done" in done.stdout
        again = kapi_migrate("--from", str(data), "--to", target)
        assert again.returncode == 1 and "already holds objects" in again.stderr
        served = start_server(data, storage="etcd", port=server.port,
                              extra=("--etcd-servers", etcd.url, "--etcd-prefix", "/moved"))
        try:
            assert _snapshot(kubectl) == before
            # and the cluster goes on: a write lands in etcd and reads back
            kubectl("create", "configmap", "after", "-n", "moving")
            assert "after" in kubectl("get", "configmaps", "-n", "moving")
        finally:
            stop_server(served.proc)
    finally:
        etcd.stop()


def test_bad_targets_are_refused(tmp_path: Path) -> None:
    bad = kapi_migrate("--from", str(tmp_path), "--to", "http://127.0.0.1:2379")
    assert bad.returncode == 1 and "expected etcd://HOST:PORT" in bad.stderr
    bad = kapi_migrate("--from", str(tmp_path), "--to", "etcd://127.0.0.1:1")
    assert bad.returncode == 1 and "holds no kapi.db" in bad.stderr
