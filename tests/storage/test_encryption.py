"""The encryption-at-rest wrapper over a real backend (memory): what is stored is
upstream's prefixed ciphertext, every read path (get, list, watch, delete) gives plain
text back, a value moved to another key or written under a key no longer configured
is refused, and keys not configured for encryption are stored as they are."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
import yaml

from kapi.storage import MemoryStorage
from kapi.storage.encryption import EncryptionError, load, wrap

RESOURCES = [("", "secrets", "/registry/secrets/"), ("", "configmaps", "/registry/configmaps/"),
             ("apps", "deployments", "/registry/deployments/")]


def config(tmp: Path, name: str, *, resources: list[str], key: bytes = b"k" * 32,
           identity: bool = True) -> Path:
    providers: list[object] = [{"aesgcm": {"keys": [{"name": name, "secret":
                                                     base64.b64encode(key).decode()}]}}]
    if identity:
        providers.append({"identity": {}})
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "apiserver.config.k8s.io/v1",
                                    "kind": "EncryptionConfiguration",
                                    "resources": [{"resources": resources,
                                                   "providers": providers}]}))
    return path


def test_every_read_path_sees_plain_text(tmp_path: Path) -> None:
    async def run() -> None:
        inner = MemoryStorage()
        store = wrap(inner, config(tmp_path, "k1", resources=["secrets", "*.apps"]), RESOURCES)
        await store.start()
        watch = store.watch("/registry/", after=0)
        kv = await store.create("/registry/secrets/ns/a", b'{"data":"x"}')
        assert kv.value == b'{"data":"x"}'
        raw = await inner.get("/registry/secrets/ns/a")
        assert raw is not None and raw.value.startswith(b"k8s:enc:aesgcm:v1:k1:")
        assert b'"x"' not in raw.value
        await store.create("/registry/deployments/ns/d", b"dep")
        await store.create("/registry/configmaps/ns/c", b"plain")
        assert (await inner.get("/registry/configmaps/ns/c")).value == b"plain"  # type: ignore[union-attr]
        assert not (await inner.get("/registry/deployments/ns/d")).value.startswith(b"dep")  # type: ignore[union-attr]
        listed = await store.list("/registry/")
        assert sorted(i.value for i in listed.items) == [b"dep", b"plain", b'{"data":"x"}']
        events = [await anext(watch) for _ in range(3)]
        assert [e.kv.value for e in events] == [b'{"data":"x"}', b"dep", b"plain"]
        deleted = await store.delete("/registry/secrets/ns/a")
        assert deleted.value == b'{"data":"x"}'
        await store.close()
    asyncio.run(run())


def test_values_only_decrypt_where_and_how_they_were_written(tmp_path: Path) -> None:
    async def run() -> None:
        inner = MemoryStorage()
        store = wrap(inner, config(tmp_path, "k1", resources=["secrets"]), RESOURCES)
        await store.start()
        await store.create("/registry/secrets/ns/a", b"secret")
        stored = (await inner.get("/registry/secrets/ns/a")).value  # type: ignore[union-attr]
        await inner.create("/registry/secrets/ns/copy", stored)  # moved under another key
        with pytest.raises(EncryptionError):
            await store.get("/registry/secrets/ns/copy")
        other = wrap(inner, config(tmp_path, "k2", resources=["secrets"], key=b"z" * 32,
                                   identity=False), RESOURCES)
        with pytest.raises(EncryptionError, match="no provider has the key"):
            await other.get("/registry/secrets/ns/a")
        await inner.create("/registry/secrets/ns/plain", b"unencrypted")
        with pytest.raises(EncryptionError, match="identity is not a provider"):
            await other.get("/registry/secrets/ns/plain")
        assert await other.stale("/registry/secrets/ns/a")  # type: ignore[attr-defined]
        await store.close()
    asyncio.run(run())


def test_a_bad_configuration_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"kind": "EncryptionConfiguration", "resources": [
        {"resources": ["secrets"], "providers": [{"aesgcm": {"keys": [
            {"name": "k", "secret": base64.b64encode(b"short").decode()}]}}]}]}))
    with pytest.raises(ValueError, match="16, 24 or 32 bytes"):
        load(bad)
    bad.write_text(yaml.safe_dump({"kind": "EncryptionConfiguration", "resources": [
        {"resources": ["secrets"], "providers": [{"kms": {}}]}]}))
    with pytest.raises(ValueError, match="not supported"):
        load(bad)
