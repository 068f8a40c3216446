"""Ports of test/e2e/apimachinery/field_validation.go: typed objects, and custom resources
applied under strict field validation."""

from __future__ import annotations

import json

from conformance.framework import Ctx, conformance

FV = "[sig-api-machinery] FieldValidation "

# raw JSON, since the duplicate "replicas" key cannot survive a client's own encoding
UNKNOWN_AND_DUPLICATE = """{
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "my-dep", "labels": {"app": "nginx"}},
    "spec": {
        "unknownField": "foo",
        "replicas": 2,
        "replicas": 3,
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}
        }
    }
}"""

UNKNOWN_META = """{
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "my-dep", "unknownMeta": "foo", "labels": {"app": "nginx"}},
    "spec": {
        "selector": {"matchLabels": {"app": "nginx"}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]}
        }
    }
}"""


def _strict_post(c: Ctx, body: str) -> str:
    """POST the raw body with fieldValidation=Strict; the error's message (empty if
    accepted)."""
    path = (f"/apis/apps/v1/namespaces/{c.ns}/deployments"
            "?fieldManager=field_validation_mgr&fieldValidation=Strict")
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], path, "POST", None)
    # the client's pool directly: its request() would re-encode a str body as a JSON string
    resp = c.api.rest_client.pool_manager.request("POST", c.api.configuration.host + path,
                                                  headers=headers, body=body.encode())
    text = resp.data.decode()
    if 200 <= resp.status <= 299:
        return ""
    try:  # client-go's error text is the Status message
        return str(json.loads(text).get("message", text))
    except ValueError:
        return text


def _strict_error(c: Ctx, body: str, want: str, what: str) -> None:
    err = _strict_post(c, body)
    assert want in err, f"error missing {what}, got: {err or 'no error'}"


@conformance(FV + "should detect unknown and duplicate fields of a typed object [Conformance]",
             basename="field-validation")
def unknown_and_duplicate(c: Ctx) -> None:
    _strict_error(c, UNKNOWN_AND_DUPLICATE, 'strict decoding error: unknown field '
                  '"spec.unknownField", duplicate field "spec.replicas"',
                  "unknown/duplicate field field")


@conformance(FV + "should detect unknown metadata fields of a typed object [Conformance]",
             basename="field-validation")
def unknown_metadata(c: Ctx) -> None:
    _strict_error(c, UNKNOWN_META, 'strict decoding error: unknown field "metadata.unknownMeta"',
                  "unknown metadata field")


# -- custom resources (field_validation.go's CR cases) ---------------------------------
CRON = r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$"
PORTS_SCHEMA = {
    "type": "array", "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
    "x-kubernetes-list-type": "map",
    "items": {"type": "object", "required": ["containerPort", "protocol"], "properties": {
        "containerPort": {"format": "int32", "type": "integer"},
        "hostIP": {"type": "string"},
        "hostPort": {"format": "int32", "type": "integer"},
        "name": {"type": "string"},
        "protocol": {"type": "string"}}}}


def _spec_schema(*, preserve: bool = False, template: bool = False) -> dict:
    props: dict = {"foo": {"type": "string"}, "cronSpec": {"type": "string", "pattern": CRON},
                   "ports": PORTS_SCHEMA}
    if template:
        props["template"] = {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"metadata": {"type": "object", "properties": {
                                 "name": {"type": "string"}}}, "spec": {"type": "object"}}}
    spec: dict = {"type": "object", "properties": props}
    if preserve:
        spec["x-kubernetes-preserve-unknown-fields"] = True
    return {"type": "object", "properties": {"spec": spec}}


def _noxu(c: Ctx, schema: dict | None) -> dict:
    """fixtures.NewRandomNameMultipleVersionCustomResourceDefinition (cluster scope,
    v1beta1 stored and v1), with the given schema in every version, created and served."""
    from conformance.ports.apimachinery_crd import create_crd, random_crd

    crd = random_crd()
    version = crd["spec"]["versions"][0]
    if schema is not None:
        version["schema"] = {"openAPIV3Schema": schema}
    crd["spec"]["versions"] = [version, dict(version, name="v1", storage=False)]
    return create_crd(c, crd)


