"""Differences from upstream that real clients noticed (issue 9), each seen the way the
client sees it: status lines and Status bodies byte for byte, boolean query parameters,
metadata-only lists, Secrets written from everyday YAML, JSON-patch failures, WebSocket
upgrades on URLs that serve no stream, and the canonical StatefulSet."""

from __future__ import annotations

import base64
import json

import pytest
import websocket
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.conftest import Kubectl, Server


def raw_http(server: Server, request: str, *, until: bytes = b"\r\n\r\n") -> bytes:
    """Send one HTTP/1.1 request and return what came back up to `until` (bounded)."""
    with server.connect(timeout=10) as s:
        s.sendall(request.encode())
        data = b""
        while until not in data and len(data) < 1 << 20:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def get(path: str, extra: str = "") -> str:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"


# -- 1. reason phrases --------------------------------------------------------------------
@pytest.mark.parametrize(("path", "line"), [
    ("/version", b"HTTP/1.1 200 OK\r\n"),
    ("/api/v1/namespaces/default/configmaps/absent", b"HTTP/1.1 404 Not Found\r\n"),
    ("/api/v1/namespaces/default/configmaps?limit=x", b"HTTP/1.1 400 Bad Request\r\n"),
    ("/api/v1/namespaces/default/configmaps?watch=1&timeoutSeconds=1", b"HTTP/1.1 200 OK\r\n"),
])
def test_status_line_has_reason_phrase(server: Server, path: str, line: bytes) -> None:
    assert raw_http(server, get(path)).startswith(line)


def test_python_client_sees_reason(api_client, ns) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    with pytest.raises(ApiException) as e:
        core.create_namespaced_config_map(ns, {"metadata": {"name": "a"}})
    assert (e.value.status, e.value.reason) == (409, "Conflict")


def test_kubectl_prints_reason(kubectl: Kubectl, ns) -> None:
    p = kubectl.run("get", "configmap", "absent", "-n", ns, check=False)
    assert p.returncode != 0 and "Error from server (NotFound)" in p.stderr


# -- 2. Status bytes ----------------------------------------------------------------------
def test_status_body_is_upstreams_bytes(server: Server, ns) -> None:
    reply = raw_http(server, get(f"/api/v1/namespaces/{ns}/configmaps/absent"), until=b"}\n")
    body = reply.split(b"\r\n\r\n", 1)[1]
    assert body == (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
                    b'"message":"configmaps \\"absent\\" not found","reason":"NotFound",'
                    b'"details":{"name":"absent","kind":"configmaps"},"code":404}\n')


def test_objects_and_lists_in_go_field_order(server: Server, ns) -> None:
    with server.client() as c:
        r = c.post(f"/api/v1/namespaces/{ns}/configmaps",
                   json={"data": {"k": "v"}, "metadata": {"labels": {"b": "1", "a": "2"},
                                                          "name": "order"},
                         "apiVersion": "v1", "kind": "ConfigMap"})
        assert r.status_code == 201 and r.content.endswith(b"}\n")
        obj = r.json()
        assert list(obj) == ["kind", "apiVersion", "metadata", "data"]
        assert list(obj["metadata"]) == ["name", "namespace", "uid", "resourceVersion",
                                         "creationTimestamp", "labels", "managedFields"]
        assert list(obj["metadata"]["labels"]) == ["a", "b"]  # a Go map: keys sorted
        lst = c.get(f"/api/v1/namespaces/{ns}/configmaps", params={"limit": "1"})
        assert list(lst.json()) == ["kind", "apiVersion", "metadata", "items"]
        assert lst.content.endswith(b"}\n")


# -- 3. booleans --------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["True", "TRUE", "t", "yes", ""])
def test_any_watch_value_but_false_opens_a_watch(server: Server, ns, value: str) -> None:
    with server.client() as c:
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps?watch={value}&timeoutSeconds=1")
    assert r.status_code == 200 and '"kind":"ConfigMapList"' not in r.text


