"""HTTPS by default: the generated kubeconfig (as kind writes it) works for real kubectl
and the official Python client, each identity is what its certificate says, anonymous
callers reach only the public paths, a certificate from another CA gets nothing, and
`--insecure-http` keeps plain HTTP where every caller is the admin."""

from __future__ import annotations

import base64
import ssl
import subprocess
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import yaml
from cryptography import x509

from kapi.auth.pki import ClusterPKI
from tests.conftest import Kubectl, Server, start_server, stop_server
from tests.helpers import api_for

UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def whoami(kubectl: Kubectl, kubeconfig: Path) -> dict:
    out = kubectl.run("--kubeconfig", str(kubeconfig), "auth", "whoami", "-o", "yaml")
    return yaml.safe_load(out.stdout)["status"]["userInfo"]


def test_the_kubeconfig_is_like_kinds(server: Server) -> None:
    kc = yaml.safe_load(server.kubeconfig.read_text())
    cluster = kc["clusters"][0]["cluster"]
    user = kc["users"][0]["user"]
    assert cluster["server"] == f"https://127.0.0.1:{server.port}"
    assert base64.b64decode(cluster["certificate-authority-data"]) == server.ca.read_bytes()
    cert = x509.load_pem_x509_certificate(base64.b64decode(user["client-certificate-data"]))
    assert cert.subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert base64.b64decode(user["client-key-data"]).startswith(b"-----BEGIN PRIVATE KEY")
    for f in (server.kubeconfig, server.data_dir / "pki" / "ca.key",
              *server.data_dir.glob("kubeconfigs/*")):
        assert oct(f.stat().st_mode & 0o777) == "0o600", f


def test_the_serving_certificate_names_the_cluster(server: Server) -> None:
    pem = ssl.get_server_certificate(("127.0.0.1", server.port))
    cert = x509.load_pem_x509_certificate(pem.encode())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = set(sans.get_values_for_type(x509.DNSName))
    addresses = {str(a) for a in sans.get_values_for_type(x509.IPAddress)}
    assert {"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local"} <= names
    assert {"127.0.0.1", "::1", "10.96.0.1"} <= addresses


@pytest.mark.kubectl
def test_kubectl_over_tls_as_the_admin(kubectl: Kubectl) -> None:
    assert "kube-system" in kubectl("get", "namespaces", "-o", "name")
    me = whoami(kubectl, kubectl.kubeconfig)
    assert me == {"username": "kubernetes-admin",
                  "groups": ["system:masters", "system:authenticated"]}


def test_python_client_over_tls(server: Server) -> None:
    from kubernetes import client

    with api_for(server.kubeconfig) as api:
        names = [n.metadata.name for n in client.CoreV1Api(api).list_namespace().items]
        assert "default" in names
        review = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
        assert review.status.user_info.username == "kubernetes-admin"


def test_http2_is_negotiated(server: Server) -> None:
    with httpx.Client(base_url=server.url, http2=True, verify=server.ssl_context()) as c:
        r = c.get("/api/v1/namespaces/default")
    assert r.status_code == 200 and r.http_version == "HTTP/2"


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/version"])
def test_anonymous_reaches_the_public_paths(server: Server, path: str) -> None:
    with server.client(cert=False) as c:
        assert c.get(path).status_code == 200


@pytest.mark.parametrize("path", ["/api", "/apis", "/openapi/v2", "/api/v1/namespaces",
                                  "/apis/apps/v1/namespaces/default/deployments",
                                  "/healthz/ping", "/metrics"])
def test_anonymous_gets_401_elsewhere(server: Server, path: str) -> None:
    with server.client(cert=False) as c:
        r = c.get(path)
        assert r.status_code == 401 and r.json() == UNAUTHORIZED
        r = c.post("/api/v1/namespaces", json={"metadata": {"name": "anon"}})
        assert r.status_code == 401
    with server.client() as c:
        assert c.get("/api/v1/namespaces/anon").status_code == 404  # nothing was created


@pytest.mark.kubectl
def test_kubectl_without_a_valid_credential_is_unauthorized(kubectl: Kubectl,
                                                            tmp_path: Path) -> None:
    """(with no credential at all kubectl would prompt for a password)"""
    kc = yaml.safe_load(kubectl.kubeconfig.read_text())
    kc["users"][0]["user"] = {"token": "not-a-token-anyone-knows"}
    (tmp_path / "kc").write_text(yaml.safe_dump(kc))
    p = kubectl.run("--kubeconfig", str(tmp_path / "kc"), "get", "pods", check=False)
    assert p.returncode != 0
    assert "Unauthorized" in p.stderr or "must be logged in" in p.stderr, p.stderr


