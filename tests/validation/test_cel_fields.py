"""CRD rules see only the fields they read (kapi.cel.interpreter passes a variable
narrowed to the fields an expression selects): the same answers and errors as over the
whole object, and no narrowing where the expression uses the variable otherwise."""

from __future__ import annotations

import pytest

from kapi.cel import interpreter as cel

SPEC = {"replicas": 3, "maxReplicas": 10, "name": "self", "tags": ["a", "b"],
        **{f"label{i}": f"value-{i}" for i in range(16)}}


@pytest.mark.parametrize(("source", "fields"), [
    ("self.replicas <= self.maxReplicas", {"replicas", "maxReplicas"}),
    ("has(self.x) && self.tags.size() > 1", {"x", "tags"}),
    ("self.name == 'self' && self . replicas > 0", {"name", "replicas"}),
    ("size(self) > 1", None),
    ("self.all(k, k != '')", None),
    ("self['replicas'] > 0", None),
    ("self.size() > 0", None),
    ("self.foo__dash__bar == 1", None),
    ('"""self""" == self.name', None),
])
def test_fields_read(source: str, fields: set[str] | None) -> None:
    got = cel.fields_read(source, "self")
    assert (None if got is None else set(got)) == fields


@pytest.mark.parametrize("source", [
    "self.replicas <= self.maxReplicas", "has(self.x)", "has(self.tags)",
    "self.tags.size() == 2", "size(self) == 20", "'replicas' in self",
    "self.all(k, k != '')", "self.name + '!'",
])
def test_narrowed_answers_are_the_whole_objects(source: str) -> None:
    program = cel.compile_expression(source)
    assert program.evaluate({"self": SPEC}) == program.evaluate({"self": dict(SPEC)})
    whole = cel.Program.__new__(cel.Program)
    whole.__dict__.update(program.__dict__, fields={})
    assert program.evaluate({"self": SPEC}) == whole.evaluate({"self": SPEC})


def test_a_missing_field_fails_alike() -> None:
    program = cel.compile_expression("self.missing > 1")
    with pytest.raises(cel.EvalError) as narrowed:
        program.evaluate({"self": SPEC})
    whole = cel.Program.__new__(cel.Program)
    whole.__dict__.update(program.__dict__, fields={})
    with pytest.raises(cel.EvalError) as full:
        whole.evaluate({"self": SPEC})
    assert str(narrowed.value) == str(full.value)


@pytest.mark.parametrize(("source", "want"), [
    ("object.name.lowerAscii() + 'x'.upperAscii()", "abcX"),
    ("'a,b,c'.split(',').join('-')", "a-b-c"),
    ("'a,b,c'.split(',', 2)", ["a", "b,c"]),
    ("[3, 1, 2].max() + [3, 1, 2].min() + [1, 2].sum()", 7),
    ("'hello'.substring(1, 3) + ' x '.trim()", "elx"),
    ("[1, 2, 3].isSorted() && ![2, 1].isSorted()", True),
    ("'abcabc'.lastIndexOf('b') + 'abc'.indexOf('c') + [5, 6].indexOf(6)", 7),
    ("'aaa'.replace('a', 'b', 2)", "bba"),
])
def test_kubernetes_extension_functions(source: str, want: object) -> None:
    """Policies and CRD rules share one engine with upstream's extension functions."""
    from kapi import cel as facade

    assert facade.compile(source).evaluate({"object": {"name": "ABC"}}) == want
