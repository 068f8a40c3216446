"""Encryption at rest: upstream's EncryptionConfiguration (apiserver.config.k8s.io/v1) as
a storage wrapper that transforms values on their way in and out.

The first provider listed for a resource encrypts every write; a read is decrypted by
whichever listed provider's prefix the stored value carries (`k8s:enc:aesgcm:v1:NAME:`,
`k8s:enc:aescbc:v1:NAME:`), and a value with no such prefix is read as plain text only
if `identity` is listed. AES-GCM binds each value to its key (the storage key is the
authenticated data, as upstream), so a value copied under another key does not decrypt.
Because the wrapper sits below everything, get, list, watch and the watch cache only
ever see plain text. It never changes keys, revisions or the order of anything.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Protocol

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kapi.storage import interface as st

KEY_FILE = "encryption-config.yaml"  # what --encrypt-secrets writes in the data dir


class EncryptionError(st.StorageError):
    """A stored value no configured provider can read (a missing key, a tampered value)."""


class Provider(Protocol):
    prefix: bytes

    def encrypt(self, key: str, plain: bytes) -> bytes: ...

    def decrypt(self, key: str, stored: bytes) -> bytes: ...


@dataclass
class Identity:
    prefix: bytes = b""

    def encrypt(self, key: str, plain: bytes) -> bytes:
        return plain

    def decrypt(self, key: str, stored: bytes) -> bytes:
        return stored


class AESGCMKey:
    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aesgcm:v1:{name}:".encode()
        self.aead = AESGCM(secret)

    def encrypt(self, key: str, plain: bytes) -> bytes:
        nonce = os.urandom(12)
        return self.prefix + nonce + self.aead.encrypt(nonce, plain, key.encode())

    def decrypt(self, key: str, stored: bytes) -> bytes:
        body = stored[len(self.prefix):]
        return self.aead.decrypt(body[:12], body[12:], key.encode())


class AESCBCKey:
    def __init__(self, name: str, secret: bytes) -> None:
        self.prefix = f"k8s:enc:aescbc:v1:{name}:".encode()
        self.secret = secret

    def encrypt(self, key: str, plain: bytes) -> bytes:
        iv = os.urandom(16)
        padder = padding.PKCS7(128).padder()
        data = padder.update(plain) + padder.finalize()
        enc = Cipher(algorithms.AES(self.secret), modes.CBC(iv)).encryptor()
        return self.prefix + iv + enc.update(data) + enc.finalize()

    def decrypt(self, key: str, stored: bytes) -> bytes:
        body = stored[len(self.prefix):]
        dec = Cipher(algorithms.AES(self.secret), modes.CBC(body[:16])).decryptor()
        data = dec.update(body[16:]) + dec.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        return unpadder.update(data) + unpadder.finalize()


@dataclass
class Transformer:
    """The providers of one set of resources, the writing one first."""

    providers: list[Provider]

    def to_storage(self, key: str, plain: bytes) -> bytes:
        return self.providers[0].encrypt(key, plain)

    def stale(self, stored: bytes) -> bool:
        """Written by another provider than the one writing now (rewrite it)."""
        first = self.providers[0].prefix
        return not stored.startswith(first) if first else stored.startswith(b"k8s:enc:")

    def from_storage(self, key: str, stored: bytes) -> bytes:
        for p in self.providers:
            if p.prefix and stored.startswith(p.prefix):
                try:
                    return p.decrypt(key, stored)
                except Exception as e:  # a wrong key or a tampered value
                    raise EncryptionError(f"{key}: cannot decrypt: {type(e).__name__}") from None
        if stored.startswith(b"k8s:enc:"):
            raise EncryptionError(f"{key}: no provider has the key this value was written with")
        if any(isinstance(p, Identity) for p in self.providers):
            return stored
        raise EncryptionError(f"{key}: stored unencrypted, and identity is not a provider")


# -- the configuration file -------------------------------------------------------------
def _keys(kind: str, conf: Any) -> list[Provider]:
    out: list[Provider] = []
    for k in (conf or {}).get("keys") or []:
        secret = base64.b64decode(str(k.get("secret", "")))
        if len(secret) not in (16, 24, 32):
            raise ValueError(f"{kind} key {k.get('name')!r}: the secret must be 16, 24 or 32 "
                             "bytes (base64)")
        out.append((AESGCMKey if kind == "aesgcm" else AESCBCKey)(str(k["name"]), secret))
    if not out:
        raise ValueError(f"{kind}: at least one key is required")
    return out


def load(path: Path) -> list[tuple[list[str], Transformer]]:
    """(resource patterns such as "secrets" or "*.apps", transformer) per entry of an
    EncryptionConfiguration file; ValueError names what is wrong."""
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict) or doc.get("kind") != "EncryptionConfiguration":
        raise ValueError(f"{path}: not an EncryptionConfiguration")
    out = []
    for entry in doc.get("resources") or []:
        providers: list[Provider] = []
        for p in entry.get("providers") or []:
            (kind, conf), = p.items()
            if kind == "identity":
                providers.append(Identity())
            elif kind in ("aesgcm", "aescbc"):
                providers += _keys(kind, conf)
            else:
                raise ValueError(f"{path}: provider {kind!r} is not supported "
                                 "(aesgcm, aescbc, identity)")
        if not providers:
            raise ValueError(f"{path}: every resources entry needs a provider")
        out.append(([str(r) for r in entry.get("resources") or []], Transformer(providers)))
    return out


def write_default(data_dir: Path) -> Path:
    """--encrypt-secrets: an aesgcm key for Secrets in the data dir (made once, 0600)."""
    path = data_dir / KEY_FILE
    if not path.exists():
        secret = base64.b64encode(os.urandom(32)).decode()
        doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
               "resources": [{"resources": ["secrets"], "providers": [
                   {"aesgcm": {"keys": [{"name": "key1", "secret": secret}]}},
                   {"identity": {}}]}]}
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f)
    return path


def matches(pattern: str, resource: str, group: str) -> bool:
    want_res, _, want_group = pattern.partition(".")
    return want_res in ("*", resource) and (want_group == group or want_group == "*")


class EncryptedStorage:
    """A Storage whose values under the given key prefixes go through a transformer."""

    def __init__(self, inner: st.Storage, by_prefix: dict[str, Transformer]) -> None:
        self.inner = inner
        self.by_prefix = sorted(by_prefix.items(), key=lambda kv: -len(kv[0]))

    def _t(self, key: str) -> Transformer | None:
        return next((t for p, t in self.by_prefix if key.startswith(p)), None)

    def _out(self, kv: st.KeyValue | None) -> Any:
        t = None if kv is None else self._t(kv.key)
        if kv is None or t is None:
            return kv
        return st.KeyValue(kv.key, t.from_storage(kv.key, kv.value), kv.create_revision,
                           kv.mod_revision)

    def _in(self, key: str, value: bytes) -> bytes:
        t = self._t(key)
        return value if t is None else t.to_storage(key, value)

    async def stale(self, key: str) -> bool:
        """Whether the value at key needs rewriting with the current writing provider
        (upstream forces such a write even when the object did not change)."""
        t = self._t(key)
        kv = None if t is None else await self.inner.get(key)
        return t is not None and kv is not None and t.stale(kv.value)

    async def start(self) -> None:
        await self.inner.start()

    async def close(self) -> None:
        await self.inner.close()

    async def current_revision(self) -> int:
        return await self.inner.current_revision()

    async def compacted_revision(self) -> int:
        return await self.inner.compacted_revision()

    async def get(self, key: str) -> st.KeyValue | None:
        kv: st.KeyValue | None = self._out(await self.inner.get(key))
        return kv

    async def list(self, prefix: str, *, revision: int = 0, start_after: str = "",
                   limit: int = 0) -> st.ListResult:
        res = await self.inner.list(prefix, revision=revision, start_after=start_after,
                                    limit=limit)
        return st.ListResult([self._out(kv) for kv in res.items], res.revision, res.more)

    async def count(self, prefix: str, *, revision: int = 0, start_after: str = "") -> int:
        return await self.inner.count(prefix, revision=revision, start_after=start_after)

    async def create(self, key: str, value: bytes) -> st.KeyValue:
        kv = await self.inner.create(key, self._in(key, value))
        return st.KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> st.KeyValue:
        kv = await self.inner.update(key, self._in(key, value),
                                     expected_revision=expected_revision)
        return st.KeyValue(key, value, kv.create_revision, kv.mod_revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> st.KeyValue:
        kv: st.KeyValue = self._out(await self.inner.delete(
            key, expected_revision=expected_revision))
        return kv

    async def watch(self, prefix: str, *, after: int) -> AsyncIterator[st.Event]:
        async for ev in self.inner.watch(prefix, after=after):
            yield st.Event(ev.type, self._out(ev.kv), self._out(ev.prev), ev.revision)

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    def __getattr__(self, name: str) -> Any:  # backend extras (e.g. the sqlite path)
        return getattr(self.inner, name)


def wrap(storage: st.Storage, config_file: Path | None,
         resources: list[tuple[str, str, str]]) -> st.Storage:
    """storage, encrypted as the file says for each (group, resource, key prefix)."""
    if config_file is None:
        return storage
    entries = load(config_file)
    by_prefix: dict[str, Transformer] = {}
    for group, resource, prefix in resources:
        for patterns, t in entries:
            if any(matches(p, resource, group) for p in patterns):
                by_prefix.setdefault(prefix, t)
                break
    return EncryptedStorage(storage, by_prefix)