@pytest.fixture
def foreign(tmp_path: Path, server: Server) -> Iterator[Path]:
    """A kubeconfig with the right CA but an admin certificate another CA signed."""
    pair = ClusterPKI(tmp_path / "other").client("intruder", "kubernetes-admin",
                                                 ("system:masters",))
    kc = yaml.safe_load(server.kubeconfig.read_text())
    cert, key = pair.pem()
    kc["users"][0]["user"] = {"client-certificate-data": base64.b64encode(cert).decode(),
                              "client-key-data": base64.b64encode(key).decode()}
    path = tmp_path / "foreign.kubeconfig"
    path.write_text(yaml.safe_dump(kc))
    yield path


def test_a_certificate_of_another_ca_gets_nothing(server: Server, foreign: Path,
                                                  tmp_path: Path) -> None:
    """Refused at the handshake (Python's ssl verifies any certificate it asks for):
    not one byte of an answer, and nothing is created."""
    other = tmp_path / "other"
    ctx = ssl.create_default_context(cafile=str(server.ca))
    ctx.load_cert_chain(other / "intruder.crt", other / "intruder.key")
    with httpx.Client(base_url=server.url, verify=ctx) as c, pytest.raises(httpx.HTTPError):
        c.post("/api/v1/namespaces", json={"metadata": {"name": "intruded"}})
    with server.client() as c:
        assert c.get("/api/v1/namespaces/intruded").status_code == 404


@pytest.mark.kubectl
def test_kubectl_with_a_certificate_of_another_ca_gets_nothing(kubectl: Kubectl,
                                                                foreign: Path) -> None:
    p = kubectl.run("--kubeconfig", str(foreign), "get", "namespaces", check=False,
                    timeout=120)
    assert p.returncode != 0 and "kube-system" not in p.stdout


def test_components_have_their_own_identities(cluster: Server) -> None:
    """Each kubeconfig `kapi up` wrote for its components authenticates as upstream's
    identity for that component (the kubeconfigs the running components use)."""
    want = {"controller-manager": ("system:kube-controller-manager", []),
            "scheduler": ("system:kube-scheduler", []),
            "proxy": ("system:kube-proxy", []),
            "dns": ("system:serviceaccount:kube-system:coredns",
                    ["system:serviceaccounts", "system:serviceaccounts:kube-system"])}
    for name, (user, groups) in want.items():
        info = _review(cluster.data_dir / "kubeconfigs" / f"{name}.kubeconfig")
        assert info == {"username": user, "groups": [*groups, "system:authenticated"]}, name


def _review(kubeconfig: Path) -> dict:
    from kubernetes import client

    with api_for(kubeconfig) as api:
        r = client.AuthenticationV1Api(api).create_self_subject_review(
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
            _preload_content=False)
        return yaml.safe_load(r.data)["status"]["userInfo"]


def test_the_ca_is_made_once_per_data_dir(tmp_path: Path) -> None:
    s = start_server(tmp_path / "d")
    ca = s.ca.read_bytes()
    stop_server(s.proc)
    s = start_server(tmp_path / "d")
    try:
        assert s.ca.read_bytes() == ca
        with s.client() as c:
            assert c.get("/api/v1/namespaces/default").status_code == 200
    finally:
        stop_server(s.proc)


def test_insecure_http_keeps_the_anonymous_admin(tmp_path: Path) -> None:
    s = start_server(tmp_path / "plain", extra=("--insecure-http",))
    try:
        assert s.url.startswith("http://")
        assert "certificate-authority-data" not in s.kubeconfig.read_text()
        with httpx.Client(base_url=s.url) as c:  # no credentials at all
            r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                       json={"apiVersion": "authentication.k8s.io/v1",
                             "kind": "SelfSubjectReview"})
            assert r.status_code == 201
            assert r.json()["status"]["userInfo"]["username"] == "system:admin"
            assert c.get("/api/v1/namespaces").status_code == 200
    finally:
        stop_server(s.proc)
    assert not (tmp_path / "plain" / "pki").exists()


def test_whoami_with_kubectl_1_27_1_30_and_1_33(server: Server) -> None:
    from tests.conftest import kubectls

    found = kubectls()
    for version in ("1.27", "1.30", "1.33"):
        if version not in found:
            continue
        out = subprocess.run([str(found[version]), "--kubeconfig", str(server.kubeconfig),
                              "auth", "whoami"], capture_output=True, text=True, timeout=60)
        assert "kubernetes-admin" in out.stdout, out.stderr


def test_kube_root_ca_is_the_cluster_ca(cluster: Server) -> None:
    """`kapi up` hands its controller manager the data dir's CA (--root-ca-file): every
    namespace's kube-root-ca.crt is the CA the API server's certificate chains to."""
    from tests.helpers import wait_for

    with cluster.client() as c:
        def published() -> str:
            r = c.get("/api/v1/namespaces/default/configmaps/kube-root-ca.crt")
            return r.json()["data"]["ca.crt"] if r.status_code == 200 else ""
        pem = wait_for(published, "kube-root-ca.crt in default")
    assert pem == cluster.ca.read_text()
    ctx = ssl.create_default_context(cadata=pem)
    with httpx.Client(base_url=cluster.url, verify=ctx) as c:
        assert c.get("/version").status_code == 200
