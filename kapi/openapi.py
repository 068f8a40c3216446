"""The OpenAPI documents kubectl and client libraries download.

Owns: rendering the operations of kapi.openapi_paths plus the upstream definitions of
kapi.meta.schema as the Swagger 2.0 document (/openapi/v2), the OpenAPI v3 discovery
root (/openapi/v3) and one OpenAPI 3.0 document per group/version (and per group,
/api, /apis and /version) under /openapi/v3/<key>; and OpenAPIDocs, which builds each
document once and keeps its serialized bytes and ETag for the serving code.

It must never touch HTTP (no requests, headers or status codes here) and never mutate
the schemas it reads from Definitions: the documents share them, read-only.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Any, Callable

import orjson

from kapi.meta.resources import Scheme
from kapi.meta.schema import V2_REF, Definitions, Schema, load_definitions, ref_name
from kapi.openapi_paths import (
    META_DEFINITIONS,
    Operation,
    Param,
    PathItem,
    all_paths,
    group_path,
    group_versions,
    gv_paths,
    referenced_definitions,
    root_paths,
)
from kapi.registry.kinds import SCHEME

V3_REF = "#/components/schemas/"
# kubectl asks for the protobuf form of /openapi/v2 with the first media type; the reply
# must be labelled with the second (Go's mime parser rejects the "@" of the first).
V2_PROTOBUF_ACCEPT = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
V2_PROTOBUF_CONTENT_TYPE = V2_PROTOBUF_ACCEPT[1]
SECURITY = [{"BearerToken": []}]
BEARER = {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
          "type": "apiKey"}
_SCHEMA_VALUES = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("allOf", "oneOf", "anyOf")

Doc = dict[str, Any]


def server_version(defs: Definitions) -> str:
    return f"v{defs.version}.0"


# -- Swagger 2.0 ---------------------------------------------------------------------------
def openapi_v2(scheme: Scheme, defs: Definitions) -> Doc:
    """The Swagger 2.0 document of every served resource (GET /openapi/v2)."""
    paths = all_paths(scheme)
    names = referenced_definitions(paths) | set(META_DEFINITIONS)
    names |= {r.definition + "List" for r in scheme.resources}
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": server_version(defs)},
        "paths": {item.path: _v2_path(item) for item in paths},
        "definitions": {n: defs.schema(n) for n in defs.closure(names)},
        "securityDefinitions": {"BearerToken": dict(BEARER)},
        "security": SECURITY,
    }


def _v2_param(p: Param) -> Doc:
    out: Doc = {"description": p.description, "in": p.location, "name": p.name,
                "type": p.type, "uniqueItems": True}
    if p.required:
        out["required"] = True
    return out


def _v2_operation(op: Operation) -> Doc:
    params: list[Doc] = []
    if op.body:
        body: Doc = {"in": "body", "name": "body", "schema": {"$ref": V2_REF + op.body}}
        if op.body_required:
            body["required"] = True
        params.append(body)
    params += [_v2_param(p) for p in op.params]
    responses: Doc = {}
    for code, (description, definition) in op.responses.items():
        responses[code] = {"description": description}
        if definition:
            responses[code]["schema"] = {"$ref": V2_REF + definition}
    out: Doc = {"consumes": list(op.consumes), "description": op.description,
                "operationId": op.operation_id, "produces": list(op.produces),
                "responses": responses, "schemes": ["https"], "tags": [op.tag]}
    if params:
        out["parameters"] = params
    return out | _extensions(op)


def _extensions(op: Operation) -> Doc:
    out: Doc = {}
    if op.action:
        out["x-kubernetes-action"] = op.action
    if op.gvk:
        out["x-kubernetes-group-version-kind"] = dict(op.gvk)
    return out


def _v2_path(item: PathItem) -> Doc:
    out: Doc = {op.method: _v2_operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [_v2_param(p) for p in item.params]
    return out


# -- OpenAPI 3.0 ---------------------------------------------------------------------------
def to_v3(node: Any) -> Any:
    """Convert a v2 schema to v3: refs into components, refs with siblings into allOf."""
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {name: to_v3(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = to_v3(value)
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [to_v3(sub) for sub in value]
        else:
            out[key] = value
    ref = node.get("$ref")
    if not isinstance(ref, str):
        return out
    target = {"$ref": V3_REF + ref_name(ref)}
    if not out:
        return target
    out["allOf"] = [target] + list(out.get("allOf") or [])
    return out


def _v3_param(p: Param) -> Doc:
    out: Doc = {"description": p.description, "in": p.location, "name": p.name,
                "schema": {"type": p.type, "uniqueItems": True}}
    if p.required:
        out["required"] = True
    return out


def _content(definition: str, media_types: tuple[str, ...]) -> Doc:
    return {mt: {"schema": {"$ref": V3_REF + definition}} for mt in media_types}


def _v3_operation(op: Operation) -> Doc:
    responses: Doc = {}
    for code, (description, definition) in op.responses.items():
        responses[code] = {"description": description}
        if definition:
            responses[code]["content"] = _content(definition, op.produces)
    out: Doc = {"description": op.description, "operationId": op.operation_id,
                "responses": responses, "tags": [op.tag]}
    if op.params:
        out["parameters"] = [_v3_param(p) for p in op.params]
    if op.body:
        out["requestBody"] = {"content": _content(op.body, op.consumes)}
        if op.body_required:
            out["requestBody"]["required"] = True
    return out | _extensions(op)


def _v3_path(item: PathItem) -> Doc:
    out: Doc = {op.method: _v3_operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [_v3_param(p) for p in item.params]
    return out


class _V3Schemas:
    """v3 forms of definitions, converted once per builder."""

    def __init__(self, defs: Definitions) -> None:
        self.defs = defs
        self._cache: dict[str, Schema] = {}

    def components(self, paths: list[PathItem]) -> dict[str, Schema]:
        out = {}
        for name in self.defs.closure(referenced_definitions(paths)):
            if name not in self._cache:
                self._cache[name] = to_v3(self.defs.schema(name))
            out[name] = self._cache[name]
        return out


def _v3_document(paths: list[PathItem], schemas: _V3Schemas) -> Doc:
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "unversioned"},
        "paths": {item.path: _v3_path(item) for item in paths},
        "components": {"schemas": schemas.components(paths),
                       "securitySchemes": {"BearerToken": dict(BEARER)}},
        "security": SECURITY,
    }


def v3_keys(scheme: Scheme) -> list[str]:
    """The documents /openapi/v3 lists: "api", "api/v1", "apis", "apis/apps", ..."""
    keys = ["api", "apis", "version"]
    keys += [f"apis/{g}" for g in scheme.groups()]
    keys += [gv_key(g, v) for g, v in group_versions(scheme)]
    return sorted(keys)


def gv_key(group: str, version: str) -> str:
    return f"api/{version}" if not group else f"apis/{group}/{version}"


def _paths_for_key(scheme: Scheme, key: str) -> list[PathItem] | None:
    if key == "api":
        return [group_path("")]
    if key in ("apis", "version"):
        return [p for p in root_paths() if p.path == f"/{key}/"]
    for g, v in group_versions(scheme):
        if key == gv_key(g, v):
            return gv_paths(scheme, g, v)
    if key.startswith("apis/") and key[5:] in scheme.groups():
        return [group_path(key[5:])]
    return None


def openapi_v3_document(scheme: Scheme, defs: Definitions, key: str,
                        schemas: _V3Schemas | None = None) -> Doc | None:
    """The OpenAPI 3.0 document served at /openapi/v3/<key>; None for an unknown key."""
    paths = _paths_for_key(scheme, key)
    if paths is None:
        return None
    return _v3_document(paths, schemas or _V3Schemas(defs))


def openapi_v3_group_version(scheme: Scheme, defs: Definitions, group: str,
                             version: str) -> Doc:
    """The OpenAPI 3.0 document of one served group/version; KeyError if not served."""
    doc = openapi_v3_document(scheme, defs, gv_key(group, version))
    if doc is None or not scheme.in_group_version(group, version):
        raise KeyError(f"{group}/{version} is not served")
    return doc


def v3_root(hashes: dict[str, str]) -> Doc:
    """The /openapi/v3 discovery document, from each document's content hash."""
    return {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}
                      for key, h in sorted(hashes.items())}}


