"""Ports of test/e2e/apimachinery/field_validation.go's typed-object tests (the CR ones
need CustomResourceDefinitions)."""

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
