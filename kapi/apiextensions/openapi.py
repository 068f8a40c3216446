"""The OpenAPI (v2 dialect) definitions a custom resource publishes: its version's
openAPIV3Schema with apiVersion, kind and metadata (ObjectMeta) filled in, the
x-kubernetes-group-version-kind extension, and the matching List definition, named the way
upstream names them (com.example.stable.v1.CronTab and ...CronTabList). Pure.
"""

from __future__ import annotations

import copy
from typing import Any

Schema = dict[str, Any]
META = "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1."
API_VERSION_DOC = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#resources")
KIND_DOC = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: https://git.k8s.io/community/contributors/devel/"
    "sig-architecture/api-conventions.md#types-kinds")
METADATA_DOC = ("Standard object's metadata. More info: https://git.k8s.io/community/"
                "contributors/devel/sig-architecture/api-conventions.md#metadata")


def _strip(node: Any) -> Any:
    """v2 has no nullable; everything else in a structural schema carries over."""
    if isinstance(node, dict):
        return {k: _strip(v) for k, v in node.items() if k != "nullable"}
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def object_definition(schema: Schema, group: str, version: str, kind: str) -> Schema:
    out: Schema = _strip(copy.deepcopy(schema)) if schema else {"type": "object"}
    props = out.setdefault("properties", {})
    props["apiVersion"] = {"description": API_VERSION_DOC, "type": "string"}
    props["kind"] = {"description": KIND_DOC, "type": "string"}
    props["metadata"] = {"$ref": META + "ObjectMeta", "description": METADATA_DOC}
    out.setdefault("type", "object")
    out["x-kubernetes-group-version-kind"] = [{"group": group, "kind": kind,
                                               "version": version}]
    return out


def list_definition(item: str, group: str, version: str, kind: str) -> Schema:
    return {
        "description": f"{kind}List is a list of {kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": API_VERSION_DOC, "type": "string"},
            "items": {"description": f"List of {kind.lower()}s. More info: https://git.k8s.io"
                                     "/community/contributors/devel/sig-architecture/"
                                     "api-conventions.md",
                      "type": "array", "items": {"$ref": "#/definitions/" + item}},
            "kind": {"description": KIND_DOC, "type": "string"},
            "metadata": {"$ref": META + "ListMeta", "description": METADATA_DOC},
        },
        "type": "object",
        "x-kubernetes-group-version-kind": [{"group": group, "kind": kind + "List",
                                             "version": version}],
    }
