"""YAML request bodies to plain JSON-like values, with the work bounded by the input.

A YAML document is a graph, not a tree: an alias (`*a`) points back at an anchored node,
so a few hundred bytes can stand for billions of nodes (billion laughs) or for a cycle
(`metadata: &a {labels: *a}`). The composer gives that graph with each anchored node
shared; this module builds fresh dicts and lists from it the way go-yaml's decoder
does, and stops where go-yaml stops:

- more than 100 alias-expanded nodes that make up more than allowed_alias_ratio() of all
  nodes decoded: `yaml: document contains excessive aliasing`;
- an alias inside the value of its own anchor: `yaml: anchor 'a' value contains itself`;
- nesting deeper than MAX_DEPTH: `yaml: exceeded max depth of 10000` (libyaml refuses
  1,000 levels of syntax already; aliases can nest further).

It also finds repeated keys while it walks (kapi.validation.duplicates words them), so a
body is composed once. Owns no HTTP: errors are yaml.YAMLError with upstream's text.
Must never recurse per node (depth is attacker-chosen) or hand out shared subtrees
(later steps mutate the value: defaulting, pruning).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from kapi.validation.duplicates import mapping_duplicates
from kapi.validation.yamljson import SET_TAG, JSONConstructor, YAMLValueError, json_key

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml missing
    _Loader = yaml.SafeLoader

MAX_DEPTH = 10_000
# go-yaml's alias budget: up to 400,000 decoded nodes, 99% may come from aliases; from
# 4,000,000 on only 10%; in between the share falls linearly.
_RATIO_LOW, _RATIO_HIGH = 400_000, 4_000_000
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"
_ANCHOR = re.compile(r"&([^\s,\[\]{}]+)")


class YAMLLimitError(yaml.YAMLError):
    """A document go-yaml would refuse to decode; str() is upstream's message."""


def allowed_alias_ratio(decodes: int) -> float:
    if decodes <= _RATIO_LOW:
        return 0.99
    if decodes >= _RATIO_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decodes - _RATIO_LOW) / (_RATIO_HIGH - _RATIO_LOW)


def compose(raw: bytes | str) -> yaml.Node | None:
    """The node graph of a single-document body (aliases are shared nodes)."""
    return yaml.compose(raw, Loader=_Loader)


def load(raw: bytes | str, duplicates: list[str] | None = None) -> Any:
    """The value of a YAML body; repeated keys are appended to `duplicates` when given
    (`line N: key "k" already set in map`, in document order, once per mapping)."""
    root = compose(raw)
    if root is None:
        return None
    return _Builder(raw, duplicates).build(root)


_EXIT = object()  # a marker on the work stack: the node below it is fully built


class _Builder:
    """Builds a value from a node graph with an explicit stack (no recursion per node)."""

    def __init__(self, raw: bytes | str, duplicates: list[str] | None) -> None:
        self.raw = raw
        self.duplicates = duplicates
        self.scalars = JSONConstructor()  # scalars as upstream's YAML-to-JSON makes them
        self.decodes = 0
        self.aliased = 0  # decodes made while expanding an alias
        self.alias_depth = 0
        self.seen: set[int] = set()  # nodes built at least once (later visits are aliases)
        self.open: set[int] = set()  # nodes being built (on the current path)
        self.depth = 0

    def build(self, root: yaml.Node) -> Any:
        out: list[Any] = [None]
        todo: list[Any] = [(root, out, 0)]  # (node, container, key): build node there
        while todo:
            node, where, key = todo.pop()
            if node is _EXIT:
                self.open.discard(id(where))
                self.depth -= 1
                self.alias_depth -= key
                continue
            self.count(node)
            if node.__class__ is yaml.ScalarNode:
                where[key] = node.value if node.tag == _STR else self.scalar(node)
            else:
                where[key] = self.collection(node, todo)
        return out[0]

    def collection(self, node: yaml.SequenceNode | yaml.MappingNode, todo: list[Any]) -> Any:
        key = id(node)
        if key in self.open:
            raise YAMLLimitError(f"yaml: anchor '{self.anchor_of(node)}' value contains itself")
        aliased = 1 if key in self.seen else 0
        if aliased:
            self.alias_depth += 1
        self.seen.add(key)
        self.open.add(key)
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise YAMLLimitError(f"yaml: exceeded max depth of {MAX_DEPTH}")
        todo.append((_EXIT, node, aliased))
        if node.tag == SET_TAG:
            raise YAMLValueError("a YAML !!set has no JSON form")
        if isinstance(node, yaml.SequenceNode):
            items: list[Any] = [None] * len(node.value)
            todo.extend((child, items, i) for i, child in reversed(list(enumerate(node.value))))
            return items
        return self.mapping(node, aliased, todo)

    def count(self, node: yaml.Node) -> None:
        """go-yaml's per-node bookkeeping: refuse documents mostly made of alias copies."""
        self.decodes += 1
        if self.alias_depth > 0:
            self.aliased += 1
        if (self.aliased > 100 and self.decodes > 1000
                and self.aliased / self.decodes > allowed_alias_ratio(self.decodes)):
            raise YAMLLimitError("yaml: document contains excessive aliasing")

    def mapping(self, node: yaml.MappingNode, aliased: int, todo: list[Any]) -> dict[Any, Any]:
        if not aliased and self.duplicates is not None:
            self.duplicates.extend(mapping_duplicates(node))
        out: dict[Any, Any] = {}
        pairs = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.merge(out, value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                raise YAMLLimitError(f"yaml: invalid map key at line {key_node.start_mark.line + 1}")
            self.count(key_node)
            pairs.append((json_key(self.scalar(key_node), key_node), value_node))
        for k, _ in pairs:
            out[k] = None  # keys in document order; values are filled in below
        todo.extend((v, out, k) for k, v in reversed(pairs))
        return out

    def merge(self, out: dict[Any, Any], source: yaml.Node) -> None:
        """`<<: *base` (or a list of them): keys the mapping does not set itself come from
        the sources, the earlier source winning. Sources are built through the same
        limits; merges nest rarely, so this one step may recurse."""
        sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
        for src in reversed(sources):
            if not isinstance(src, yaml.MappingNode):
                raise YAMLLimitError("yaml: map merge requires map or sequence of maps as the value")
            value = self.build(src)
            out.update(value)

    def scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag == _STR:
            return node.value
        try:
            value = self.scalars.construct_object(node)
        except YAMLValueError:
            raise
        except (ValueError, OverflowError):  # `2001-13-45` looks like a date, is none:
            return node.value  # go-yaml keeps such a scalar as the string it is
        finally:
            self.scalars.constructed_objects.clear()
        return value

    def anchor_of(self, node: yaml.Node) -> str:
        """The anchor's name, read at the node's start (nodes do not keep it)."""
        raw = self.raw.decode("utf-8", "replace") if isinstance(self.raw, bytes) else self.raw
        m = _ANCHOR.match(raw, node.start_mark.index) if node.start_mark.index < len(raw) else None
        return m.group(1) if m else "?"