@pytest.mark.parametrize("value", ["false", "FALSE", "0"])
def test_false_watch_values_list(server: Server, ns, value: str) -> None:
    with server.client() as c:
        r = c.get(f"/api/v1/namespaces/{ns}/configmaps?watch={value}")
    assert r.json()["kind"] == "ConfigMapList"


# -- 4. metadata-only lists ---------------------------------------------------------------
META_LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"
META_ONE = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1beta1"


def test_partial_object_metadata_list(server: Server, ns) -> None:
    with server.client() as c:
        c.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "m"},
                                                            "data": {"k": "v"}})
        lst = c.get(f"/api/v1/namespaces/{ns}/configmaps", headers={"accept": META_LIST}).json()
        assert (lst["kind"], lst["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
        assert [i["kind"] for i in lst["items"]] == ["PartialObjectMetadata"]
        assert "data" not in lst["items"][0]
        one = c.get(f"/api/v1/namespaces/{ns}/configmaps/m", headers={"accept": META_ONE})
        assert one.json()["apiVersion"] == "meta.k8s.io/v1beta1"
        wrong = c.get(f"/api/v1/namespaces/{ns}/configmaps/m", headers={"accept": META_LIST})
        assert wrong.status_code == 406 and wrong.json()["message"] == (
            "you requested PartialObjectMetadataList, but the requested object is not a "
            "list (*core.ConfigMap)")
        wrong = c.get(f"/apis/apps/v1/namespaces/{ns}/deployments",
                      headers={"accept": META_ONE.replace("v1beta1", "v1")})
        assert wrong.status_code == 406 and wrong.json()["message"].endswith(
            "is a list (*apps.DeploymentList)")


def test_table_in_the_version_asked_for(server: Server, ns) -> None:
    with server.client() as c:
        c.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "t"}})
        for v in ("v1", "v1beta1"):
            r = c.get(f"/api/v1/namespaces/{ns}/configmaps",
                      headers={"accept": f"application/json;as=Table;v={v};g=meta.k8s.io"})
            assert (r.json()["kind"], r.json()["apiVersion"]) == ("Table", f"meta.k8s.io/{v}")


# -- 5 and 11. Secrets ----------------------------------------------------------------------
PEM = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJJVENCeFFJVUFB\nQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\n"
TLS_SECRET = f"""apiVersion: v1
kind: Secret
metadata:
  name: tls
type: kubernetes.io/tls
data:
  tls.crt: |
{"".join("    " + line + chr(10) for line in PEM.splitlines())}  tls.key: |
{"".join("    " + line + chr(10) for line in PEM.splitlines())}stringData:
  extra: plain text
"""


def test_secret_yaml_block_base64_and_string_data(kubectl: Kubectl, api_client, ns) -> None:
    kubectl("apply", "-n", ns, "-f", "-", input=TLS_SECRET)
    got = client.CoreV1Api(api_client).read_namespaced_secret("tls", ns)
    assert got.data["tls.crt"] == PEM.replace("\n", "")
    assert base64.b64decode(got.data["extra"]) == b"plain text"
    raw = json.loads(kubectl("get", "secret", "tls", "-n", ns, "-o", "json"))
    assert "stringData" not in raw
    table = kubectl("get", "secret", "tls", "-n", ns)
    assert table.split("\n")[1].split()[2] == "3"  # DATA: 3 keys
    kubectl("apply", "-n", ns, "-f", "-", input=TLS_SECRET.replace("plain text", "changed"))
    got = client.CoreV1Api(api_client).read_namespaced_secret("tls", ns)
    assert base64.b64decode(got.data["extra"]) == b"changed"