def openapi_v3_root(scheme: Scheme = SCHEME, defs: Definitions | None = None) -> Doc:
    """The /openapi/v3 discovery document (builds every document to hash it)."""
    return OpenAPIDocs(scheme, defs).v3_root_doc()


# -- serialized, cached documents -----------------------------------------------------------
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

    def __init__(self, scheme: Scheme = SCHEME, defs: Definitions | None = None) -> None:
        self.scheme = scheme
        self.defs = defs if defs is not None else load_definitions()
        self._schemas = _V3Schemas(self.defs)
        self._built: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.RLock()

    def _get(self, name: str, build: Callable[[], bytes]) -> tuple[bytes, str]:
        with self._lock:
            hit = self._built.get(name)
            if hit is None:
                data = build()
                hit = self._built[name] = (data, content_hash(data))
        return hit[0], etag(hit[1])

    def v2(self) -> tuple[bytes, str]:
        """GET /openapi/v2 as JSON."""
        return self._get("v2", lambda: serialize(openapi_v2(self.scheme, self.defs)))

    def v2_protobuf(self) -> tuple[bytes, str]:
        """GET /openapi/v2 as application/com.github.proto-openapi.spec.v2@v1.0+protobuf."""
        from kapi.openapi_pb import encode_document

        return self._get("v2.pb", lambda: encode_document(openapi_v2(self.scheme, self.defs)))

    def v3_keys(self) -> list[str]:
        return v3_keys(self.scheme)

    def v3(self, key: str) -> tuple[bytes, str] | None:
        """GET /openapi/v3/<key>; None when no such document exists."""
        key = key.strip("/")
        if key not in self.v3_keys():
            return None
        return self._get("v3:" + key, lambda: serialize(self._v3_doc(key)))

    def _v3_doc(self, key: str) -> Doc:
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
