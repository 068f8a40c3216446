"""The OpenAPI documents: Swagger 2.0 (JSON and gnostic protobuf) and OpenAPI v3."""

from __future__ import annotations

import hashlib
from typing import Any, Iterator

import orjson
import pytest

from kapi.meta.resources import Resource
from kapi.meta.schema import Definitions, load_definitions
from kapi.openapi.documents import OpenAPIDocs
from kapi.openapi.paths import group_camel, group_versions
from kapi.openapi.v2 import openapi_v2
from kapi.openapi.v3 import gv_key, openapi_v3_document, v3_keys
from kapi.registry.kinds import SCHEME

WRITE_PARAMS = {"dryRun", "fieldManager", "fieldValidation"}
LIST_PARAMS = {"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
               "resourceVersionMatch", "watch", "allowWatchBookmarks", "sendInitialEvents",
               "timeoutSeconds"}
DELETE_PARAMS = {"gracePeriodSeconds", "propagationPolicy", "orphanDependents", "dryRun"}
PATCH_TYPES = {"application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml"}
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def defs() -> Definitions:
    return load_definitions()


@pytest.fixture(scope="module")
def docs(defs: Definitions) -> OpenAPIDocs:
    return OpenAPIDocs(SCHEME, defs)


@pytest.fixture(scope="module")
def v2(docs: OpenAPIDocs) -> dict[str, Any]:
    return orjson.loads(docs.v2()[0])


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def param_names(doc: dict[str, Any], path: str, method: str) -> set[str]:
    item = doc["paths"][path]
    return {p["name"] for p in item.get("parameters", []) + item[method].get("parameters", [])}


def gvk_of(r: Resource) -> dict[str, str]:
    return {"group": r.group, "version": r.version, "kind": r.kind}


def collection(r: Resource) -> str:
    base = f"/apis/{r.group}/{r.version}" if r.group else f"/api/{r.version}"
    return f"{base}/namespaces/{{namespace}}/{r.resource}" if r.namespaced else \
        f"{base}/{r.resource}"


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):  # (JSONSchemaProps has a "$ref" field)
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


# -- Swagger 2.0 ----------------------------------------------------------------------------------
@pytest.mark.parametrize("r", [r for r in SCHEME.resources if r.verbs == ("create",)],
                         ids=lambda r: r.resource)
def test_v2_create_only_resources_serve_post_alone(v2: dict[str, Any], r: Resource) -> None:
    assert set(v2["paths"][collection(r)]) - {"parameters"} == {"post"}
    assert collection(r) + "/{name}" not in v2["paths"]


def test_v2_header(v2: dict[str, Any]) -> None:
    assert v2["swagger"] == "2.0"
    assert v2["info"] == {"title": "Kubernetes", "version": "v1.33.0"}


# the access reviews (authorization.k8s.io) serve only create, as upstream's
PATCHABLE = [r for r in SCHEME.resources if "patch" in r.verbs]


@pytest.mark.parametrize("r", PATCHABLE, ids=lambda r: f"{r.group}/{r.version}/{r.resource}")
def test_v2_every_resource_has_its_operations(v2: dict[str, Any], r: Resource) -> None:
    paths, gvk = v2["paths"], gvk_of(r)
    coll, obj = collection(r), collection(r) + "/{name}"
    assert paths[coll]["post"]["x-kubernetes-action"] == "post"
    assert paths[coll]["get"]["x-kubernetes-action"] == "list"
    assert paths[obj]["get"]["x-kubernetes-action"] == "get"
    assert paths[obj]["patch"]["x-kubernetes-action"] == "patch"
    for path, method in ((coll, "post"), (coll, "get"), (obj, "get"), (obj, "put"),
                         (obj, "patch"), (obj, "delete")):
        assert paths[path][method]["x-kubernetes-group-version-kind"] == gvk
    for path, method in ((coll, "post"), (obj, "put"), (obj, "patch")):
        assert WRITE_PARAMS <= param_names(v2, path, method), (path, method)
    assert "force" in param_names(v2, obj, "patch")
    assert set(paths[obj]["patch"]["consumes"]) == PATCH_TYPES
    assert LIST_PARAMS <= param_names(v2, coll, "get")
    assert DELETE_PARAMS <= param_names(v2, obj, "delete")
    assert {"name", "pretty"} | ({"namespace"} if r.namespaced else set()) <= \
        param_names(v2, obj, "get")
    list_ref = paths[coll]["get"]["responses"]["200"]["schema"]["$ref"]
    assert list_ref == f"#/definitions/{r.definition}List"
    definition = v2["definitions"][r.definition]
    assert gvk in definition["x-kubernetes-group-version-kind"]
    if r.namespaced:
        all_ns = paths[f"{collection(r).split('/namespaces/')[0]}/{r.resource}"]["get"]
        assert all_ns["operationId"].endswith("ForAllNamespaces")


