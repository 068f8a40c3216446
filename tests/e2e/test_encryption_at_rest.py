"""Secrets encrypted at rest, seen as a user sees them: through the API (kubectl, the
Python client's get, list and watch) a Secret reads as plain text, while the raw store
(the SQLite file; etcd through etcdctl) holds only upstream's `k8s:enc:aesgcm:v1:<key>:`
ciphertext. Turning encryption on, or rotating keys, and then running upstream's
`kubectl get secrets -A -o json | kubectl replace -f -`, or `kapi secrets reencrypt`,
rewrites every Secret with the new key."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
import yaml
from kubernetes import client, watch

from tests.conftest import REPO, Server, kubectls, start_server, stop_server
from tests.etcdenv import Etcd, start_etcd
from tests.helpers import api_for

SECRET = "s3cr3t-value"


def raw_sqlite(data_dir: Path, key: str) -> bytes:
    with sqlite3.connect(data_dir / "kapi.db") as db:
        row = db.execute("SELECT value FROM log WHERE name = ? ORDER BY id DESC LIMIT 1",
                         (key,)).fetchone()
    return bytes(row[0])


def config_file(path: Path, *keys: str, identity: bool = True) -> Path:
    providers: list[dict[str, object]] = [{"aesgcm": {"keys": [
        {"name": k, "secret": base64.b64encode(k.encode().ljust(32, b"k")).decode()}
        for k in keys]}}]
    if identity:
        providers.append({"identity": {}})
    path.write_text(yaml.safe_dump({
        "apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
        "resources": [{"resources": ["secrets"], "providers": providers}]}))
    return path


def kubectl_binary() -> str:
    found = kubectls()
    if not found:
        pytest.skip("no kubectl installed")
    return str(next(iter(found.values())))


def kubectl(server: Server, *args: str, input: str | None = None) -> str:
    return subprocess.run([kubectl_binary(), "--kubeconfig", str(server.kubeconfig), *args],
                          input=input, capture_output=True, text=True, timeout=60,
                          check=True).stdout


def reencrypt(server: Server) -> None:
    """upstream's documented way to rewrite every Secret with the current key."""
    listing = kubectl(server, "get", "secrets", "-A", "-o", "json")
    kubectl(server, "replace", "-f", "-", input=listing)


@pytest.fixture
def encrypted(tmp_path: Path) -> Iterator[Server]:
    s = start_server(tmp_path / "kapi", extra=("--encrypt-secrets",))
    yield s
    stop_server(s.proc)


def test_secrets_are_ciphertext_at_rest_and_plain_through_the_api(encrypted):
    kubectl(encrypted, "create", "secret", "generic", "db", f"--from-literal=password={SECRET}")
    stored = raw_sqlite(encrypted.data_dir, "/registry/secrets/default/db")
    assert stored.startswith(b"k8s:enc:aesgcm:v1:key1:")
    assert SECRET.encode() not in stored and base64.b64encode(SECRET.encode()) not in stored
    assert (encrypted.data_dir / "encryption-config.yaml").stat().st_mode & 0o777 == 0o600
    out = kubectl(encrypted, "get", "secret", "db", "-o", "jsonpath={.data.password}")
    assert base64.b64decode(out).decode() == SECRET
    with api_for(encrypted.kubeconfig) as api:
        core = client.CoreV1Api(api)
        listed = core.list_namespaced_secret("default", field_selector="metadata.name=db")
        assert base64.b64decode(listed.items[0].data["password"]).decode() == SECRET
        seen = [e["object"].data["password"] for e in watch.Watch().stream(
            core.list_namespaced_secret, "default", field_selector="metadata.name=db",
            timeout_seconds=1)]
        assert [base64.b64decode(v).decode() for v in seen] == [SECRET]
        # configmaps are not listed in the configuration: stored as they are
        core.create_namespaced_config_map("default", {"metadata": {"name": "plain"},
                                                      "data": {"k": "visible"}})
    assert b"visible" in raw_sqlite(encrypted.data_dir, "/registry/configmaps/default/plain")


