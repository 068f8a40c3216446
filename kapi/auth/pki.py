"""The cluster's certificates: one CA per data dir, the serving certificate, client
certificates for the admin and for kapi's own components.

Layout (kubeadm's names where it has them): `<data-dir>/pki/ca.crt` and `ca.key` (made
once and kept: every kubeconfig and every API server sharing the data dir trusts it),
`apiserver.crt`/`.key` (made again when the names it must carry change), and one
`<name>.crt`/`.key` per client identity. Keys are ECDSA P-256 (handshakes cost a fraction
of RSA's); every file is 0600 from its first byte, whatever the umask.

It owns files under `pki/` only; it never serves, and never reads a request.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_YEARS = 10
LEAF_YEARS = 1  # kubeadm's leaf lifetime; `kapi up` renews what is within a month of it
RENEW_BEFORE = datetime.timedelta(days=30)

# the names kubeadm puts on the API server's certificate besides addresses
SERVICE_NAMES = ("kubernetes", "kubernetes.default", "kubernetes.default.svc",
                 "kubernetes.default.svc.cluster.local")


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path`, 0600 from its first byte whatever the umask (a key or a
    kubeconfig is never readable by others, even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
    tmp.replace(path)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    return x509.Name([*(x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class Pair:
    """A certificate and its key, as files."""

    cert: Path
    key: Path

    def pem(self) -> tuple[bytes, bytes]:
        return self.cert.read_bytes(), self.key.read_bytes()


class ClusterPKI:
    """The certificates of one data dir (`<data-dir>/pki`)."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = Pair(directory / "ca.crt", directory / "ca.key")

    def ensure_ca(self) -> Pair:
        """The cluster CA, made on first use and then kept as it is."""
        if not (self.ca.cert.exists() and self.ca.key.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            name = _name("kubernetes")
            now = _now()
            cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(minutes=5))
                    .not_valid_after(now + datetime.timedelta(days=365 * CA_YEARS))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                    .add_extension(x509.KeyUsage(
                        digital_signature=True, key_cert_sign=True, crl_sign=True,
                        content_commitment=False, key_encipherment=True,
                        data_encipherment=False, key_agreement=False, encipher_only=False,
                        decipher_only=False), True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                        key.public_key()), False)
                    .sign(key, hashes.SHA256()))
            write_private(self.ca.key, _key_pem(key))
            write_private(self.ca.cert, cert.public_bytes(serialization.Encoding.PEM))
        return self.ca

    def serving(self, names: tuple[str, ...]) -> Pair:
        """The API server's certificate for these DNS names and addresses (kept while it
        carries them all and is not about to expire)."""
        pair = Pair(self.dir / "apiserver.crt", self.dir / "apiserver.key")
        if not _fresh(pair, lambda c: set(names) <= _sans(c)):
            self._issue(pair, "kube-apiserver", (), server=True, names=names)
        return pair

    def client(self, file_name: str, user: str, groups: tuple[str, ...] = ()) -> Pair:
        """A client certificate: CN the user name, O the groups (upstream's x509
        authenticator reads them so)."""
        pair = Pair(self.dir / f"{file_name}.crt", self.dir / f"{file_name}.key")
        want = _name(user, groups)
        if not _fresh(pair, lambda c: c.subject == want):
            self._issue(pair, user, groups, server=False)
        return pair

    def _issue(self, pair: Pair, cn: str, orgs: tuple[str, ...], *, server: bool,
               names: tuple[str, ...] = ()) -> None:
        ca = self.ensure_ca()
        ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), None)
        ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)  # ensure_ca makes only these
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = (x509.CertificateBuilder().subject_name(_name(cn, orgs))
             .issuer_name(ca_cert.subject).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=5))
             .not_valid_after(now + datetime.timedelta(days=365 * LEAF_YEARS))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
             .add_extension(x509.ExtendedKeyUsage([usage]), False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 ca_key.public_key()), False))
        if names:
            b = b.add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]),
                                False)
        cert = b.sign(ca_key, hashes.SHA256())
        write_private(pair.key, _key_pem(key))
        write_private(pair.cert, cert.public_bytes(serialization.Encoding.PEM))


def _fresh(pair: Pair, fits: object) -> bool:
    """The pair exists, is not within RENEW_BEFORE of its end, and `fits(cert)`."""
    if not (pair.cert.exists() and pair.key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    except ValueError:
        return False
    return cert.not_valid_after_utc - RENEW_BEFORE > _now() and bool(fits(cert))  # type: ignore[operator]


def _sans(cert: x509.Certificate) -> set[str]:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return set()
    return {*ext.get_values_for_type(x509.DNSName),
            *(str(a) for a in ext.get_values_for_type(x509.IPAddress))}


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def serving_names(host: str, service_cidr: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """What the API server's certificate must name: loopback, this host's name, the
    listen address, the `kubernetes` Service's names and ClusterIP (the CIDR's first
    address), and any node addresses given."""
    first = str(ipaddress.ip_network(service_cidr).network_address + 1)
    names = ["127.0.0.1", "::1", "localhost", socket.gethostname(), *SERVICE_NAMES, first,
             *_host_addresses(), *extra]
    if host not in ("", "0.0.0.0", "::"):
        names.append(host)
    return tuple(dict.fromkeys(n.strip("[]") for n in names if n))


def _host_addresses() -> list[str]:
    """The addresses this host's name resolves to (the node's addresses)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        return []
    return [str(info[4][0]).split("%")[0] for info in infos]
