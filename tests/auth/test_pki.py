"""The data dir's certificates (kapi/auth/pki.py) and the subject the x509 authenticator
reads from a verified certificate (kapi/auth/x509.py), without a server."""

from __future__ import annotations

import ssl
from pathlib import Path

from cryptography import x509

from kapi.auth.pki import ClusterPKI, serving_names
from kapi.auth.x509 import PeerTable, subject_of


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_ca_is_kept_and_leaves_are_made_again_only_when_they_must(tmp_path: Path) -> None:
    pki = ClusterPKI(tmp_path / "pki")
    ca = pki.ensure_ca().cert.read_bytes()
    first = pki.serving(("127.0.0.1", "localhost")).cert.read_bytes()
    assert pki.serving(("localhost",)).cert.read_bytes() == first  # still names it
    assert ClusterPKI(tmp_path / "pki").ensure_ca().cert.read_bytes() == ca
    again = pki.serving(("127.0.0.1", "localhost", "10.1.2.3")).cert.read_bytes()
    assert again != first  # a new name: a new certificate from the same CA
    pair = pki.client("admin", "kubernetes-admin", ("system:masters",))
    assert _load(pair.cert).subject.rfc4514_string() == "CN=kubernetes-admin,O=system:masters"
    assert pki.client("admin", "kubernetes-admin", ("system:masters",)).cert.read_bytes() == \
        pair.cert.read_bytes()
    assert _load(pki.client("admin", "someone-else").cert).subject.rfc4514_string() == \
        "CN=someone-else"
    assert ClusterPKI(tmp_path / "pki").ensure_ca().cert.read_bytes() == ca
    for f in (tmp_path / "pki").iterdir():
        assert oct(f.stat().st_mode & 0o777) == "0o600", f


def test_leaves_verify_against_the_ca(tmp_path: Path) -> None:
    pki = ClusterPKI(tmp_path / "pki")
    serving = _load(pki.serving(serving_names("127.0.0.1", "10.96.0.0/12")).cert)
    client = _load(pki.client("u", "u", ("g1", "g2")).cert)
    ca = _load(pki.ensure_ca().cert)
    serving.verify_directly_issued_by(ca)
    client.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)
    ctx = ssl.create_default_context(cafile=str(pki.ensure_ca().cert))
    ctx.load_cert_chain(tmp_path / "pki" / "u.crt", tmp_path / "pki" / "u.key")  # a pair


def test_subject_and_peer_table() -> None:
    cert = {"subject": ((("organizationName", "system:nodes"),),
                        (("organizationName", "extra"),), (("commonName", "system:node:n1"),))}
    assert subject_of(cert) == ("system:node:n1", ("system:nodes", "extra"))
    assert subject_of({"subject": ((("organizationName", "g"),),)}) is None  # no user name
    peers = PeerTable()
    peers.opened(("127.0.0.1", 5000), ("127.0.0.1", 6443), cert)
    peers.opened(("127.0.0.1", 5001), ("127.0.0.1", 6443), {})  # no certificate
    assert peers.get(("127.0.0.1", 5000), ("127.0.0.1", 6443)) == \
        ("system:node:n1", ("system:nodes", "extra"))
    assert len(peers) == 1
    peers.closed(("127.0.0.1", 5000), ("127.0.0.1", 6443))
    assert len(peers) == 0
