"""The OpenAPI 3.0 documents: the /openapi/v3 discovery root and one document per
group/version (and per group, /api, /apis and /version) under /openapi/v3/<key>.

Owns: converting v2 schemas to v3 (refs into components, refs with siblings into allOf)
and rendering kapi.openapi.paths as OpenAPI 3.0. It must never touch HTTP and never mutate
the schemas it reads from Definitions.
"""

from __future__ import annotations

from typing import Any

from kapi.meta.resources import Scheme
from kapi.meta.schema import Definitions, Schema, map_subschemas, ref_name
from kapi.openapi.paths import (
    Operation,
    Param,
    PathItem,
    group_path,
    group_versions,
    gv_paths,
    referenced_definitions,
    root_paths,
)
from kapi.openapi.v2 import BEARER, SECURITY, Doc, extensions

V3_REF = "#/components/schemas/"


def to_v3(node: Any) -> Any:
    """Convert a v2 schema to v3: refs into components, refs with siblings into allOf."""
    if not isinstance(node, dict):
        return node
    out: Schema = {}
    for key, value in node.items():
        if key == "$ref":
            continue
        out[key] = map_subschemas(key, value, to_v3)
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
    return out | extensions(op)


def _v3_path(item: PathItem) -> Doc:
    out: Doc = {op.method: _v3_operation(op) for op in item.operations}
    if item.params:
        out["parameters"] = [_v3_param(p) for p in item.params]
    return out


class V3Schemas:
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


def _v3_document(paths: list[PathItem], schemas: V3Schemas) -> Doc:
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
                        schemas: V3Schemas | None = None) -> Doc | None:
    """The OpenAPI 3.0 document served at /openapi/v3/<key>; None for an unknown key."""
    paths = _paths_for_key(scheme, key)
    if paths is None:
        return None
    return _v3_document(paths, schemas or V3Schemas(defs))


def v3_root(hashes: dict[str, str]) -> Doc:
    """The /openapi/v3 discovery document, from each document's content hash."""
    return {"paths": {key: {"serverRelativeURL": f"/openapi/v3/{key}?hash={h}"}
                      for key, h in sorted(hashes.items())}}

