"""The Swagger 2.0 document (GET /openapi/v2) of every served resource.

Owns: rendering the operations of kapi.openapi.paths plus the upstream definitions of
kapi.meta.schema as Swagger 2.0, and the pieces both renderings share (security scheme,
x-kubernetes extensions). It must never touch HTTP and never mutate the schemas it reads
from Definitions: the documents share them, read-only.
"""

from __future__ import annotations

from typing import Any

from kapi.meta.resources import Scheme
from kapi.meta.schema import V2_REF, Definitions
from kapi.openapi.paths import (
    META_DEFINITIONS,
    Operation,
    Param,
    PathItem,
    all_paths,
    referenced_definitions,
)

# kubectl asks for the protobuf form of /openapi/v2 with the first media type; the reply
# must be labelled with the second (Go's mime parser rejects the "@" of the first).
V2_PROTOBUF_ACCEPT = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                      "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
V2_PROTOBUF_CONTENT_TYPE = V2_PROTOBUF_ACCEPT[1]
SECURITY: list[dict[str, list[str]]] = [{"BearerToken": []}]
BEARER = {"description": "Bearer Token authentication", "in": "header", "name": "authorization",
          "type": "apiKey"}

Doc = dict[str, Any]


def server_version(defs: Definitions) -> str:
    return f"v{defs.version}.0"


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
    return out | extensions(op)


def extensions(op: Operation) -> Doc:
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

