"""Nodes joining with a bootstrap token (kubeadm/k3s-agent style) against a real `kapi up`
(API server plus controller manager): `kapi token create`, the token authenticating as
system:bootstrap:<id>, discovery of the CA pinned by its hash, the node's CSR auto-approved
by csrapproving and signed by csrsigning with the data dir's CA, and the node then
running as system:node:NAME; `kubectl certificate approve` for requests nobody
auto-approves. The joined node here is a simulated one (tests/e2e/test_network_join.py
joins a Docker kubelet from a network namespace).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kapi.auth.bootstraptoken import secret_for
from runtime.kubelet.bootstrap import BootstrapError, ca_cert_hash, join
from tests.conftest import REPO, Server, kubectl_or_skip, start_server, stop_server
from tests.helpers import wait_for


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    s = start_server(tmp_path_factory.mktemp("join"), command="up",
                     extra=("--nodes", "0", "--no-dns", "--no-proxy"))
    yield s
    stop_server(s.proc)


def kapi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kapi.cli", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=60)


def whoami(server: Server, token: str) -> Any:
    with server.client(token=token, cert=False) as c:
        r = c.post("/apis/authentication.k8s.io/v1/selfsubjectreviews",
                   json={"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    return r.status_code, r.json()


def test_token_create_makes_upstreams_secret_and_authenticates(up: Server) -> None:
    done = kapi("token", "create", "--kubeconfig", str(up.kubeconfig), "--ttl", "1h",
                "--description", "for node-a")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    token_id, _, token_secret = token.partition(".")
    with up.client() as c:
        secret = c.get(f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}").json()
    assert secret["type"] == "bootstrap.kubernetes.io/token"
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["token-id"] == token_id and data["token-secret"] == token_secret
    assert data["usage-bootstrap-authentication"] == data["usage-bootstrap-signing"] == "true"
    assert data["auth-extra-groups"] == "system:bootstrappers:kubeadm:default-node-token"
    assert data["description"] == "for node-a"
    expires = dt.datetime.fromisoformat(data["expiration"].replace("Z", "+00:00"))
    assert dt.timedelta(minutes=58) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=1)
    code, review = whoami(up, token)
    assert code == 201, review
    assert review["status"]["userInfo"] == {
        "username": f"system:bootstrap:{token_id}",
        "groups": ["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token",
                   "system:authenticated"]}
    # a wrong secret for the same id is nobody
    assert whoami(up, f"{token_id}.{'0' * 16}")[0] == 401


def test_expired_and_malformed_tokens_do_not_authenticate_and_expired_go(up: Server) -> None:
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    secret = secret_for("abcdef.0123456789abcdef", expiration=past,
                        usages=("authentication",), groups=())
    with up.client() as c:
        assert c.post("/api/v1/namespaces/kube-system/secrets", json=secret).status_code == 201
    assert whoami(up, "abcdef.0123456789abcdef")[0] == 401
    with up.client() as c:  # and the token cleaner deletes its Secret
        wait_for(lambda: c.get("/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef")
                 .status_code == 404, "the expired token's Secret to be deleted")
    bad = kapi("token", "create", "ABC.def", "--kubeconfig", str(up.kubeconfig))
    assert bad.returncode == 2 and "does not match the format" in bad.stderr
    bad = kapi("token", "create", "--groups", "admins", "--kubeconfig", str(up.kubeconfig))
    assert bad.returncode == 2 and "system:bootstrappers:" in bad.stderr


def _join_command(up: Server) -> tuple[str, str]:
    done = kapi("token", "create", "--kubeconfig", str(up.kubeconfig), "--print-join-command")
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words[:4] == ["kapi", "kubelet", "--server", up.url]
    return words[words.index("--token") + 1], words[words.index("--ca-cert-hash") + 1]


def test_a_wrong_ca_hash_refuses_before_sending_the_token(up: Server, tmp_path: Path) -> None:
    token, pin = _join_command(up)
    assert pin == ca_cert_hash(up.ca.read_bytes())
    with up.client() as c:
        before = len(c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests")
                     .json()["items"])
    with pytest.raises(BootstrapError, match="does not match --ca-cert-hash"):
        asyncio.run(join(up.url, token, "n-wrong", tmp_path / "kc", pin="sha256:" + "0" * 64))
    assert not (tmp_path / "kc").exists()
    with up.client() as c:
        after = c.get("/apis/certificates.k8s.io/v1/certificatesigningrequests").json()["items"]
    assert len(after) == before


def test_a_node_joins_and_runs_a_pod_as_itself(up: Server, tmp_path: Path) -> None:
    token, pin = _join_command(up)
    kubeconfig = asyncio.run(join(up.url, token, "joined-sim-0", tmp_path / "node.kubeconfig",
                                  pin=pin, timeout=60))
    assert kubeconfig.stat().st_mode & 0o777 == 0o600
    # a restarted node reuses its certificate: no token needed, no second CSR
    assert asyncio.run(join(up.url, "unused.0000000000000000", "joined-sim-0", kubeconfig,
                            pin=pin, timeout=5)) == kubeconfig
    kubectl = kubectl_or_skip("1.33", kubeconfig)
    me = json.loads(kubectl("auth", "whoami", "-o", "json"))["status"]["userInfo"]
    assert me["username"] == "system:node:joined-sim-0"
    assert me["groups"] == ["system:nodes", "system:authenticated"]
    admin = kubectl_or_skip("1.33", up.kubeconfig)
    csrs = json.loads(admin("get", "csr", "-o", "json"))["items"]
    mine = [c for c in csrs if c["spec"]["username"] == f"system:bootstrap:{token[:6]}"]
    assert len(mine) == 1
    approved = [c for c in mine[0]["status"]["conditions"] if c["type"] == "Approved"]
    assert approved[0]["reason"] == "AutoApproved"
    cert = x509.load_pem_x509_certificate(base64.b64decode(mine[0]["status"]["certificate"]))
    ca = x509.load_pem_x509_certificate(up.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
    # the joined identity runs a (simulated) node that runs a pod
    node = subprocess.Popen(
        [sys.executable, "-c", "import asyncio, sys\n"
         "from runtime.client.rest import Client\n"
         "from runtime.kubelet.simulated import run_simulated_nodes\n"
         "asyncio.run(run_simulated_nodes(Client.from_kubeconfig(sys.argv[1]), count=1, "
         "prefix='joined-sim-'))", str(kubeconfig)], cwd=REPO)
    try:
        wait_for(lambda: "Ready" in admin.run("get", "node", "joined-sim-0", check=False).stdout,
                 "the joined node to register", timeout=60)
        admin("run", "p", "--image", "busybox", "--restart", "Never",
              "--overrides", json.dumps({"spec": {"nodeName": "joined-sim-0"}}))
        wait_for(lambda: admin("get", "pod", "p", "-o", "jsonpath={.status.phase}") == "Running",
                 "the pod to run on the joined node", timeout=60)
    finally:
        node.terminate()
        node.wait(timeout=30)
        admin.run("delete", "pod", "p", "--wait=false", check=False)


def _csr(name: str, signer: str, cn: str, orgs: tuple[str, ...], usages: list[str]) -> Any:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    pem = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(
        key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                     "usages": usages, "expirationSeconds": 3600}}


def _condition(admin: Any, name: str) -> str:
    return str(admin("get", "csr", name, "-o", "custom-columns=C:.status.conditions[*].type",
                     "--no-headers"))


def test_kubectl_certificate_approve_gets_a_manual_request_signed(up: Server) -> None:
    admin = kubectl_or_skip("1.33", up.kubeconfig)
    with up.client() as c:
        csr = _csr("alice", "kubernetes.io/kube-apiserver-client", "alice", ("devs",),
                   ["digital signature", "client auth"])
        assert c.post("/apis/certificates.k8s.io/v1/certificatesigningrequests",
                      json=csr).status_code == 201
    assert "Approved" not in _condition(admin, "alice")  # nobody auto-approves these
    assert "approved" in admin("certificate", "approve", "alice")
    issued = wait_for(lambda: admin("get", "csr", "alice", "-o",
                                    "jsonpath={.status.certificate}"), "alice's certificate")
    cert = x509.load_pem_x509_certificate(base64.b64decode(issued))
    assert cert.subject.rfc4514_string() == "CN=alice,O=devs"
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= dt.timedelta(hours=1, minutes=5)  # expirationSeconds, 5 min backdated


def test_the_signer_fails_a_kubelet_request_that_is_not_a_nodes(up: Server) -> None:
    admin = kubectl_or_skip("1.33", up.kubeconfig)
    with up.client() as c:
        csr = _csr("not-a-node", "kubernetes.io/kube-apiserver-client-kubelet", "mallory",
                   ("system:nodes",), ["digital signature", "client auth"])
        assert c.post("/apis/certificates.k8s.io/v1/certificatesigningrequests",
                      json=csr).status_code == 201
    admin("certificate", "approve", "not-a-node")
    wait_for(lambda: "Failed" in _condition(admin, "not-a-node"), "the signer to refuse it")
    got = json.loads(admin("get", "csr", "not-a-node", "-o", "json"))
    assert "certificate" not in got["status"]
    failed = [c for c in got["status"]["conditions"] if c["type"] == "Failed"][0]
    assert failed["reason"] == "SignerValidationFailure"
    assert "system:node:" in failed["message"]


def test_a_denied_request_ends_the_join(up: Server, tmp_path: Path) -> None:
    """A token whose group has no auto-approval binding waits for a person; denied, the
    join stops with the reason."""
    admin = kubectl_or_skip("1.33", up.kubeconfig)
    done = kapi("token", "create", "--kubeconfig", str(up.kubeconfig),
                "--groups", "system:bootstrappers:manual")
    token = done.stdout.strip()
    admin("create", "clusterrolebinding", "manual-bootstrap", "--clusterrole",
          "system:node-bootstrapper", "--group", "system:bootstrappers:manual")

    async def attempt() -> None:
        task = asyncio.create_task(join(up.url, token, "n-manual", tmp_path / "kc",
                                        pin=ca_cert_hash(up.ca.read_bytes()), timeout=60))
        name = ""
        for _ in range(300):
            await asyncio.sleep(0.1)
            out = admin("get", "csr", "--no-headers")
            name = next((line.split()[0] for line in out.splitlines()
                         if f"system:bootstrap:{token[:6]}" in line), "")
            if name:
                break
        assert name and "Approved" not in _condition(admin, name)
        admin("certificate", "deny", name)
        with pytest.raises(BootstrapError, match="was denied"):
            await task
    asyncio.run(attempt())
    assert not (tmp_path / "kc").exists()
