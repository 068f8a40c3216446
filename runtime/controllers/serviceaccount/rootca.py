"""The root CA certificate the ServiceAccount controller publishes as kube-root-ca.crt.

Where it comes from: the controller manager's --root-ca-file, as upstream (`kapi up`
passes the data dir's cluster CA, the one the API server's certificate chains to, so
pods can verify the server). Without one, in order: the Secret kube-system/kapi-root-ca
(key ca.crt), so a cluster publishes one CA however many controller managers come and
go; else a fresh self-signed CA made with the `cryptography` package when it is
installed (then stored in that Secret); else PLACEHOLDER_CA_PEM. Those last two verify
nothing: they serve a plain-HTTP cluster (`--insecure-http`). It never keeps a private
key and reads no file but the one it is given.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
from typing import Any

from runtime.client.resources import SECRETS
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)

SECRET_NAMESPACE, SECRET_NAME = "kube-system", "kapi-root-ca"

# A well-formed, self-signed CA certificate (CN=kapi-placeholder-ca, valid 100 years)
# whose private key was discarded when it was made: it parses like any CA bundle, and
# verifies nothing. Published when the `cryptography` package is not installed.
PLACEHOLDER_CA_PEM = """\
-----BEGIN CERTIFICATE-----
MIIDLzCCAhegAwIBAgIUfY+2+vh+tty/z6OArqnE3nZujOIwDQYJKoZIhvcNAQEL
BQAwHjEcMBoGA1UEAwwTa2FwaS1wbGFjZWhvbGRlci1jYTAgFw0yNjExMjcwNDE2
MDdaGA8yMTI2MTEwMzA0MTYwN1owHjEcMBoGA1UEAwwTa2FwaS1wbGFjZWhvbGRl
ci1jYTCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBALPsRCMc11RDlHvN
hZuNPZKZuV9shnPJawMdfvBBuNNAzgRRLlcNWrun0VNaTyi84h3xFpAORHX40EUa
+UV5v2FCMwpACMO2QEnBMfQc+mKT8vSNUWWMnPnPjjnmLYwmE26uzkbWSMX+DDsY
W1lQ6Y8JtdgVr+kj8rWjbJkDhIseWJmnKnGSOOKyjiz/kDXRINUMZPKLlVvmtAri
gF7uWhjukQFJbXH9peV90Be6s161q69ziHCShkVWINC4FIm5gGgm+VUFIXN7Cgka
SyPc5RB6WHh1elPnjX4sUHWYXl8u7naSPi9fqyNlvGmkghg9W7Q42Wpij2sTN8hB
QBRZg0ECAwEAAaNjMGEwHQYDVR0OBBYEFMMbegrFNSbiPXMlzjsuN+kXitgxMB8G
A1UdIwQYMBaAFMMbegrFNSbiPXMlzjsuN+kXitgxMA8GA1UdEwEB/wQFMAMBAf8w
DgYDVR0PAQH/BAQDAgEGMA0GCSqGSIb3DQEBCwUAA4IBAQBAOZPHJPBxGdzWWqLo
CM1I6FTbczX8ZBqkpkOR9yjegjn6ytTLrKFEvrayRiRb0QFJx0Y63zwiaqeANh6C
WQE0emlCJidR99PXOwxhfNdPHyagIgasZPXlq/k+5b1eAUl7t1VGYRX/WX5AgGBh
+EhDE/nQZDj+J0EUlvbMQMbwy1d3X7vRaiaRaDrDXxe2G4fj3Q++hpCbzRqjhIMl
hH9PKqTPtnWXx+1cB30OLUHlJKXyRhWoxuEkJn6lfiWenQhLxre2ALjUr4qzj+t8
e4zGGYFidhpuK8yaku5vay+CX6VXLdbcwBplyNRBBpEuOXy1x+6okuO4Kovuq/E5
I1u5
-----END CERTIFICATE-----
"""


def generate_ca_pem(now: dt.datetime) -> str | None:
    """A new self-signed CA certificate (PEM), or None without `cryptography`."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"kapi-ca@{int(now.timestamp())}")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _from_secret(secret: dict[str, Any]) -> str | None:
    data = (secret.get("data") or {}).get("ca.crt")
    if not data:
        return None
    try:
        return base64.b64decode(data).decode()
    except ValueError:
        return None


async def load_root_ca(client: Client, now: dt.datetime, root_ca_file: str = "") -> str:
    """The cluster's root CA PEM (see the module docstring for the order)."""
    if root_ca_file:
        with open(root_ca_file, encoding="ascii") as f:
            return f.read()
    for _ in range(2):  # a lost creation race is settled by reading the winner's
        try:
            secret = await client.get(SECRETS, SECRET_NAME, SECRET_NAMESPACE)
        except ApiError as e:
            if not e.not_found:
                raise
        else:
            pem = _from_secret(secret)
            if pem:
                return pem
            break
        pem = generate_ca_pem(now) or PLACEHOLDER_CA_PEM
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": SECRET_NAME, "namespace": SECRET_NAMESPACE},
                "data": {"ca.crt": base64.b64encode(pem.encode()).decode()}}
        try:
            await client.create(SECRETS, body, SECRET_NAMESPACE)
            return pem
        except ApiError as e:
            if not e.already_exists:
                raise
    log.warning("root CA: %s/%s holds no ca.crt; publishing the placeholder",
                SECRET_NAMESPACE, SECRET_NAME)
    return PLACEHOLDER_CA_PEM