@pytest.mark.parametrize("path", ["create", "replace", "merge", "json", "strategic", "apply"])
def test_string_data_on_every_write_path(server: Server, ns, path: str) -> None:
    url = f"/api/v1/namespaces/{ns}/secrets"
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "YQ==", "b": "Yg=="}, "stringData": {"b": "B", "c": "C"}}
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
             "data": {"a": "YQ==", "b": "Yg=="}}
    with server.client() as c:
        if path == "create":
            r = c.post(url, json=body)
        elif path == "apply":
            r = c.patch(f"{url}/s?fieldManager=t", content=json.dumps(body),
                        headers={"content-type": "application/apply-patch+yaml"})
        else:
            assert c.post(url, json=plain).status_code == 201
            if path == "replace":
                r = c.put(f"{url}/s", json=body)
            elif path == "json":
                r = c.patch(f"{url}/s", content=json.dumps(
                    [{"op": "add", "path": "/stringData", "value": body["stringData"]}]),
                    headers={"content-type": "application/json-patch+json"})
            else:
                kind = "merge" if path == "merge" else "strategic-merge"
                r = c.patch(f"{url}/s", content=json.dumps({"stringData": body["stringData"]}),
                            headers={"content-type": f"application/{kind}-patch+json"})
        assert r.status_code in (200, 201), r.text
        for obj in (r.json(), c.get(f"{url}/s").json()):
            assert "stringData" not in obj
            assert obj["data"] == {"a": "YQ==", "b": "Qg==", "c": "Qw=="}


# -- 6. JSON patch ------------------------------------------------------------------------
def test_failed_json_patch_test_is_422(api_client, ns) -> None:
    core = client.CoreV1Api(api_client)
    core.create_namespaced_config_map(ns, {"metadata": {"name": "p"}, "data": {"k": "v"}})
    with pytest.raises(ApiException) as e:
        core.patch_namespaced_config_map("p", ns, [{"op": "test", "path": "/data/k",
                                                    "value": "other"}])
    assert e.value.status == 422
    assert json.loads(e.value.body)["reason"] == "Invalid"


def test_too_many_json_patch_operations_is_413(server: Server, ns) -> None:
    with server.client() as c:
        c.post(f"/api/v1/namespaces/{ns}/configmaps", json={"metadata": {"name": "p"}})
        ops = [{"op": "test", "path": "/metadata/name", "value": "p"}] * 10001
        r = c.patch(f"/api/v1/namespaces/{ns}/configmaps/p", content=json.dumps(ops),
                    headers={"content-type": "application/json-patch+json"})
    assert r.status_code == 413 and r.json()["reason"] == "RequestEntityTooLarge"
    assert r.json()["message"] == ("Request entity too large: The allowed maximum operations "
                                   "in a JSON patch is 10000, got 10001")


# -- 7. WebSocket upgrades ------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/namespaces/default/configmaps/x/exec?command=ls",
                                  "/api/v1/namespaces/default/nothings/x"])
def test_websocket_upgrade_gets_the_plain_status(server: Server, path: str) -> None:
    with server.client() as c:
        plain = c.get(path)
    with pytest.raises(websocket.WebSocketBadStatusException) as e:
        server.websocket(path, timeout=10, subprotocols=["v4.channel.k8s.io"])
    assert e.value.status_code == plain.status_code == 404
    assert json.loads(e.value.resp_body) == plain.json()


# -- 10. StatefulSet ------------------------------------------------------------------------
WEB = """apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: nginx}
  serviceName: nginx
  replicas: 3
  template:
    metadata:
      labels: {app: nginx}
    spec:
      containers:
      - name: nginx
        image: registry.k8s.io/nginx-slim:0.24
        volumeMounts:
        - name: www
          mountPath: /usr/share/nginx/html
  volumeClaimTemplates:
  - metadata:
      name: www
    spec:
      accessModes: ["ReadWriteOnce"]
      resources:
        requests:
          storage: 1Gi
"""


def test_canonical_statefulset_is_accepted(kubectl: Kubectl, ns) -> None:
    out = kubectl("apply", "--dry-run=server", "-n", ns, "-f", "-", input=WEB)
    assert "statefulset.apps/web created (server dry run)" in out
    p = kubectl.run("apply", "--dry-run=server", "-n", ns, "-f", "-", check=False,
                    input=WEB.replace("name: www\n    spec", "name: data\n    spec"))
    assert 'volumeMounts[0].name: Not found: "www"' in p.stderr
