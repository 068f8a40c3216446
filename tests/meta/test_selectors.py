"""Label and field selectors against upstream's own test tables and error strings
(k8s.io/apimachinery v0.33: pkg/labels/selector_test.go, pkg/fields/selector_test.go)."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.meta.selectors import (
    FieldRequirement,
    LabelSelector,
    Requirement,
    SelectorError,
    escape_field_value,
    everything,
    field_value,
    go_quote,
    label_selector_from_dict,
    new_requirement,
    nothing,
    parse_field_selector,
    parse_label_selector,
    unescape_field_value,
)

# ---------------------------------------------------------------------------------------
# label selectors: parsing
# ---------------------------------------------------------------------------------------

VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, "
              "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
              "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
              "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")
NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
             "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
             "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")


@pytest.mark.parametrize("s", ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ",
                               "!x", "x>1", "x>1,z<5"])
def test_good_selectors_restring_without_spaces(s: str) -> None:
    assert str(parse_label_selector(s)) == s.replace(" ", "")


@pytest.mark.parametrize("s", ["x=a||y=b", "x==a==b", "!x=a", "x<a"])
def test_bad_selectors(s: str) -> None:
    with pytest.raises(SelectorError):
        parse_label_selector(s)


def test_parse_is_deterministic() -> None:
    assert str(parse_label_selector("x=a,a=x")) == str(parse_label_selector("a=x,x=a")) == "a=x,x=a"


def _req(key: str, op: str, *values: str) -> Requirement:
    return Requirement(key, op, tuple(values))


@pytest.mark.parametrize("s,expected", [
    ("\rx", [_req("x", "exists")]),
    ("this-is-a-dns.domain.com/key-with-dash",
     [_req("this-is-a-dns.domain.com/key-with-dash", "exists")]),
    ("this-is-another-dns.domain.com/key-with-dash in (so,what)",
     [_req("this-is-another-dns.domain.com/key-with-dash", "in", "so", "what")]),
    ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)",
     [_req("0.1.2.domain/99", "notin", "10.10.100.1", "tick.tack.clock")]),
    ("foo  in\t (abc)", [_req("foo", "in", "abc")]),
    ("x notin\n (abc)", [_req("x", "notin", "abc")]),
    ("x  notin\t\t\t(abc,def)", [_req("x", "notin", "abc", "def")]),
    ("x in (abc,def)", [_req("x", "in", "abc", "def")]),
    ("x in (abc,)", [_req("x", "in", "", "abc")]),
    ("x in ()", [_req("x", "in", "")]),
    ("x notin (abc,,def),bar,z in (),w", [_req("bar", "exists"), _req("w", "exists"),
                                          _req("x", "notin", "", "abc", "def"),
                                          _req("z", "in", "")]),
    ("x,y in (a)", [_req("x", "exists"), _req("y", "in", "a")]),
    ("x=a", [_req("x", "=", "a")]),
    ("x==a", [_req("x", "==", "a")]),
    ("x>1", [_req("x", "gt", "1")]),
    ("x<7", [_req("x", "lt", "7")]),
    ("x=a,y!=b", [_req("x", "=", "a"), _req("y", "!=", "b")]),
    ("x=a,y!=b,z in (h,i,j)", [_req("x", "=", "a"), _req("y", "!=", "b"),
                               _req("z", "in", "h", "i", "j")]),
    ("x notin ( )", [_req("x", "notin", "")]),
    ("x notin (, a)", [_req("x", "notin", "", "a")]),
    ("a ", [_req("a", "exists")]),
    ("a in (x,y,notin, z,in)", [_req("a", "in", "in", "notin", "x", "y", "z")]),
    ("notin=in", [_req("notin", "=", "in")]),
    ("!x", [_req("x", "!")]),
    ("x=,z= ", [_req("x", "=", ""), _req("z", "=", "")]),
])
def test_set_selector_parser(s: str, expected: list[Requirement]) -> None:
    assert list(parse_label_selector(s).requirements) == expected


@pytest.mark.parametrize("s,message", [
    ("x=a||y=b", "unable to parse requirement: values[0][x]: Invalid value: \"a||y\": "
                 + VALUE_RULE),
    ("x==a==b", "found '==', expected: ',' or 'end of string'"),
    ("!x=a", "found '=', expected: ',' or 'end of string'"),
    ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' "
            "operators, the value must be an integer"),
    ("x>-1", "unable to parse requirement: values[0][x]: Invalid value: \"-1\": " + VALUE_RULE),
    ("x,,y", "found ',', expected: identifier after ','"),
    (",x,y", "found ',', expected: !, identifier, or 'end of string'"),
    ("x nott in (y)", "unable to parse requirement: found 'nott', expected: in, notin, =, ==, "
                      "!=, gt, lt"),
    ("a in (xyz),", "found '', expected: identifier after ','"),
    ("a in (xyz)b notin ()", "found 'b', expected: ',' or 'end of string'"),
    ("a in (xyz abc)", "unable to parse requirement: found 'abc', expected: ',' or ')'"),
    ("a notin(", "unable to parse requirement: found '', expected: ',', ')' or identifier"),
    ("a (", "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt"),
    ("(", "found '(', expected: !, identifier, or 'end of string'"),
    ("x in a", "unable to parse requirement: found 'a' expected: '('"),
    ("x in (a=", "unable to parse requirement: found '=', expected: ',' or ')'"),
    ("x in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("x in (a,=)", "unable to parse requirement: found '=', expected: ',', or identifier"),
    ("x=(", "unable to parse requirement: found '(', expected: identifier"),
    ("!", "unable to parse requirement: found '', expected: identifier"),
    ("!!x", "unable to parse requirement: found '!', expected: identifier"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("x/y/z", "unable to parse requirement: <nil>: Invalid value: \"x/y/z\": a qualified name "
              + NAME_RULE + " with an optional DNS subdomain prefix and '/' (e.g. "
              "'example.com/MyName')"),
    ("Foo/bar=x", "unable to parse requirement: <nil>: Invalid value: \"Foo/bar\": prefix part "
                  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                  "characters, '-' or '.', and must start and end with an alphanumeric "
                  "character (e.g. 'example.com', regex used for validation is "
                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"),
    ("/x", "unable to parse requirement: <nil>: Invalid value: \"/x\": prefix part must be "
           "non-empty"),
    ("example.com/", "unable to parse requirement: <nil>: Invalid value: \"example.com/\": name "
                     "part must be non-empty; name part " + NAME_RULE),
    ("-x", "unable to parse requirement: <nil>: Invalid value: \"-x\": name part " + NAME_RULE),
    ("a" * 64, "unable to parse requirement: <nil>: Invalid value: \"" + "a" * 64 + "\": name "
               "part must be no more than 63 characters"),
    ("x=" + "v" * 64, "unable to parse requirement: values[0][x]: Invalid value: \"" + "v" * 64
                      + "\": must be no more than 63 characters"),
    ("x=a\"b", "unable to parse requirement: values[0][x]: Invalid value: \"a\\\"b\": "
               + VALUE_RULE),
])
def test_parse_errors(s: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_label_selector(s)
    assert e.value.message == message
    assert str(e.value) == message


# ---------------------------------------------------------------------------------------
# label selectors: requirements and matching
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("key,op,values,message", [
    ("x1", "in", [], "values: Invalid value: []string{}: for 'in', 'notin' operators, values set "
                     "can't be empty"),
    ("x2", "notin", None, "values: Invalid value: []string(nil): for 'in', 'notin' operators, "
                          "values set can't be empty"),
    ("x5", "=", ["bar", "foo"], "values: Invalid value: []string{\"bar\", \"foo\"}: exact-match "
                                "compatibility requires one single value"),
    ("x8", "exists", ["foo"], "values: Invalid value: []string{\"foo\"}: values set must be empty "
                              "for exists and does not exist"),
    ("x13", "gt", [], "values: Invalid value: []string{}: for 'Gt', 'Lt' operators, exactly one "
                      "value is required"),
    ("x14", "gt", ["bar"], "values[0]: Invalid value: \"bar\": for 'Gt', 'Lt' operators, the "
                           "value must be an integer"),
    ("a" * 254, "exists", [], "key: Invalid value: \"" + "a" * 254 + "\": name part must be no "
                              "more than 63 characters"),
    ("x16", "=", ["a" * 254], "values[0][x16]: Invalid value: \"" + "a" * 254 + "\": must be no "
                              "more than 63 characters"),
    ("x17", "=", ["a b"], "values[0][x17]: Invalid value: \"a b\": " + VALUE_RULE),
    ("x y", "=", ["a b"], "[key: Invalid value: \"x y\": name part " + NAME_RULE
                          + ", values[0][x y]: Invalid value: \"a b\": " + VALUE_RULE + "]"),
])
def test_requirement_constructor_errors(key: str, op: str, values: list[str] | None,
                                        message: str) -> None:
    with pytest.raises(SelectorError) as e:
        new_requirement(key, op, values)
    assert e.value.message == message


@pytest.mark.parametrize("key,op,values", [
    ("x3", "in", ["foo"]), ("x4", "notin", ["foo"]), ("x6", "exists", []), ("x7", "!", []),
    ("1foo", "in", ["bar"]), ("1234", "in", ["bar"]), ("x11", "gt", ["1"]), ("x12", "lt", ["6"]),
])
def test_requirement_constructor_ok(key: str, op: str, values: list[str]) -> None:
    assert new_requirement(key, op, values) == Requirement(key, op, tuple(values))


@pytest.mark.parametrize("selector,labels", [
    ("", {"x": "y"}), ("x=y", {"x": "y"}), ("x=y,z=w", {"x": "y", "z": "w"}),
    ("x!=y,z!=w", {"x": "z", "z": "a"}), ("notin=in", {"notin": "in"}), ("x", {"x": "z"}),
    ("!x", {"y": "z"}), ("x>1", {"x": "2"}), ("x<1", {"x": "0"}), ("foo=bar", {"foo": "bar"}),
    ("x notin (a)", {}), ("x!=a", {}), ("x in (a,b)", {"x": "b"}), ("x=", {"x": ""}),
    ("x<100", {"x": "+7"}),
])
def test_selector_matches(selector: str, labels: dict[str, str]) -> None:
    assert parse_label_selector(selector).matches(labels)


@pytest.mark.parametrize("selector,labels", [
    ("x=z", {}), ("x=y", {"x": "z"}), ("x=y,z=w", {"x": "w", "z": "w"}),
    ("x!=y,z!=w", {"x": "z", "z": "w"}), ("x", {"y": "z"}), ("!x", {"x": "z"}),
    ("x>1", {"x": "0"}), ("x<1", {"x": "2"}), ("x>1", {"x": "v2"}), ("x>1", {}),
    ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}), ("x in ()", {"y": "baz"}),
    ("x", None), ("x<9", {"x": "99999999999999999999"}),
])
def test_selector_does_not_match(selector: str, labels: dict[str, str] | None) -> None:
    assert not parse_label_selector(selector).matches(labels)


def test_requirement_strings_sort_values() -> None:
    s = LabelSelector((_req("x", "in", "def", "abc"), _req("y", "notin", "jkl"),
                       _req("z", "exists")))
    assert str(s) == "x in (abc,def),y notin (jkl),z"
    s = LabelSelector((_req("x", "notin", "abc", "def"), _req("y", "!=", "jkl"), _req("z", "!")))
    assert str(s) == "x notin (abc,def),y!=jkl,!z"
    s = LabelSelector((_req("x", "=", "abc"), _req("y", "==", "jkl"), _req("z", "!=", "a"),
                       _req("z", "exists")))
    assert str(s) == "x=abc,y==jkl,z!=a,z"
    assert str(LabelSelector((_req("x", "gt", "2"), _req("y", "lt", "8")))) == "x>2,y<8"


def test_requires_exact_match() -> None:
    s = parse_label_selector("app=web,tier in (fe),env in (a,b),x!=y")
    assert s.requires_exact_match("app") == "web"
    assert s.requires_exact_match("tier") == "fe"
    assert s.requires_exact_match("env") is None
    assert s.requires_exact_match("x") is None
    assert s.requires_exact_match("missing") is None


def test_everything_and_nothing() -> None:
    assert everything().matches({"x": "y"}) and everything().empty()
    assert parse_label_selector("").empty()
    assert not nothing().matches({}) and not nothing().empty()
    assert str(nothing()) == ""


# ---------------------------------------------------------------------------------------
# metav1.LabelSelector objects
# ---------------------------------------------------------------------------------------

def test_label_selector_from_dict() -> None:
    s = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]},
                             {"key": "env", "operator": "NotIn", "values": ["prod"]},
                             {"key": "canary", "operator": "DoesNotExist"},
                             {"key": "team", "operator": "Exists"}]})
    assert str(s) == "app=web,!canary,env notin (prod),team,tier in (a,b)"
    assert s.matches({"app": "web", "tier": "a", "team": "x"})
    assert not s.matches({"app": "web", "tier": "a", "team": "x", "canary": "1"})
    assert not s.matches({"app": "web", "tier": "c", "team": "x"})


def test_label_selector_from_dict_nil_and_empty() -> None:
    assert not label_selector_from_dict(None).matches({})
    assert label_selector_from_dict({}).matches({"any": "thing"})
    assert label_selector_from_dict({"matchLabels": {}, "matchExpressions": []}).empty()


@pytest.mark.parametrize("d,message", [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]},
     "\"Equals\" is not a valid label selector operator"),
    ({"matchExpressions": [{"key": "a", "operator": "In"}]},
     "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be "
     "empty"),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be "
     "empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
     "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not "
     "exist"),
    ({"matchLabels": {"bad key": "v"}},
     "key: Invalid value: \"bad key\": name part " + NAME_RULE),
    ({"matchLabels": {"k": "bad value"}},
     "values[0][k]: Invalid value: \"bad value\": " + VALUE_RULE),
])
def test_label_selector_from_dict_errors(d: dict[str, Any], message: str) -> None:
    with pytest.raises(SelectorError) as e:
        label_selector_from_dict(d)
    assert e.value.message == message


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\x01é') == '"a\\"b\\\\c\\n\\x01é"'


# ---------------------------------------------------------------------------------------
# field selectors
# ---------------------------------------------------------------------------------------

FIELDS = ("x", "y", "z", "a", "k", "spec.nodeName", "status.phase")


@pytest.mark.parametrize("s", ["x=a,y=b,z=c", "", "x!=a,y=b", r"x=a||y\=b", r"x=a\=\=b"])
def test_field_selector_restring(s: str) -> None:
    assert str(parse_field_selector(s, FIELDS)) == s


def test_field_selector_is_deterministic() -> None:
    assert str(parse_field_selector("x=a,a=x", FIELDS)) == "a=x,x=a"


@pytest.mark.parametrize("s,message", [
    ("x=a||y=b", "invalid field selector: unescaped character in value: 61"),
    ("x==a==b", "invalid field selector: unescaped character in value: 61"),
    ("x=a,b", "invalid selector: 'x=a,b'; can't understand 'b'"),
    ("x in (a)", "invalid selector: 'x in (a)'; can't understand 'x in (a)'"),
    ("x in (a,b,c)", "invalid selector: 'x in (a,b,c)'; can't understand 'b'"),
    ("x", "invalid selector: 'x'; can't understand 'x'"),
    (r"k=\a", r"invalid field selector: invalid escape sequence: \a"),
    ("k=\\", "invalid field selector: invalid escape sequence: \\"),
    (r"k=\\\ ", r"invalid field selector: invalid escape sequence: \ "),
    ("spec.foo=bar", "field label not supported: spec.foo"),
    ("x=1,b.c=2,a.b=3", "field label not supported: a.b"),
])
def test_field_selector_errors(s: str, message: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse_field_selector(s, FIELDS)
    assert e.value.message == message


def test_field_selector_without_extra_fields_uses_the_scheme_default_message() -> None:
    with pytest.raises(SelectorError) as e:
        parse_field_selector("spec.foo=bar", ())
    assert e.value.message == ('"spec.foo" is not a known field selector: only '
                               '"metadata.name", "metadata.namespace"')
    assert parse_field_selector("metadata.name=a,metadata.namespace!=b", ())


def test_field_selector_requirements() -> None:
    s = parse_field_selector(r"status.phase!=Failed,metadata.name==web\,1,spec.nodeName=n1",
                             ("spec.nodeName", "status.phase"))
    assert s.requirements == (FieldRequirement("metadata.name", "=", "web,1"),
                              FieldRequirement("spec.nodeName", "=", "n1"),
                              FieldRequirement("status.phase", "!=", "Failed"))
    assert s.requires_exact_match("metadata.name") == "web,1"
    assert s.requires_exact_match("status.phase") is None
    assert s.requires_exact_match("metadata.namespace") is None
    assert parse_field_selector(",,", FIELDS).empty()


@pytest.mark.parametrize("raw,escaped", [("", ""), ("a", "a"), ("=", r"\="), (",", r"\,"),
                                         ("\\", "\\\\"), ("\\=\\,\\", r"\\\=\\\,\\")])
def test_escape_round_trip(raw: str, escaped: str) -> None:
    assert escape_field_value(raw) == escaped
    assert unescape_field_value(escaped) == raw


POD = {
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "n1", "restartPolicy": "Always"},
    "status": {"phase": "Running", "podIPs": [{"ip": "10.0.0.5"}]},
}


@pytest.mark.parametrize("selector,matches", [
    ("metadata.name=web-1", True), ("metadata.name!=web-1", False),
    ("metadata.namespace=default,spec.nodeName=n1", True),
    ("spec.nodeName=", False), ("spec.schedulerName=", True),  # missing reads as ""
    ("spec.schedulerName!=", False),
    ("spec.hostNetwork=false", True), ("spec.hostNetwork=true", False),
    ("status.podIP=10.0.0.5", True), ("status.phase!=Running", False),
])
def test_field_selector_matches_pod(selector: str, matches: bool) -> None:
    fields = ("spec.nodeName", "spec.schedulerName", "spec.hostNetwork", "status.podIP",
              "status.phase")
    assert parse_field_selector(selector, fields).matches(POD) is matches


def test_field_values() -> None:
    node = {"metadata": {"name": "n1"}, "spec": {"unschedulable": True}}
    assert field_value(node, "spec.unschedulable") == "true"
    assert field_value({"spec": {}}, "spec.unschedulable") == "false"
    assert field_value(node, "metadata.namespace") == ""
    event = {"source": {"component": "kubelet", "host": "n1"}, "count": 3}
    assert field_value(event, "source") == "kubelet"
    assert field_value(event, "count") == "3"
    assert field_value({"spec": {"template": {"a": 1}}}, "spec.template") == ""
