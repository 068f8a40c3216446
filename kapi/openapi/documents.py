"""OpenAPIDocs: every OpenAPI document built once, kept as serialized bytes and ETag.

Owns: serializing the documents kapi.openapi.v2 and kapi.openapi.v3 render, their content
hashes (upstream's upper-case hex SHA-512) and the build-once cache the serving code reads.
It must never touch HTTP (no requests, headers or status codes here).
"""

from __future__ import annotations

import hashlib
import threading
from typing import Callable

import orjson

from kapi.meta.resources import Scheme
from kapi.meta.schema import Definitions, load_definitions
from kapi.openapi.aggregated import RemoteSpecs, merge_v2
from kapi.openapi.v2 import Doc, openapi_v2
from kapi.openapi.v3 import V3Schemas, openapi_v3_document, v3_keys, v3_root
from kapi.registry.kinds import SCHEME


def serialize(doc: Doc) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def content_hash(data: bytes) -> str:
    """Upstream's document hash: upper-case hex SHA-512 of the serialized document."""
    return hashlib.sha512(data).hexdigest().upper()


def etag(content_hash_: str) -> str:
    """The ETag header value (quoted) for a content hash."""
    return f'"{content_hash_}"'


class OpenAPIDocs:
    """Every OpenAPI document, each built on first request and then served as bytes.

    Methods return (body bytes, ETag header value); serving code sets ETag and answers
    If-None-Match with 304. The v3 root's URLs carry each document's hash, which is also
    its ETag without the quotes.
    """

    def __init__(self, scheme: Scheme = SCHEME, defs: Definitions | None = None,
                 remote: RemoteSpecs | None = None) -> None:
        self.scheme = scheme
        self.remote = remote  # the aggregated servers' documents
        self.defs = defs if defs is not None else load_definitions()
        self._schemas = V3Schemas(self.defs)
        self._built: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.RLock()

    def invalidate(self) -> None:
        """The served resources or their definitions changed (a CustomResourceDefinition
        came, changed or went, or an aggregated server's documents did): every document
        is built again on its next request."""
        with self._lock:
            self._built.clear()
            self._schemas = V3Schemas(self.defs)

    def _get(self, name: str, build: Callable[[], bytes]) -> tuple[bytes, str]:
        with self._lock:
            hit = self._built.get(name)
            if hit is None:
                data = build()
                hit = self._built[name] = (data, content_hash(data))
        return hit[0], etag(hit[1])

    def v2(self) -> tuple[bytes, str]:
        """GET /openapi/v2 as JSON."""
        return self._get("v2", lambda: serialize(self._v2_doc()))

    def _v2_doc(self) -> Doc:
        doc = openapi_v2(self.scheme, self.defs)
        return merge_v2(doc, self.remote.v2_parts()) if self.remote is not None else doc

    def v2_protobuf(self) -> tuple[bytes, str]:
        """GET /openapi/v2 as application/com.github.proto-openapi.spec.v2@v1.0+protobuf."""
        from kapi.openapi.protobuf import encode_document

        return self._get("v2.pb", lambda: encode_document(self._v2_doc()))

    def v3_keys(self) -> list[str]:
        local = v3_keys(self.scheme)
        remote = self.remote.v3_docs() if self.remote is not None else {}
        return local + sorted(k for k in remote if k not in local)

    def v3(self, key: str) -> tuple[bytes, str] | None:
        """GET /openapi/v3/<key>; None when no such document exists."""
        key = key.strip("/")
        if key not in self.v3_keys():
            return None
        return self._get("v3:" + key, lambda: serialize(self._v3_doc(key)))

    def _v3_doc(self, key: str) -> Doc:
        remote = self.remote.v3_docs().get(key) if self.remote is not None else None
        if remote is not None and key not in v3_keys(self.scheme):
            return remote
        doc = openapi_v3_document(self.scheme, self.defs, key, self._schemas)
        assert doc is not None
        return doc

    def v3_hash(self, key: str) -> str | None:
        """The content hash of one v3 document (what ?hash= must carry)."""
        got = self.v3(key)
        return got[1].strip('"') if got else None

    def v3_root_doc(self) -> Doc:
        return v3_root({key: self.v3_hash(key) or "" for key in self.v3_keys()})

    def v3_root(self) -> tuple[bytes, str]:
        """GET /openapi/v3."""
        return self._get("v3", lambda: serialize(self.v3_root_doc()))
