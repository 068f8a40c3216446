"""Label selectors and node selector terms, evaluated as upstream does.

metav1.LabelSelector (matchLabels + matchExpressions In/NotIn/Exists/DoesNotExist):
a None selector selects nothing, an empty one ({}) everything; NotIn also matches when
the key is absent. v1.NodeSelectorTerm (matchExpressions, which add Gt/Lt, and
matchFields on metadata.name): an empty term matches nothing; a NodeSelector ORs its
terms. `to_query` renders a label selector in the grammar of list calls.

Pure functions over dicts; must never do I/O, and never import kapi (runtime/ is an
API client: the server's own selector code is out of bounds).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

Selector = Mapping[str, Any]
Labels = Mapping[str, str]
LabelMatcher = Callable[[Labels], bool]


def requirement_matches(expr: Mapping[str, Any], value: str | None) -> bool:
    """One selector requirement against a value (None: the key is absent)."""
    op, values = expr.get("operator", ""), expr.get("values") or []
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False  # an unknown operator selects nothing (upstream rejects it)


def label_selector(selector: Selector | None) -> LabelMatcher:
    """A matcher for a metav1.LabelSelector, built once and applied to many label sets."""
    if selector is None:
        return lambda labels: False
    match_labels = dict(selector.get("matchLabels") or {})
    exprs = list(selector.get("matchExpressions") or [])

    def match(labels: Labels) -> bool:
        for k, v in match_labels.items():
            if labels.get(k) != v:
                return False
        return all(requirement_matches(e, labels.get(e.get("key", ""))) for e in exprs)
    return match


def matches(selector: Selector | None, labels: Labels | None) -> bool:
    """Whether `labels` satisfy `selector`."""
    return label_selector(selector)(labels or {})


def is_empty(selector: Selector | None) -> bool:
    """True for {} (which selects everything); False for None (which selects nothing)."""
    return selector is not None and not selector.get("matchLabels") and not selector.get(
        "matchExpressions")


def to_query(selector: Selector | None) -> str:
    """The selector as a labelSelector query string (`a=b,c in (d,e),!f`)."""
    if selector is None:
        return ""
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for e in selector.get("matchExpressions") or []:
        key, op = e.get("key", ""), e.get("operator", "")
        values = ",".join(sorted(e.get("values") or []))
        parts.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})",
                      "Exists": key, "DoesNotExist": f"!{key}"}.get(op, ""))
    return ",".join(p for p in parts if p)


def node_selector_term(term: Mapping[str, Any], node_name: str | None, labels: Labels) -> bool:
    """A NodeSelectorTerm: every expression and field matches; an empty term matches none."""
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    if not all(requirement_matches(e, labels.get(e.get("key", ""))) for e in exprs):
        return False
    return all(requirement_matches(f, node_name if f.get("key") == "metadata.name" else None)
               for f in fields)


def node_selector(terms: list[Any], node_name: str | None, labels: Labels) -> bool:
    """v1.NodeSelector: the terms are ORed."""
    return any(node_selector_term(t, node_name, labels) for t in terms)