def test_turning_encryption_on_and_rotating_keys_with_kubectl_replace(tmp_path):
    data = tmp_path / "kapi"
    s = start_server(data)
    kubectl(s, "create", "secret", "generic", "old", f"--from-literal=password={SECRET}")
    stop_server(s.proc)
    assert SECRET.encode() in base64.b64decode(json.loads(
        raw_sqlite(data, "/registry/secrets/default/old"))["data"]["password"])

    s = start_server(data, extra=("--encryption-provider-config",
                                  str(config_file(tmp_path / "one.yaml", "key1"))))
    try:
        assert kubectl(s, "get", "secret", "old", "-o", "jsonpath={.data.password}")
        reencrypt(s)
        assert raw_sqlite(data, "/registry/secrets/default/old").startswith(
            b"k8s:enc:aesgcm:v1:key1:")
    finally:
        stop_server(s.proc)

    # rotation: key2 writes, key1 still reads; after the replace, key1 is unused
    rotated = config_file(tmp_path / "two.yaml", "key2", "key1", identity=False)
    s = start_server(data, extra=("--encryption-provider-config", str(rotated)))
    try:
        out = kubectl(s, "get", "secret", "old", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(out).decode() == SECRET
        reencrypt(s)
        assert raw_sqlite(data, "/registry/secrets/default/old").startswith(
            b"k8s:enc:aesgcm:v1:key2:")
    finally:
        stop_server(s.proc)


def kapi_reencrypt(server: Server, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "kapi.cli", "secrets", "reencrypt",
                           "--kubeconfig", str(server.kubeconfig), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120, check=True).stdout


def test_kapi_secrets_reencrypt_after_turning_encryption_on(tmp_path):
    data = tmp_path / "kapi"
    s = start_server(data)
    with api_for(s.kubeconfig) as api:
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": "other"}})
        for ns, name in (("default", "one"), ("other", "two"), ("other", "three")):
            core.create_namespaced_secret(ns, {"metadata": {"name": name},
                                               "stringData": {"password": SECRET}})
    stop_server(s.proc)
    keys = ["/registry/secrets/default/one", "/registry/secrets/other/two",
            "/registry/secrets/other/three"]
    assert all(b"k8s:enc:" not in raw_sqlite(data, k) for k in keys)

    s = start_server(data, extra=("--encrypt-secrets",))
    try:
        assert kapi_reencrypt(s, "-n", "other").strip() == (
            "2 Secrets rewritten, 0 already current, 0 changed or deleted meanwhile")
        assert b"k8s:enc:" not in raw_sqlite(data, keys[0])
        out = kapi_reencrypt(s)
        assert out.startswith("1 Secrets rewritten, 2 already current"), out
        for k in keys:
            stored = raw_sqlite(data, k)
            assert stored.startswith(b"k8s:enc:aesgcm:v1:key1:"), stored[:40]
            assert SECRET.encode() not in stored
        assert kapi_reencrypt(s).startswith("0 Secrets rewritten, 3 already current")
        out = kubectl(s, "get", "secret", "two", "-n", "other", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(out).decode() == SECRET
    finally:
        stop_server(s.proc)


def test_kapi_secrets_reencrypt_needs_rights(tmp_path):
    s = start_server(tmp_path / "kapi", extra=("--encrypt-secrets",))
    try:
        kc = yaml.safe_load(s.kubeconfig.read_text())
        kc["users"][0]["user"] = {"token": "nobody-knows-this"}
        (tmp_path / "kc").write_text(yaml.safe_dump(kc))
        p = subprocess.run([sys.executable, "-m", "kapi.cli", "secrets", "reencrypt",
                            "--kubeconfig", str(tmp_path / "kc")], cwd=REPO,
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 1
        assert p.stderr.strip() == "kapi secrets reencrypt: 401 Unauthorized: Unauthorized"
    finally:
        stop_server(s.proc)


@pytest.fixture
def etcd() -> Iterator[Etcd]:
    e = start_etcd()
    yield e
    e.stop()


def test_secrets_are_ciphertext_in_etcd(tmp_path, etcd):
    etcdctl = shutil.which("etcdctl")
    if etcdctl is None:
        pytest.skip("no etcdctl (apt-get install etcd-client)")
    config = config_file(tmp_path / "enc.yaml", "key1")
    s = start_server(tmp_path / "kapi", storage="etcd", extra=(
        "--etcd-servers", etcd.url, "--encryption-provider-config", str(config)))
    try:
        kubectl(s, "create", "secret", "generic", "db", f"--from-literal=password={SECRET}")
        stored = subprocess.run(
            [etcdctl, "--endpoints", etcd.url, "get", "/registry/secrets/default/db",
             "--print-value-only"], capture_output=True, timeout=30, check=True,
            env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"}).stdout
        assert stored.startswith(b"k8s:enc:aesgcm:v1:key1:")
        assert SECRET.encode() not in stored
        out = kubectl(s, "get", "secret", "db", "-o", "jsonpath={.data.password}")
        assert base64.b64decode(out).decode() == SECRET
    finally:
        stop_server(s.proc)


def test_a_bad_encryption_configuration_stops_the_server_with_one_line(tmp_path):
    bad = tmp_path / "enc.yaml"
    bad.write_text(yaml.safe_dump({"kind": "EncryptionConfiguration", "resources": [
        {"resources": ["secrets"], "providers": [{"secretbox": {}}]}]}))
    p = subprocess.run([sys.executable, "-m", "kapi.cli", "apiserver", "--data-dir",
                        str(tmp_path / "kapi"), "--encryption-provider-config", str(bad)],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 2
    assert p.stderr == f"kapi: {bad}: provider 'secretbox' is not supported (aesgcm, aescbc, " \
        "identity)\n"
