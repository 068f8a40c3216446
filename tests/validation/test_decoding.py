"""Strict decoding findings: the examples of upstream's field validation integration test
(test/integration/apiserver/field_validation_test.go) give the exact wording and order,
and Go's decoder gives the type errors."""

from __future__ import annotations

import orjson
import pytest

from kapi.meta.schema import load_definitions
from kapi.validation import Validator
from kapi.validation.duplicates import (
    duplicate_paths,
    json_may_repeat_keys,
    json_patch_problems,
    json_with_pairs,
    yaml_duplicates,
)

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"

INVALID_BODY_JSON = b"""{
  "apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {"name": "dupename", "name": "x", "labels": {"app": "nginx"},
               "unknownMeta": "metaVal"},
  "spec": {
    "unknown1": "val1", "unknownDupe": "valDupe", "unknownDupe": "valDupe2",
    "paused": true, "paused": false,
    "selector": {"matchLabels": {"app": "nginx"}},
    "template": {"metadata": {"labels": {"app": "nginx"}},
      "spec": {"containers": [{"name": "nginx", "image": "nginx:latest",
        "unknownNested": "val1", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""

INVALID_BODY_YAML = b"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: dupename
  name: x
  unknownMeta: metaVal
  labels:
    app: nginx
spec:
  unknown1: val1
  unknownDupe: valDupe
  unknownDupe: valDupe2
  paused: true
  paused: false
"""


@pytest.fixture(scope="module")
def v() -> Validator:
    return Validator(load_definitions())


def test_post_body_problems_in_document_order(v: Validator) -> None:
    found = v.inspect(DEPLOYMENT, json_with_pairs(INVALID_BODY_JSON))
    assert found.type_error is None
    assert ", ".join(found.problems) == (
        'duplicate field "metadata.name", unknown field "metadata.unknownMeta", '
        'unknown field "spec.unknown1", unknown field "spec.unknownDupe", '
        'duplicate field "spec.paused", '
        'unknown field "spec.template.spec.containers[0].unknownNested", '
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy"')


def test_patched_object_unknown_fields_are_sorted(v: Validator) -> None:
    obj = orjson.loads(INVALID_BODY_JSON)
    found = v.inspect(DEPLOYMENT, obj, sort_keys=True, prune=True)
    assert found.problems == [
        'unknown field "metadata.unknownMeta"',
        'unknown field "spec.template.spec.containers[0].unknownNested"',
        'unknown field "spec.unknown1"', 'unknown field "spec.unknownDupe"']
    # pruned like a typed decode drops them
    assert "unknown1" not in obj["spec"] and "unknownMeta" not in obj["metadata"]
    assert "unknownNested" not in obj["spec"]["template"]["spec"]["containers"][0]


def test_duplicates_in_a_patch_body() -> None:
    patch = b"""{"spec": {"unknown1": "val1", "unknownDupe": "a", "unknownDupe": "b",
      "paused": true, "paused": false, "template": {"spec": {"containers": [
      {"name": "nginx", "imagePullPolicy": "Always", "imagePullPolicy": "Never"}]}}}}"""
    assert duplicate_paths(json_with_pairs(patch)) == [
        'duplicate field "spec.unknownDupe"', 'duplicate field "spec.paused"',
        'duplicate field "spec.template.spec.containers[0].imagePullPolicy"']


def test_json_patch_operation_problems() -> None:
    ops = b"""[{"op": "add", "path": "/spec/unknown1", "value": "val1", "foo": "bar"},
               {"op": "add", "path": "/spec/unknown2", "path": "/spec/unknown3", "value": 1}]"""
    assert json_patch_problems(ops) == ['json patch unknown field "[0].foo"',
                                        'json patch duplicate field "[1].path"']


def test_yaml_duplicates_name_their_line() -> None:
    assert yaml_duplicates(INVALID_BODY_YAML) == [
        'line 5: key "name" already set in map', 'line 12: key "unknownDupe" already set in map',
        'line 14: key "paused" already set in map']


def test_cheap_duplicate_test_has_no_false_negative() -> None:
    clean = b'{"a": {"b": 1, "c": "x\\":"}, "d": [{"e": 1}]}'
    assert json_may_repeat_keys(b'{"a": 1, "a": 2}', orjson.loads(b'{"a": 1, "a": 2}'))
    assert json_may_repeat_keys(clean, orjson.loads(clean))  # a string holding '":'
    plain = b'{"a": {"b": 1}, "d": [{"e": 1}]}'
    assert not json_may_repeat_keys(plain, orjson.loads(plain))


@pytest.mark.parametrize("spec,message", [
    ({"replicas": "3"}, "json: cannot unmarshal string into Go struct field "
                        "DeploymentSpec.spec.replicas of type int32"),
    ({"replicas": 1.5}, "json: cannot unmarshal number 1.5 into Go struct field "
                        "DeploymentSpec.spec.replicas of type int32"),
    ({"replicas": 3_000_000_000}, "json: cannot unmarshal number 3000000000 into Go struct "
                                  "field DeploymentSpec.spec.replicas of type int32"),
    ({"paused": "yes"}, "json: cannot unmarshal string into Go struct field "
                        "DeploymentSpec.spec.paused of type bool"),
    ({"selector": []}, "json: cannot unmarshal array into Go struct field "
                       "DeploymentSpec.spec.selector of type v1.LabelSelector"),
    ({"template": {"spec": {"containers": [{"image": 3}]}}},
     "json: cannot unmarshal number into Go struct field "
     "Container.spec.template.spec.containers.image of type string"),
    ({"template": {"spec": {"containers": {}}}},
     "json: cannot unmarshal object into Go struct field "
     "PodSpec.spec.template.spec.containers of type []v1.Container"),
    ({"template": {"spec": {"containers": [{"resources": {"limits": {"cpu": "1x"}}}]}}},
     "quantities must match the regular expression "
     "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
    ({"strategy": {"rollingUpdate": {"maxSurge": True}}},
     "json: cannot unmarshal bool into Go value of type int32"),
])
def test_type_errors_read_like_gos(v: Validator, spec: dict, message: str) -> None:
    assert v.inspect(DEPLOYMENT, {"spec": spec}).type_error == message


def test_nulls_and_int_or_strings_are_fine(v: Validator) -> None:
    obj = {"spec": {"replicas": None, "strategy": {"rollingUpdate": {"maxSurge": "25%",
                                                                      "maxUnavailable": 1}}}}
    assert v.inspect(DEPLOYMENT, obj).type_error is None
    assert v.inspect("io.k8s.api.core.v1.Secret", {"data": {"a": "!!"}}).type_error == \
        "illegal base64 data at input byte 0"