def test_v2_create_only_resources_have_only_post(v2: dict[str, Any]) -> None:
    """TokenReview and TokenRequest are created, never stored: upstream lists one POST."""
    for path, op_id in (("/apis/authentication.k8s.io/v1/tokenreviews",
                         "createAuthenticationV1TokenReview"),
                        ("/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
                         "createCoreV1NamespacedServiceAccountToken")):
        ops = {m: o["operationId"] for m, o in v2["paths"][path].items() if m in METHODS}
        assert ops == {"post": op_id}


def test_v2_operation_ids_match_upstream(v2: dict[str, Any]) -> None:
    ids = {op["operationId"]: (path, method) for path, method, op in operations(v2)}
    assert len(ids) == sum(1 for _ in operations(v2)), "operation ids must be unique"
    expected = {
        "createCoreV1NamespacedPod": ("/api/v1/namespaces/{namespace}/pods", "post"),
        "listCoreV1PodForAllNamespaces": ("/api/v1/pods", "get"),
        "readCoreV1Namespace": ("/api/v1/namespaces/{name}", "get"),
        "replaceCoreV1NamespaceFinalize": ("/api/v1/namespaces/{name}/finalize", "put"),
        "createCoreV1NamespacedPodBinding":
            ("/api/v1/namespaces/{namespace}/pods/{name}/binding", "post"),
        "createCoreV1NamespacedPodEviction":
            ("/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post"),
        "patchCoreV1NodeStatus": ("/api/v1/nodes/{name}/status", "patch"),
        "listAppsV1NamespacedDeployment":
            ("/apis/apps/v1/namespaces/{namespace}/deployments", "get"),
        "patchAppsV1NamespacedDeploymentScale":
            ("/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "patch"),
        "deleteAppsV1CollectionNamespacedDeployment":
            ("/apis/apps/v1/namespaces/{namespace}/deployments", "delete"),
        "watchAppsV1NamespacedDeploymentList":
            ("/apis/apps/v1/watch/namespaces/{namespace}/deployments", "get"),
        "deleteRbacAuthorizationV1CollectionClusterRole":
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles", "delete"),
        "readAutoscalingV2NamespacedHorizontalPodAutoscalerStatus":
            ("/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}"
             "/status", "get"),
        "listEventsV1EventForAllNamespaces": ("/apis/events.k8s.io/v1/events", "get"),
        "getAppsV1APIResources": ("/apis/apps/v1/", "get"),
        "getCoreAPIVersions": ("/api/", "get"),
    }
    for op_id, where in expected.items():
        assert ids.get(op_id) == where, op_id
    assert group_camel("rbac.authorization.k8s.io") == "RbacAuthorization"


def test_v2_subresources(v2: dict[str, Any]) -> None:
    scale = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
    assert scale["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert scale["get"]["responses"]["200"]["schema"]["$ref"] == \
        "#/definitions/io.k8s.api.autoscaling.v1.Scale"
    eviction = v2["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
    assert eviction["x-kubernetes-group-version-kind"]["kind"] == "Eviction"
    assert eviction["parameters"][0]["schema"]["$ref"] == \
        "#/definitions/io.k8s.api.policy.v1.Eviction"
    status = v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]
    assert status["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Deployment"
    assert "fieldValidation" in param_names(v2, "/apis/apps/v1/namespaces/{namespace}"
                                                "/deployments/{name}/status", "patch")
    assert "deletecollection" not in {op.get("x-kubernetes-action") for p, m, op in
                                      operations(v2) if p.startswith("/api/v1/namespaces")
                                      and "{namespace}" not in p}


def test_v2_definitions_are_swagger_2(v2: dict[str, Any]) -> None:
    definitions = v2["definitions"]
    for name in ("io.k8s.apimachinery.pkg.apis.meta.v1.Status",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
                 "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                 "io.k8s.api.apps.v1.DeploymentList", "io.k8s.api.core.v1.Binding"):
        assert name in definitions
    for node in walk(definitions):
        assert not isinstance(node.get("type"), list)
        assert None not in (node.get("enum") or [])
    assert definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "description": definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
        ["description"], "format": "int-or-string", "type": "string"}
    deployment = definitions["io.k8s.api.apps.v1.Deployment"]
    assert deployment["type"] == "object"
    assert deployment["properties"]["kind"] == {
        "description": deployment["properties"]["kind"]["description"], "type": "string"}
    containers = definitions["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert containers["x-kubernetes-patch-strategy"] == "merge"


def test_v2_refs_resolve(v2: dict[str, Any]) -> None:
    found = set(refs(v2))
    assert found
    for ref in found:
        assert ref.startswith("#/definitions/"), ref
        assert ref.removeprefix("#/definitions/") in v2["definitions"], ref


# -- OpenAPI v3 -----------------------------------------------------------------------------------
def test_v3_root_lists_every_group_version_with_its_hash(docs: OpenAPIDocs) -> None:
    root = orjson.loads(docs.v3_root()[0])["paths"]
    for group, version in group_versions(SCHEME):
        key = gv_key(group, version)
        body, tag = docs.v3(key)  # type: ignore[misc]
        digest = hashlib.sha512(body).hexdigest().upper()
        assert tag == f'"{digest}"'
        assert root[key] == {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    assert {"api", "api/v1", "apis", "apis/apps", "apis/apps/v1"} <= set(root)
    assert set(root) == set(v3_keys(SCHEME))
    assert docs.v3("apis/nosuch/v1") is None
    assert docs.v3_root_doc() == {"paths": root}


@pytest.mark.parametrize("gv", group_versions(SCHEME), ids=lambda gv: gv_key(*gv))
def test_v3_group_version_documents(docs: OpenAPIDocs, gv: tuple[str, str]) -> None:
    doc = orjson.loads(docs.v3(gv_key(*gv))[0])  # type: ignore[index]
    assert doc["openapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    for ref in set(refs(doc)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    for r in SCHEME.in_group_version(*gv):
        if "patch" not in r.verbs:
            continue
        gvk = gvk_of(r)
        # kubectl's fieldValidation check (QueryParamVerifierV3): every PATCH operation of
        # the GVK must list fieldValidation.
        patches = [op for _, m, op in operations(doc)
                   if m == "patch" and op.get("x-kubernetes-group-version-kind") == gvk]
        assert bool(patches) == ("patch" in r.verbs)  # TokenReview is only ever created
        for op in patches:
            assert "fieldValidation" in {p["name"] for p in op["parameters"]}
            assert set(op["requestBody"]["content"]) == PATCH_TYPES
        coll = doc["paths"][collection(r)]
        assert coll["post"]["requestBody"]["content"]["*/*"]["schema"]["$ref"] == \
            f"#/components/schemas/{r.definition}"
        # kubectl explain finds the kind by its GVK and reads descriptions.
        kind = schemas[r.definition]
        assert gvk in kind["x-kubernetes-group-version-kind"]
        assert kind["description"]
        meta_ref = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
        meta = kind["properties"]["metadata"]
        # upstream describes metadata on every kind but a few (CertificateSigningRequest)
        assert meta == meta_ref or (meta["allOf"] == [meta_ref] and meta["description"])


def test_v3_keeps_patch_metadata_beside_refs(defs: Definitions) -> None:
    doc = openapi_v3_document(SCHEME, defs, gv_key("apps", "v1"))
    assert doc is not None
    schemas = doc["components"]["schemas"]
    strategy = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert strategy["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1."
                                          "DeploymentStrategy"}]
    containers = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name"
    assert openapi_v3_document(SCHEME, defs, gv_key("apps", "v1beta1")) is None


def test_documents_are_cached_bytes(docs: OpenAPIDocs) -> None:
    first, tag = docs.v2()
    again, tag2 = docs.v2()
    assert first is again and tag == tag2
    assert tag == f'"{hashlib.sha512(first).hexdigest().upper()}"'
    assert docs.v3("/apis/apps/v1/") == docs.v3("apis/apps/v1")


def test_v2_function_matches_cached_document(defs: Definitions, v2: dict[str, Any]) -> None:
    assert orjson.loads(orjson.dumps(openapi_v2(SCHEME, defs))) == v2


# -- the gnostic protobuf form of /openapi/v2 -----------------------------------------------------
# Field numbers copied from gnostic's openapiv2/OpenAPIv2.proto: name -> (field, type, repeated).
S, B, I, D = "string", "bool", "int64", "double"  # noqa: E741
PROTO: dict[str, dict[int, tuple[str, str, bool]]] = {
    "Document": {1: ("swagger", S, False), 2: ("info", "Info", False),
                 8: ("paths", "Paths", False), 9: ("definitions", "NamedSchemas", False),
                 12: ("security", "SecurityRequirement", True),
                 13: ("securityDefinitions", "SecurityDefinitions", False)},
    "Info": {1: ("title", S, False), 2: ("version", S, False)},
    "Paths": {2: ("path", "NamedPathItem", True)},
    "NamedPathItem": {1: ("name", S, False), 2: ("value", "PathItem", False)},
    "PathItem": {2: ("get", "Operation", False), 3: ("put", "Operation", False),
                 4: ("post", "Operation", False), 5: ("delete", "Operation", False),
                 8: ("patch", "Operation", False), 9: ("parameters", "ParametersItem", True)},
    "Operation": {1: ("tags", S, True), 3: ("description", S, False),
                  5: ("operationId", S, False), 6: ("produces", S, True),
                  7: ("consumes", S, True), 8: ("parameters", "ParametersItem", True),
                  9: ("responses", "Responses", False), 10: ("schemes", S, True),
                  13: ("extensions", "NamedAny", True)},
    "ParametersItem": {1: ("parameter", "Parameter", False)},
    "Parameter": {1: ("body", "BodyParameter", False), 2: ("nonBody", "NonBodyParameter", False)},
    "BodyParameter": {1: ("description", S, False), 2: ("name", S, False), 3: ("in", S, False),
                      4: ("required", B, False), 5: ("schema", "Schema", False)},
    "NonBodyParameter": {3: ("query", "QueryParameter", False), 4: ("path", "PathParameter", False)},
    "QueryParameter": {1: ("required", B, False), 2: ("in", S, False), 3: ("description", S, False),
                       4: ("name", S, False), 6: ("type", S, False), 20: ("uniqueItems", B, False)},
    "PathParameter": {1: ("required", B, False), 2: ("in", S, False), 3: ("description", S, False),
                      4: ("name", S, False), 5: ("type", S, False), 19: ("uniqueItems", B, False)},
    "Responses": {1: ("codes", "NamedResponseValue", True)},
    "NamedResponseValue": {1: ("name", S, False), 2: ("value", "ResponseValue", False)},
    "ResponseValue": {1: ("response", "Response", False)},
    "Response": {1: ("description", S, False), 2: ("schema", "SchemaItem", False)},
    "SchemaItem": {1: ("schema", "Schema", False)},
    "NamedAny": {1: ("name", S, False), 2: ("value", "Any", False)},
    "Any": {2: ("yaml", S, False)},
    "NamedSchemas": {1: ("entries", "NamedSchema", True)},
    "NamedSchema": {1: ("name", S, False), 2: ("value", "Schema", False)},
    "Schema": {1: ("$ref", S, False), 2: ("format", S, False), 4: ("description", S, False),
               19: ("required", S, True), 20: ("enum", "Any", True),
               21: ("additionalProperties", "AdditionalPropertiesItem", False),
               22: ("type", "StringList", False), 23: ("items", "SchemaList", False),
               24: ("allOf", "Schema", True), 25: ("properties", "NamedSchemas", False),
               31: ("extensions", "NamedAny", True)},
    "AdditionalPropertiesItem": {1: ("schema", "Schema", False), 2: ("boolean", B, False)},
    "StringList": {1: ("value", S, True)},
    "SchemaList": {1: ("schema", "Schema", True)},
    "SecurityRequirement": {1: ("entries", "NamedStringArray", True)},
    "NamedStringArray": {1: ("name", S, False), 2: ("value", "StringList", False)},
    "SecurityDefinitions": {1: ("entries", "NamedSecurityDefinitionsItem", True)},
    "NamedSecurityDefinitionsItem": {1: ("name", S, False), 2: ("value", "SecurityItem", False)},
    "SecurityItem": {2: ("apiKey", "ApiKeySecurity", False)},
    "ApiKeySecurity": {1: ("type", S, False), 2: ("name", S, False), 3: ("in", S, False),
                       4: ("description", S, False)},
}


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[i]
        value |= (byte & 0x7F) << shift
        i, shift = i + 1, shift + 7
        if byte < 0x80:
            return value, i


def decode(message: str, buf: bytes) -> dict[str, Any]:
    """Decode proto3 wire bytes with the PROTO schema; unknown fields fail the test."""
    fields, out, i = PROTO[message], {}, 0
    while i < len(buf):
        key, i = _varint(buf, i)
        number, wire = key >> 3, key & 7
        assert number in fields, f"{message} has no field {number}"
        name, kind, repeated = fields[number]
        if wire == 0:
            value, i = _varint(buf, i)
            assert kind == B
            decoded: Any = bool(value)
        else:
            assert wire == 2, (message, number, wire)
            size, i = _varint(buf, i)
            raw, i = buf[i:i + size], i + size
            decoded = raw.decode() if kind == S else decode(kind, raw)
        if repeated:
            out.setdefault(name, []).append(decoded)
        else:
            out[name] = decoded
    return out


def schema_from_proto(m: dict[str, Any]) -> dict[str, Any]:
    """Rebuild the Swagger schema dict from a decoded Schema message."""
    out: dict[str, Any] = {k: m[k] for k in ("$ref", "format", "description", "required")
                           if k in m}
    if "type" in m:
        out["type"] = m["type"]["value"][0]
    if "enum" in m:
        out["enum"] = [orjson.loads(a["yaml"]) for a in m["enum"]]
    if "items" in m:
        out["items"] = schema_from_proto(m["items"]["schema"][0])
    if "allOf" in m:
        out["allOf"] = [schema_from_proto(s) for s in m["allOf"]]
    extra = m.get("additionalProperties")
    if extra is not None:
        out["additionalProperties"] = (schema_from_proto(extra["schema"]) if "schema" in extra
                                       else extra.get("boolean", False))
    if "properties" in m:
        out["properties"] = {e["name"]: schema_from_proto(e.get("value", {}))
                             for e in m["properties"].get("entries", [])}
    for ext in m.get("extensions", []):
        out[ext["name"]] = orjson.loads(ext["value"]["yaml"])
    return out


def test_v2_protobuf_round_trips(docs: OpenAPIDocs, v2: dict[str, Any]) -> None:
    body, tag = docs.v2_protobuf()
    assert tag == f'"{hashlib.sha512(body).hexdigest().upper()}"'
    doc = decode("Document", body)
    assert doc["swagger"] == "2.0"
    assert doc["info"] == {"title": "Kubernetes", "version": "v1.33.0"}
    assert doc["security"] == [{"entries": [{"name": "BearerToken", "value": {}}]}]
    assert doc["securityDefinitions"]["entries"][0]["value"]["apiKey"]["in"] == "header"
    definitions = {e["name"]: schema_from_proto(e["value"])
                   for e in doc["definitions"]["entries"]}
    assert definitions == v2["definitions"]
    paths = {p["name"]: p["value"] for p in doc["paths"]["path"]}
    assert set(paths) == set(v2["paths"])


def test_v2_protobuf_answers_kubectl_field_validation_check(docs: OpenAPIDocs) -> None:
    """What cli-runtime's supportsQueryParam reads: the PATCH op of the GVK, its params."""
    doc = decode("Document", docs.v2_protobuf()[0])
    wanted = {r.api_version + "/" + r.kind for r in PATCHABLE}
    supported = set()
    for entry in doc["paths"]["path"]:
        patch = entry["value"].get("patch")
        if not patch:
            continue
        ext = {e["name"]: orjson.loads(e["value"]["yaml"]) for e in patch["extensions"]}
        gvk = ext["x-kubernetes-group-version-kind"]
        names = {p["parameter"]["nonBody"]["query"]["name"] for p in patch["parameters"]
                 if "nonBody" in p["parameter"] and "query" in p["parameter"]["nonBody"]}
        assert "fieldValidation" in names and ext["x-kubernetes-action"] == "patch"
        body = [p["parameter"]["body"] for p in patch["parameters"] if "body" in p["parameter"]]
        assert body[0]["schema"]["$ref"] == \
            "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
        api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
        supported.add(f"{api_version}/{gvk['kind']}")
        path_params = [p["parameter"]["nonBody"]["path"] for p in entry["value"]["parameters"]
                       if "path" in p["parameter"]["nonBody"]]
        assert all(p["required"] and p["in"] == "path" for p in path_params)
    assert wanted <= supported
