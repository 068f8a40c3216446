"""kapi API servers on a real etcd, as a user runs them: `kapi apiserver --storage etcd`
subprocesses, the official Python client, and etcdctl to look at what landed in etcd.

Covers upstream's key layout and JSON values, resourceVersion = etcd mod revision,
409 on a stale update, --etcd-prefix, TLS with client certificates, and three API
servers on one etcd: a write through one is seen, in order and with the same
resourceVersion, by a watch on another, and stopping one loses nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import Server, start_server, stop_server
from tests.etcdenv import Etcd, start_etcd


def etcdctl(etcd: Etcd, *args: str, tls: dict[str, str] | None = None) -> Any:
    binary = shutil.which("etcdctl")
    if binary is None:
        pytest.skip("no etcdctl (apt-get install etcd-client)")
    flags = [f"--cacert={tls['ca']}", f"--cert={tls['cert']}", f"--key={tls['key']}"] if tls else []
    out = subprocess.run([binary, "--endpoints", etcd.url, *flags, *args, "-w", "json"],
                         capture_output=True, text=True, timeout=30, check=True,
                         env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout)


def etcd_server(tmp: Path, etcd: Etcd, *extra: str) -> Server:
    return start_server(tmp, storage="etcd", extra=("--etcd-servers", etcd.url, *extra))


def python_client(server: Server) -> Any:
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(server.kubeconfig), client_configuration=cfg)
    return client.CoreV1Api(client.ApiClient(cfg))


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    e = start_etcd()
    yield e
    e.stop()


def configmap(name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
            "data": {"v": value}}


def test_objects_live_in_etcd_under_upstreams_keys(etcd: Etcd, tmp_path: Path) -> None:
    from kubernetes.client.exceptions import ApiException

    s = etcd_server(tmp_path, etcd)
    try:
        api = python_client(s)
        cm = api.create_namespaced_config_map("default", configmap("c1", "one"))
        got = etcdctl(etcd, "get", "/registry/configmaps/default/c1")
        (kv,) = got["kvs"]
        assert str(kv["mod_revision"]) == cm.metadata.resource_version
        import base64
        stored = json.loads(base64.b64decode(kv["value"]))
        assert stored["data"] == {"v": "one"} and stored["kind"] == "ConfigMap"
        keys = etcdctl(etcd, "get", "--prefix", "/registry/", "--keys-only")["kvs"]
        names = {base64.b64decode(k["key"]).decode() for k in keys}
        assert "/registry/services/specs/default/kubernetes" in names
        assert "/registry/namespaces/kube-system" in names

        cm.data = {"v": "two"}
        new = api.replace_namespaced_config_map("c1", "default", cm)
        assert int(new.metadata.resource_version) > int(cm.metadata.resource_version)
        cm.data = {"v": "stale"}  # still carries the old resourceVersion
        with pytest.raises(ApiException) as conflict:
            api.replace_namespaced_config_map("c1", "default", cm)
        assert conflict.value.status == 409
        assert api.read_namespaced_config_map("c1", "default").data == {"v": "two"}
    finally:
        stop_server(s.proc)


def test_etcd_prefix(etcd: Etcd, tmp_path: Path) -> None:
    s = etcd_server(tmp_path, etcd, "--etcd-prefix", "/kapi-a")
    try:
        python_client(s).create_namespaced_config_map("default", configmap("c", "x"))
        assert etcdctl(etcd, "get", "/kapi-a/configmaps/default/c")["count"] == 1
        assert etcdctl(etcd, "get", "--prefix", "/registry/").get("count", 0) == 0
        # writes outside kapi's keys (here, anyone's) do not stall consistent lists
        for i in range(3):
            etcdctl(etcd, "put", f"/elsewhere/{i}", "x")
            items = python_client(s).list_namespaced_config_map("default").items
            assert [i.metadata.name for i in items] == ["c"]
    finally:
        stop_server(s.proc)


def _certs(d: Path) -> dict[str, str]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, by openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kapi-test-ca",
        "-keyout", "ca.key", "-out", "ca.crt")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1"), ("client", "")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
        (d / f"{name}.ext").write_text(ext + "\n" if ext else "basicConstraints=CA:FALSE\n")
        run("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return {k: str(d / v) for k, v in (("ca", "ca.crt"), ("cert", "client.crt"),
                                        ("key", "client.key"), ("scert", "server.crt"),
                                        ("skey", "server.key"))}


def test_tls_with_client_certificates(tmp_path: Path) -> None:
    c = _certs(tmp_path)
    etcd = start_etcd(tls={"cert-file": c["scert"], "key-file": c["skey"],
                           "trusted-ca-file": c["ca"]})
    try:
        s = etcd_server(tmp_path / "kapi", etcd, "--etcd-cafile", c["ca"],
                        "--etcd-certfile", c["cert"], "--etcd-keyfile", c["key"])
        try:
            python_client(s).create_namespaced_config_map("default", configmap("tls", "y"))
            got = etcdctl(etcd, "get", "/registry/configmaps/default/tls", tls=c)
            assert got["count"] == 1
        finally:
            stop_server(s.proc)
    finally:
        etcd.stop()


# -- several API servers -------------------------------------------------------------


def _watch(api: Any, rv: str, want: int, out: list[tuple[str, str, str]],
           ready: threading.Event) -> None:
    from kubernetes import watch

    w = watch.Watch()
    ready.set()
    for ev in w.stream(api.list_namespaced_config_map, "default", resource_version=rv,
                       timeout_seconds=30):
        obj = ev["object"]
        out.append((ev["type"], obj.metadata.name, obj.metadata.resource_version))
        if len(out) >= want:
            w.stop()


def test_three_apiservers_share_one_etcd(etcd: Etcd, tmp_path: Path) -> None:
    servers: list[Server] = []
    try:
        for i in range(3):
            servers.append(etcd_server(tmp_path / f"s{i}", etcd))
        a, b, c = (python_client(s) for s in servers)
        start = a.list_namespaced_config_map("default").metadata.resource_version
        seen_b: list[tuple[str, str, str]] = []
        seen_c: list[tuple[str, str, str]] = []
        ready = [threading.Event(), threading.Event()]
        threads = [threading.Thread(target=_watch, args=(api, start, 30, seen, r), daemon=True)
                   for api, seen, r in ((b, seen_b, ready[0]), (c, seen_c, ready[1]))]
        for t in threads:
            t.start()
        for r in ready:
            r.wait(30)
        written: list[tuple[str, str, str]] = []
        for i in range(10):  # writes alternate between the three servers
            api = (a, b, c)[i % 3]
            cm = api.create_namespaced_config_map("default", configmap(f"m{i}", "0"))
            written.append(("ADDED", f"m{i}", cm.metadata.resource_version))
            cm.data = {"v": "1"}
            cm = (b, c, a)[i % 3].replace_namespaced_config_map(f"m{i}", "default", cm)
            written.append(("MODIFIED", f"m{i}", cm.metadata.resource_version))
            st = (c, a, b)[i % 3].delete_namespaced_config_map(f"m{i}", "default")
            assert st is not None
        for t in threads:
            t.join(40)
        # every write, through whichever server, reached both watches in order
        for seen in (seen_b, seen_c):
            assert [e for e in seen if e[0] != "DELETED"] == written
            assert [int(e[2]) for e in seen] == sorted(int(e[2]) for e in seen)
            assert len(seen) == 30
        assert seen_b == seen_c

        # stopping one server loses nothing: the others serve every object
        a.create_namespaced_config_map("default", configmap("kept", "yes"))
        stop_server(servers[0].proc)
        for api in (b, c):
            assert api.read_namespaced_config_map("kept", "default").data == {"v": "yes"}
            names = {i.metadata.name for i in api.list_namespaced_config_map("default").items}
            assert "kept" in names and not any(n.startswith("m") for n in names)
    finally:
        for s in servers:
            stop_server(s.proc)


def test_compaction_expires_old_revisions_and_continue_tokens(etcd: Etcd, tmp_path: Path) -> None:
    s = etcd_server(tmp_path, etcd, "--compact-interval", "0.2", "--compact-keep", "0",
                    "--compact-keep-seconds", "0")
    try:
        api = python_client(s)
        old = api.create_namespaced_config_map("default", configmap("x0", "0"))
        for i in range(1, 4):
            api.create_namespaced_config_map("default", configmap(f"x{i}", "0"))
        with s.client() as c:
            page = c.get("/api/v1/namespaces/default/configmaps", params={"limit": 1}).json()
            token, pinned = page["metadata"]["continue"], page["metadata"]["resourceVersion"]
            assert token
            api.create_namespaced_config_map("default", configmap("later", "0"))

            def compacted() -> bool:  # etcd itself refuses a read at the old revision
                r = subprocess.run(["etcdctl", "--endpoints", etcd.url, "get", "/registry/",
                                    "--prefix", f"--rev={pinned}"],
                                   capture_output=True, text=True, timeout=30)
                return "compacted" in r.stderr
            deadline = time.monotonic() + 30
            while not compacted() and time.monotonic() < deadline:
                time.sleep(0.2)
            assert compacted()
            r = c.get("/api/v1/namespaces/default/configmaps",
                      params={"limit": 1, "continue": token})
            assert r.status_code == 410 and r.json()["reason"] == "Expired"
            r = c.get("/api/v1/namespaces/default/configmaps",
                      params={"watch": "1", "resourceVersion": old.metadata.resource_version})
            gone = r.json() if r.status_code == 410 else json.loads(r.text.splitlines()[0])["object"]
            assert gone["code"] == 410 and gone["reason"] in ("Expired", "Gone")
    finally:
        stop_server(s.proc)
