"""Structural schemas of custom resources, as pure functions: validation messages and
paths (kapi.validation.structural), CEL rules with transition rules and
messageExpression (kapi.validation.celrules over kapi.cel), defaulting and pruning
(kapi.defaulting.structural) and the definition's own rules (kapi.validation.crd)."""

from __future__ import annotations

from kapi.cel import interpreter as cel
from kapi.defaulting.structural import apply_defaults, prune
from kapi.validation import celrules
from kapi.validation.crd import structural
from kapi.validation.structural import SchemaValidator

SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["image"],
            "x-kubernetes-validations": [
                {"rule": "self.min <= self.max", "message": "min must not exceed max"},
                {"rule": "self.image == oldSelf.image", "messageExpression":
                    "'image is immutable, was ' + oldSelf.image"},
            ],
            "properties": {
                "image": {"type": "string", "maxLength": 8},
                "min": {"type": "integer", "default": 0},
                "max": {"type": "integer", "default": 3, "maximum": 10},
                "mode": {"type": "string", "enum": ["a", "b"]},
                "tags": {"type": "array", "x-kubernetes-list-type": "set",
                         "items": {"type": "string"}},
                "ports": {"type": "array", "x-kubernetes-list-type": "map",
                          "x-kubernetes-list-map-keys": ["name"],
                          "items": {"type": "object", "properties": {
                              "name": {"type": "string"},
                              "port": {"type": "integer", "default": 80}}}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                             "properties": {"spec": {"type": "object"}}},
            },
        },
    },
}


def messages(obj):
    return [str(e) for e in SchemaValidator(SCHEMA).validate(obj)]


def test_validation_messages_and_paths_are_upstreams():
    assert messages({"spec": {"image": 1, "max": 11, "mode": "c", "tags": ["x", "x"]}}) == [
        'spec.image: Invalid value: "integer": spec.image in body must be of type string: '
        '"integer"',
        "spec.max: Invalid value: 11: spec.max in body should be less than or equal to 10",
        'spec.mode: Unsupported value: "c": supported values: "a", "b"',
        'spec.tags[1]: Duplicate value: "x"',
    ]
    assert messages({"spec": {}}) == ["spec.image: Required value"]
    assert messages({"spec": {"image": "much-too-long"}}) == [
        "spec.image: Too long: may not be more than 8 bytes"]
    assert messages({"spec": {"image": "x", "template": {"spec": {}}}}) == [
        "spec.template.apiVersion: Required value: must not be empty",
        "spec.template.kind: Required value: must not be empty"]


def test_defaults_fill_parents_first_and_pruning_keeps_what_is_declared_or_preserved():
    obj = {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "odd": 1},
           "spec": {"image": "i", "bogus": 1, "free": {"any": {"thing": 1}},
                    "ports": [{"name": "http", "junk": 2}],
                    "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1},
                                 "spec": {}, "other": 1}},
           "top": 1}
    assert sorted(prune(SCHEMA, obj)) == ["spec.bogus", "spec.ports[0].junk",
                                          "spec.template.other", "top"]
    apply_defaults(SCHEMA, obj)
    assert obj["metadata"] == {"name": "n", "odd": 1}  # ObjectMeta is not the schema's
    assert obj["spec"]["min"] == 0 and obj["spec"]["max"] == 3
    assert obj["spec"]["ports"] == [{"name": "http", "port": 80}]
    assert obj["spec"]["free"] == {"any": {"thing": 1}}
    assert obj["spec"]["template"]["metadata"] == {"x": 1}


def test_cel_rules_transition_rules_and_message_expressions():
    new = {"spec": {"image": "b", "min": 5, "max": 3}}
    # on create the transition rule (oldSelf) is skipped
    assert [str(e) for e in celrules.check(SCHEMA, new)] == [
        'spec: Invalid value: "object": min must not exceed max']
    old = {"spec": {"image": "a", "min": 0, "max": 3}}
    assert [str(e) for e in celrules.check(SCHEMA, new, old)] == [
        'spec: Invalid value: "object": min must not exceed max',
        'spec: Invalid value: "object": image is immutable, was a']
    assert celrules.check(SCHEMA, {"spec": {"image": "a", "min": 1, "max": 2}}, old) == []


def test_cel_rules_correlate_map_list_items_by_key_and_report_reason_and_field_path():
    schema = {"type": "object", "properties": {"items": {
        "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"],
        "items": {"type": "object", "x-kubernetes-validations": [
            {"rule": "self.v >= oldSelf.v", "message": "may only grow",
             "reason": "FieldValueForbidden", "fieldPath": ".v"}],
            "properties": {"k": {"type": "string"}, "v": {"type": "integer"}}}}}}
    old = {"items": [{"k": "a", "v": 5}, {"k": "b", "v": 1}]}
    new = {"items": [{"k": "b", "v": 2}, {"k": "a", "v": 4}, {"k": "c", "v": 0}]}
    assert [str(e) for e in celrules.check(schema, new, old)] == [
        "items[1].v: Forbidden: may only grow"]


def test_cel_library_errors_are_plain():
    try:
        cel.compile_expression("self.")
        raise AssertionError("compiled")
    except cel.CompileError:
        pass
    try:
        cel.compile_expression("self.nope > 1").evaluate({"self": {}})
        raise AssertionError("evaluated")
    except cel.EvalError as e:
        assert "nope" in str(e)


def test_structural_rules_of_a_definition():
    schema = {"type": "object", "properties": {
        "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        "spec": {"properties": {"x": {"type": "array"}}},
        "list": {"type": "array", "x-kubernetes-list-type": "map",
                 "items": {"type": "object"}},
        "rule": {"type": "object", "x-kubernetes-validations": [{"rule": "self.("}]}}}
    errs = [str(e) for e in structural(schema, "s", root=True)]
    assert "s.properties[metadata]: Forbidden: must not specify anything other than name " \
           "and generateName, but metadata is implicitly specified" in errs
    assert "s.properties[spec].type: Required value: must not be empty for specified object " \
           "fields" in errs
    assert "s.properties[spec].properties[x].items: Required value: must be specified" in errs
    assert "s.properties[list].x-kubernetes-list-map-keys: Required value: must not be empty " \
           "if x-kubernetes-list-type is map" in errs
    assert any(e.startswith("s.properties[rule].x-kubernetes-validations[0].rule: Invalid "
                            "value") and "compilation failed" in e for e in errs)
