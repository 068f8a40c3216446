"""YAML bodies become plain values with go-yaml's limits: aliases expanded into fresh
copies within its budget, cycles and excessive aliasing refused with its messages, and
repeated keys found in the same single pass."""

from __future__ import annotations

import pytest
import yaml

from kapi.validation import yamlload
from kapi.validation.duplicates import yaml_duplicates


def test_aliases_become_independent_copies() -> None:
    value = yamlload.load(b"a: &a {x: [1, 2]}\nb: *a\nc: [*a, *a]\n")
    assert value == {"a": {"x": [1, 2]}, "b": {"x": [1, 2]}, "c": [{"x": [1, 2]}] * 2}
    value["b"]["x"].append(3)  # defaulting and pruning mutate what they are given
    assert value["a"]["x"] == [1, 2] and value["c"][0] is not value["c"][1]


@pytest.mark.parametrize("doc, anchor", [
    (b"metadata: &a {name: x, labels: *a}", "a"),
    (b"list: &items [1, *items]", "items"),
    (b"x: &outer {inner: &in [*outer]}", "outer"),
])
def test_an_anchor_inside_its_own_value_is_refused(doc: bytes, anchor: str) -> None:
    with pytest.raises(yaml.YAMLError, match=f"yaml: anchor '{anchor}' value contains itself"):
        yamlload.load(doc)


def test_alias_budget_follows_go_yaml() -> None:
    assert yamlload.allowed_alias_ratio(1000) == 0.99
    assert yamlload.allowed_alias_ratio(4_000_000) == 0.10
    assert yamlload.allowed_alias_ratio(2_200_000) == pytest.approx(0.545)
    three = "l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 3))
    assert len(yamlload.load(three)["l2"]) == 10  # a thousand strings: accepted
    with pytest.raises(yaml.YAMLError, match="^yaml: document contains excessive aliasing$"):
        yamlload.load(three + "l3: &l3 [" + ", ".join(["*l2"] * 10) + "]\n")


def test_repeated_keys_are_found_once_per_mapping_in_document_order() -> None:
    doc = b"a: &m\n  k: 1\n  k: 2\nb: [*m, *m]\nc:\n  z: 1\n  z: 2\n"
    found: list[str] = []
    yamlload.load(doc, found)
    want = ['line 3: key "k" already set in map', 'line 7: key "z" already set in map']
    assert found == want
    assert yaml_duplicates(doc) == want


def test_the_duplicate_walk_ends_on_cycles_and_laughs() -> None:
    assert yaml_duplicates(b"metadata: &a {name: x, name: y, labels: *a}") == [
        'line 1: key "name" already set in map']
    laughs = "l0: &l0 [a, a]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 30))
    assert yaml_duplicates(laughs.encode()) == []  # 9**29 paths, 31 nodes


def test_merge_keys_give_way_to_the_mapping_own_keys() -> None:
    doc = b"base: &b {x: 1, y: 2}\nmore: &m {y: 9, w: 0}\nd:\n  y: 3\n  <<: [*b, *m]\n"
    assert yamlload.load(doc)["d"] == {"x": 1, "y": 3, "w": 0}


def test_scalars_resolve_as_yaml_1_1_and_impossible_dates_stay_strings() -> None:
    value = yamlload.load(b"a: 1\nb: 2.5\nc: true\nd: ~\ne: '1'\nf: 2001-13-45\ng: !!binary aGk=\n")
    assert value == {"a": 1, "b": 2.5, "c": True, "d": None, "e": "1", "f": "2001-13-45",
                     "g": "hi"}
