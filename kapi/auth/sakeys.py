"""The service-account signing key and the documents that publish its public half.

Owns: the RSA key that signs service-account tokens (generated once, 0600, in the data
dir unless `--service-account-signing-key-file` names one), the public keys that verify
them (`--service-account-key-file`, default the signing key's own), upstream's key id
(the unpadded base64url SHA-256 of the public key's DER), and the OIDC discovery
documents served at /.well-known/openid-configuration and /openid/v1/jwks.

It never reads requests or objects: the app serves the documents this module builds.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KEY_FILE = "sa.key"  # in the data dir, as kubeadm's /etc/kubernetes/pki/sa.key
ALGORITHM = "RS256"
JWKS_PATH = "/openid/v1/jwks"
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_CONTENT_TYPE = "application/jwk-set+json"
CACHE_CONTROL = "public, max-age=3600"  # what upstream's OIDC endpoints send


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def key_id(public: rsa.RSAPublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64(hashlib.sha256(der).digest())


def write_private_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    """PEM (PKCS#1, as openssl and kubeadm write sa.key), created 0600 whatever the umask."""
    pem = key.private_bytes(serialization.Encoding.PEM,
                            serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(pem)
    tmp.replace(path)


def load_or_create(path: Path) -> rsa.RSAPrivateKey:
    """The private key at path, generated (RSA 2048) the first time."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_private_key(path, rsa.generate_private_key(public_exponent=65537, key_size=2048))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: not an RSA private key")
    return key


def load_public_keys(path: Path) -> list[rsa.RSAPublicKey]:
    """Every RSA public key in a PEM file: public keys, certificates' keys or the public
    half of private keys (upstream's --service-account-key-file accepts all three)."""
    from cryptography import x509
    keys = []
    for m in re.finditer(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", path.read_bytes(),
                         re.S):
        kind, pem = m.group(1), m.group(0)
        if kind == b"CERTIFICATE":
            public: Any = x509.load_pem_x509_certificate(pem).public_key()
        elif kind.endswith(b"PRIVATE KEY"):
            public = serialization.load_pem_private_key(pem, password=None).public_key()
        else:
            public = serialization.load_pem_public_key(pem)
        if isinstance(public, rsa.RSAPublicKey):
            keys.append(public)
    if not keys:
        raise ValueError(f"{path}: no RSA key found")
    return keys


@dataclass(frozen=True)
class KeySet:
    """The signing key and every key a token may verify against."""

    signing: rsa.RSAPrivateKey
    verifying: tuple[rsa.RSAPublicKey, ...]

    @property
    def kid(self) -> str:
        return key_id(self.signing.public_key())

    def jwks(self) -> dict[str, Any]:
        keys = []
        for public in self.verifying:
            numbers = public.public_numbers()
            keys.append({"use": "sig", "kty": "RSA", "kid": key_id(public), "alg": ALGORITHM,
                         "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                         "e": _b64(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big"))})
        return {"keys": keys}


def open_keys(data_dir: Path, signing_file: Path | None,
              key_files: tuple[Path, ...]) -> KeySet:
    signing = load_or_create(signing_file or data_dir / KEY_FILE)
    verifying: list[rsa.RSAPublicKey] = [signing.public_key()]
    for f in key_files:
        verifying += [k for k in load_public_keys(f)
                      if key_id(k) not in {key_id(v) for v in verifying}]
    return KeySet(signing, tuple(verifying))


def discovery_document(issuer: str, jwks_uri: str) -> bytes:
    """upstream's openid-configuration (pkg/serviceaccount/openidmetadata.go fields)."""
    return orjson.dumps({"issuer": issuer, "jwks_uri": jwks_uri,
                         "response_types_supported": ["id_token"],
                         "subject_types_supported": ["public"],
                         "id_token_signing_alg_values_supported": [ALGORITHM]})