def _apply_cr(c: Ctx, crd: dict, body: str) -> tuple[int, str]:
    spec = crd["spec"]
    path = (f"/apis/{spec['group']}/v1beta1/{spec['names']['plural']}/mytest"
            "?fieldManager=field_validation_mgr&fieldValidation=Strict")
    headers = {"Content-Type": "application/apply-patch+yaml", "Accept": "application/json"}
    c.api.update_params_for_auth(headers, [], ["BearerToken"], path, "PATCH", None)
    resp = c.api.rest_client.pool_manager.request(
        "PATCH", c.api.configuration.host + path, headers=headers,
        body=body.format(api_version=f"{spec['group']}/v1beta1", kind=spec["names"]["kind"],
                         ns=c.ns if "{ns}" in body else "").encode())
    return resp.status, resp.data.decode()


def _with_crd(c: Ctx, schema: dict | None, body: str) -> tuple[int, str]:
    from conformance.ports.apimachinery_crd import delete_crd

    crd = _noxu(c, schema)
    try:
        return _apply_cr(c, crd, body)
    finally:
        delete_crd(c, crd["metadata"]["name"])


CR_HEAD = "\napiVersion: {api_version}\nkind: {kind}\nmetadata:\n  name: mytest\n"
CR_PORTS = "  cronSpec: \"* * * * */5\"\n  ports:\n  - name: x\n    containerPort: 80\n" \
           "    protocol: TCP\n"


@conformance(FV + "should create/apply a valid CR for CRD with validation schema "
             "[Conformance]", basename="field-validation")
def valid_cr(c: Ctx) -> None:
    code, text = _with_crd(c, _spec_schema(), CR_HEAD + "spec:\n  foo: foo1\n" + CR_PORTS)
    assert 200 <= code <= 299, text


@conformance(FV + "should create/apply a CR with unknown fields for CRD with no validation "
             "schema [Conformance]", basename="field-validation")
def cr_without_schema(c: Ctx) -> None:
    code, text = _with_crd(c, None, CR_HEAD + "spec:\n  unknown: uk1\n" + CR_PORTS)
    assert 200 <= code <= 299, text


@conformance(FV + "should create/apply an invalid CR with extra properties for CRD with "
             "validation schema [Conformance]", basename="field-validation")
def cr_extra_properties(c: Ctx) -> None:
    _, text = _with_crd(c, _spec_schema(), CR_HEAD + "unknownField: unknown\nspec:\n"
                        "  foo: foo1\n" + CR_PORTS)
    assert ".unknownField: field not declared in schema" in text, text


@conformance(FV + "should detect unknown metadata fields in both the root and embedded "
             "object of a CR [Conformance]", basename="field-validation")
def cr_unknown_metadata(c: Ctx) -> None:
    body = (CR_HEAD + "  unknownMeta: unknown\nspec:\n  template:\n    apiversion: foo/v1\n"
            "    kind: Sub\n    metadata:\n        unknownSubMeta: unknown\n"
            "        name: subobject\n        namespace: {ns}\n  foo: foo1\n" + CR_PORTS)
    _, text = _with_crd(c, _spec_schema(preserve=True, template=True), body)
    assert ".spec.template.metadata.unknownSubMeta: field not declared in schema" in text or \
        ".metadata.unknownMeta: field not declared in schema" in text, text


@conformance(FV + "should detect duplicates in a CR when preserving unknown fields "
             "[Conformance]", basename="field-validation")
def cr_duplicates(c: Ctx) -> None:
    body = CR_HEAD + "spec:\n  unknown: uk1\n  foo: foo1\n  foo: foo2\n" + CR_PORTS
    _, text = _with_crd(c, _spec_schema(preserve=True), body)
    assert 'line 9: key \\"foo\\" already set in map' in text, text
