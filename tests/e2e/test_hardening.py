"""Requests that once earned a 500 get upstream's 4xx (or are served as upstream serves
them), and the protections upstream gives users hold: each case from issue 8, against a
real server subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO, free_port, start_server, stop_server

Y = {"content-type": "application/yaml"}
J = {"content-type": "application/json"}


def _status(r, code: int, reason: str | None = None) -> dict:
    assert r.status_code == code, r.text
    body = r.json()
    assert body["kind"] == "Status" and body["code"] == code and body["message"]
    if reason:
        assert body["reason"] == reason
    return body


def _nested(levels: int, leaf: str = "{}") -> str:
    return '{"a":' * levels + leaf + "}" * levels


def _cm(c, ns: str, name: str, **extra) -> dict:
    r = c.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": name}, **extra})
    assert r.status_code == 201, r.text
    return r.json()


# -- 500s that are 4xx ---------------------------------------------------------------
def test_yaml_keys_that_are_not_strings(server, ns):
    url = f"/api/v1/namespaces/{ns}/configmaps"
    with server.client() as c:
        r = c.post(url, headers=Y, content=b"metadata: {name: k}\ndata:\n  true: a\n  1: b\n"
                                            b"  1.5: c\n  2001-12-14: d\n")
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"true": "a", "1": "b", "1.5": "c", "2001-12-14": "d"}
        r = c.post(url, headers=Y, content=b"metadata: {name: k2}\nextra:\n  true: a\n")
        assert r.status_code == 201 and "unknown field" in r.headers["warning"]
        body = _status(c.post(url, headers=Y, content=b"metadata: {name: k3}\ndata:\n  ~: a\n"),
                       400, "BadRequest")
        assert "unsupported map key" in body["message"]
        for doc in (b"metadata: {name: k4}\nx: .nan\n", b"metadata: {name: k4}\nx: !!set {a}\n"):
            _status(c.post(url, headers=Y, content=doc), 400, "BadRequest")
        assert c.get(f"{url}/k3").status_code == 404


def test_integers_past_64_bits(server, ns):
    url = f"/api/v1/namespaces/{ns}/configmaps"
    big = b"123456789012345678901234567890"
    with server.client() as c:
        r = c.post(url, headers=Y, content=b"metadata: {name: big}\nextra: [" + big + b"]\n")
        assert r.status_code == 201 and 'unknown field \\"extra\\"' in r.headers["warning"]
        r = c.post(url, headers=Y, content=b"metadata:\n  name: bigf\n  managedFields:\n"
                   b"  - manager: x\n    operation: Update\n    fieldsType: FieldsV1\n"
                   b"    fieldsV1: {f:data: [" + big + b"]}\n")
        assert r.status_code < 500, r.text


def test_deep_nesting_is_refused_not_a_crash(server, ns):
    base = _cm(server.client(), ns, "deep", data={"a": "1"})
    url = f"/api/v1/namespaces/{ns}/configmaps"
    with server.client() as c:
        # what real objects need (here 60 levels of an unknown field) still works
        r = c.post(url, headers=J, content=f'{{"metadata":{{"name":"ok"}},"x":{_nested(60)}}}')
        assert r.status_code == 201, r.text
        r = c.post(url, headers=J, content=f'{{"metadata":{{"name":"d1"}},"x":{_nested(300)}}}')
        assert "nested more than 100 levels" in _status(r, 400, "BadRequest")["message"]
        value = "[" * 500 + "1" + "]" * 500
        r = c.patch(f"{url}/deep", content=f'[{{"op":"add","path":"/x","value":{value}}}]',
                    headers={"content-type": "application/json-patch+json"})
        _status(r, 400, "BadRequest")
        for levels in (1000, 10_000):
            r = c.patch(f"{url}/deep", content=f'{{"data":{_nested(levels)}}}',
                        headers={"content-type": "application/merge-patch+json"})
            _status(r, 400, "BadRequest")
        got = c.get(f"{url}/deep").json()
        assert got["data"] == {"a": "1"}
        assert got["metadata"]["resourceVersion"] == base["metadata"]["resourceVersion"]


def test_unknown_field_outside_latin1_warns_in_utf8(server, ns):
    with server.client() as c:
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", headers=J,
                   content=json.dumps({"metadata": {"name": "u"}, "名前": 1}))
        assert r.status_code == 201, r.text
        raw = r.headers.raw
        warning = next(v for k, v in raw if k.lower() == b"warning")
        assert warning.decode("utf-8") == '299 - "unknown field \\"名前\\""'


def test_many_unknown_fields_keep_the_warning_header_bounded(server, ns):
    body = {"metadata": {"name": "many"}} | {f"extra{i:05}": i for i in range(3000)}
    with server.client() as c:
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", json=body)
        assert r.status_code == 201
        assert 0 < len(r.headers["warning"]) < 8192


@pytest.mark.parametrize("body,message", [
    ({"gracePeriodSeconds": "abc"}, "into Go struct field DeleteOptions.gracePeriodSeconds"),
    ({"preconditions": [1]}, "into Go struct field DeleteOptions.preconditions"),
    ({"propagationPolicy": ["Orphan"], "orphanDependents": True},
     "into Go struct field DeleteOptions.propagationPolicy"),
    (5, "into Go value of type v1.DeleteOptions"),
])
def test_wrongly_typed_delete_options(server, ns, body, message):
    with server.client() as c:
        _cm(c, ns, "del")
        r = c.request("DELETE", f"/api/v1/namespaces/{ns}/configmaps/del", json=body)
        assert message in _status(r, 400, "BadRequest")["message"]
        assert c.get(f"/api/v1/namespaces/{ns}/configmaps/del").status_code == 200


def test_bodies_of_the_wrong_shape(server, ns):
    with server.client() as c:
        body = _status(c.post("/api/v1/namespaces", json={}), 422, "Invalid")
        assert "metadata.name: Required value" in body["message"]
        c.post(f"/api/v1/namespaces/{ns}/pods", json={"metadata": {"name": "p"}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}]}})
        body = _status(c.post(f"/api/v1/namespaces/{ns}/pods/p/binding", json={"target": 5}),
                       400, "BadRequest")
        assert body["message"].startswith('Binding in version "v1" cannot be handled as a Binding')
        r = c.post(f"/api/v1/namespaces/{ns}/pods/p/eviction", json={
            "apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "p"},
            "deleteOptions": 5})
        assert "Eviction.deleteOptions" in _status(r, 400, "BadRequest")["message"]
        assert c.get(f"/api/v1/namespaces/{ns}/pods/p").status_code == 200
        r = c.put(f"/api/v1/namespaces/{ns}/finalize", json={"metadata": {"name": ns},
                                                               "spec": [1]})
        assert "Namespace.spec" in _status(r, 400, "BadRequest")["message"]


def test_null_status_and_null_labels_read_as_go_reads_them(server, ns):
    pvc = {"metadata": {"name": "pvc"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                                 "resources": {"requests": {"storage": "1Gi"}}}}
    url = f"/api/v1/namespaces/{ns}/persistentvolumeclaims"
    with server.client() as c:
        created = c.post(url, json=pvc)
        assert created.status_code == 201
        r = c.put(f"{url}/pvc", json=pvc | {"status": None})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == created.json()["status"]  # a PUT keeps the status
        # upstream stores a null label or annotation value as "" (json decoding into
        # map[string]string; kubectl does the same since kubernetes#129257)
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {
            "name": "nl", "labels": {"a": None}, "annotations": {"b": None}}})
        assert r.status_code == 201, r.text
        meta = r.json()["metadata"]
        assert meta["labels"] == {"a": ""} and meta["annotations"] == {"b": ""}


def test_table_with_bogus_include_object(server, ns):
    accept = {"accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    with server.client() as c:
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps", params={"includeObject": "Bogus"},
                  headers=accept)
        body = _status(r, 400, "BadRequest")
        assert body["message"].startswith("Unable to convert to Table as requested: "
                                          "includeObject: Unsupported value")
        before = c.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps", params={"includeObject": "Bogus"},
                   headers=accept, json={"metadata": {"name": "t"}})
        _status(r, 400)
        after = c.get(f"/api/v1/namespaces/{ns}/configmaps").json()["metadata"]
        assert after["resourceVersion"] == before["resourceVersion"]


def test_client_disconnecting_mid_upload_is_not_an_internal_error(server, ns):
    with server.connect() as s:
        s.sendall(f"POST /api/v1/namespaces/{ns}/configmaps HTTP/1.1\r\nHost: x\r\n"
                  "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
                  '{"metadata": {"name": "cut"'.encode())
    with server.client() as c:  # the server still answers, and logged no traceback
        deadline = time.monotonic() + 10
        while c.get(f"/api/v1/namespaces/{ns}/configmaps/cut").status_code != 404:
            assert time.monotonic() < deadline
        log = server.log.read_text()
        assert "Traceback" not in log and "internal error" not in log


# -- protections ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["default", "kube-system", "kube-public"])
def test_system_namespaces_cannot_be_deleted(server, name):
    with server.client() as c:
        body = _status(c.delete(f"/api/v1/namespaces/{name}"), 403, "Forbidden")
        assert body["message"] == f'namespaces "{name}" is forbidden: this namespace may not be deleted'
        ns = c.get(f"/api/v1/namespaces/{name}").json()
        assert "deletionTimestamp" not in ns["metadata"]


def test_content_type_and_accept(server, ns):
    url = f"/api/v1/namespaces/{ns}/configmaps"
    body = b'{"metadata": {"name": "ct"}}'
    with server.client() as c:
        # a browser's no-cors fetch: an Origin and no Content-Type
        _status(c.post(url, content=body, headers={"origin": "https://evil.example"}), 415,
                "UnsupportedMediaType")
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            _status(c.post(url, content=body, headers={"content-type": ctype}), 415)
        assert c.get(f"{url}/ct").status_code == 404
        # the official Python client sends creates without one: JSON, as upstream reads it
        assert c.post(url, content=body).status_code == 201
        body = _status(c.get(url, headers={"accept": "application/xml"}), 406, "NotAcceptable")
        assert "application/json" in body["message"]
        assert c.get(url, headers={"accept": "text/html,*/*;q=0.8"}).status_code == 200


def test_methods_on_the_wrong_path(server, ns):
    url = f"/api/v1/namespaces/{ns}/configmaps"
    with server.client() as c:
        _cm(c, ns, "item")
        _status(c.post(f"{url}/item", json={"metadata": {"name": "item"}}), 405,
                "MethodNotAllowed")
        _status(c.put(url, json={"metadata": {"name": "item"}}), 405, "MethodNotAllowed")
        _status(c.patch(url, content=b"{}", headers={
            "content-type": "application/merge-patch+json"}), 405, "MethodNotAllowed")


# -- the server process ---------------------------------------------------------------
@pytest.mark.parametrize("insecure", [True, False])
def test_private_files_and_exposed_host_warning(tmp_path, insecure):
    """umask 000, --host 0.0.0.0: the data dir and its folders are 0700, its files (keys,
    certificates, kubeconfigs) 0600, and over plain HTTP stderr says loudly that the
    server is open to the network (over TLS it is not)."""
    data, port = tmp_path / "data", free_port()
    log = tmp_path / "out.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "kapi.cli", "apiserver", "--data-dir", str(data), "--port",
         str(port), "--host", "0.0.0.0", *(["--insecure-http"] if insecure else [])],
        stdout=log.open("wb"), stderr=subprocess.STDOUT,
        cwd=REPO, preexec_fn=lambda: os.umask(0))
    try:
        deadline = time.monotonic() + 30
        while not (data / "kubeconfig").exists() or not (data / "kapi.db-wal").exists():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert oct(data.stat().st_mode & 0o777) == "0o700"
        for f in data.rglob("*"):
            if f.suffix != ".log":
                want = "0o700" if f.is_dir() else "0o600"
                assert oct(f.stat().st_mode & 0o777) == want, f.name
        assert ("WITHOUT AUTHENTICATION" in log.read_text()) == insecure
        assert (data / "pki" / "ca.key").exists() != insecure
    finally:
        stop_server(proc)


def test_no_http2_over_cleartext(server):
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
    with server.connect(timeout=10) as s:
        s.sendall(preface)
        reply = s.recv(4096)
    # an HTTP/2 server's first bytes are a SETTINGS frame, not a status line
    assert reply.startswith(b"HTTP/1.1 505")
    with server.connect(timeout=10) as s:
        s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
                  b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200")  # answered in HTTP/1.1, not 101 Switching


def test_quiet_log_after_everything(tmp_path):
    """A fresh server fed every bad request above logs no internal error."""
    s = start_server(tmp_path / "q")
    try:
        with s.client() as c:
            c.post("/api/v1/namespaces", json={})
            c.request("DELETE", "/api/v1/namespaces/default/configmaps/x",
                      json={"gracePeriodSeconds": "abc"})
            c.post("/api/v1/namespaces/default/configmaps", headers=Y,
                   content=b"metadata: {name: q}\ndata: {true: x}\n")
        assert "Traceback" not in s.log.read_text()
    finally:
        stop_server(s.proc)


def test_apply_bodies_in_yaml_decode_as_json(server, ns):
    url = f"/api/v1/namespaces/{ns}/configmaps/ap"
    headers = {"content-type": "application/apply-patch+yaml"}
    with server.client() as c:
        r = c.patch(url, params={"fieldManager": "t"}, headers=headers,
                    content=b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap}\n"
                            b"data: {true: a, 1: b}\n")
        assert r.status_code == 201, r.text
        assert r.json()["data"] == {"true": "a", "1": "b"}
        r = c.patch(url, params={"fieldManager": "t"}, headers=headers,
                    content=b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ap}\n"
                            b"data: {~: a}\n")
        _status(r, 400, "BadRequest")
